// The seams between closing a mesh and the things that change it: a config applied or
// reloaded after close, explain after close, and close called twice while a watched
// config file changes. A closed mesh must start nothing again (no health checks of its
// backends, no breaker or outlier timers, no new discovery watches), and say so.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, holdSource, MeshClosedError, staticEndpoints, type Mesh } from 'proxyless';
import { startHeldServer, type HeldServer } from '../helpers/held-server.js';
import { MESH_TIMERS, trackTimers, type TimerTracker } from '../helpers/timer-leaks.js';
import { nextEvent } from '../helpers/wait.js';
import { ManualSource } from '../helpers/manual-source.js';
import { request } from 'undici';

const servers: HeldServer[] = [];
let tracker: TimerTracker | undefined;
afterEach(async () => {
  tracker?.restore();
  tracker = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function held(): Promise<HeldServer> {
  const s = await startHeldServer();
  servers.push(s);
  return s;
}

/** A DestinationRule for `api` with active health checks every `interval`, a breaker and outlier detection. */
const checked = (interval: string, path = '/healthz'): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: api
  annotations:
    proxyless.dev/health-check: '{"interval": "${interval}", "jitter": 0, "path": "${path}"}'
    proxyless.dev/circuit-breaker: '{"volumeThreshold": 5}'
spec: { host: api, trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3, interval: 1s } } }
`;

/** Resolves once `server` has received a request for `path` (at once if it already has). */
function whenRequested(server: HeldServer, path: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (n: number): void => {
      void server.arrival(n).then((a) => (a.url === path ? resolve() : check(n + 1)));
    };
    check(0);
  });
}

describe('a closed mesh starts nothing again', () => {
  it('applyConfig after close throws MeshClosedError and starts no health check, breaker or outlier timer', async () => {
    const s = await held();
    const m = createMesh({ discovery: [staticEndpoints({ api: [s.address] })], config: [checked('20ms')] });
    await (await m.fetch('http://api/x')).text();
    await whenRequested(s, '/healthz');
    tracker = trackTimers();
    await m.close();
    expect(() => m.applyConfig([checked('5ms', '/after-close')])).toThrow(MeshClosedError);
    expect(() => m.applyConfig([checked('5ms', '/after-close')])).toThrow('applyConfig');
    // Before the fix the closed service remade its checker: /after-close every 5 ms, for ever.
    expect(tracker.live(MESH_TIMERS)).toEqual([]);
    // A request to the same server after the checker's interval would have come: none did.
    const arrivals = s.arrivals.length;
    await fetch(`http://${s.address}/probe`).then((r) => r.text());
    expect(s.arrivals.slice(arrivals).map((a) => a.url)).toEqual(['/probe']);
  });

  it('explain after close rejects with MeshClosedError and opens no watch on a source another mesh still holds', async () => {
    const source = staticEndpoints({ api: ['127.0.0.1:1'], other: ['127.0.0.1:2'] });
    const release = holdSource(source);
    const watches: string[] = [];
    const watch = source.watch.bind(source);
    source.watch = (query, listener) => {
      watches.push(query.fqdn);
      return watch(query, listener);
    };
    const m = createMesh({ discovery: [source] });
    await m.close();
    await expect(m.explain('http://other/')).rejects.toBeInstanceOf(MeshClosedError);
    // Before the fix: a new service of the closed mesh watched "other" and was never closed.
    expect(watches).toEqual([]);
    await release();
  });
});

describe('close while a watched config file changes', () => {
  it('two concurrent close() calls during a reload both resolve, and the reload starts nothing after close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'proxyless-lifecycle-'));
    try {
      const s = await held();
      const file = join(dir, 'mesh.yaml');
      await writeFile(file, checked('1h'));
      const m: Mesh = createMesh({ discovery: [staticEndpoints({ api: [s.address] })], config: file });
      await (await m.fetch('http://api/x')).text();
      tracker = trackTimers();
      // An edit lands (by rename, as editors write) and is applied: the reload machinery is live.
      await writeFile(join(dir, 'next.tmp'), checked('1h', '/second'));
      await rename(join(dir, 'next.tmp'), file);
      await nextEvent(m, 'configApplied');
      // Another edit, and the mesh closes twice while its reads are under way.
      await writeFile(join(dir, 'next.tmp'), checked('5ms', '/after-close'));
      await rename(join(dir, 'next.tmp'), file);
      const [a, b] = [m.close(), m.close()];
      expect(a).toBe(b);
      await Promise.all([a, b]);
      expect(tracker.live(MESH_TIMERS)).toEqual([]);
      const arrivals = s.arrivals.length;
      await fetch(`http://${s.address}/probe`).then((r) => r.text());
      expect(s.arrivals.slice(arrivals).map((x) => x.url)).toEqual(['/probe']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('destroy and close together', () => {
  // undici's shutdown idiom, and what a program does when close() takes too long:
  // close(), then destroy(); or a library that destroys the global dispatcher.
  it.each([
    ['destroy() then close()', async (m: Mesh) => {
      await m.dispatcher.destroy();
      await m.close();
    }],
    ['close() and destroy() during the grace period', async (m: Mesh) => {
      const closing = m.close();
      await m.dispatcher.destroy();
      await closing;
    }],
    ['destroy() twice', async (m: Mesh) => {
      await Promise.all([m.dispatcher.destroy(), m.dispatcher.destroy()]);
    }],
  ])('%s releases a shared source once: the other mesh keeps it', async (_name, end) => {
    const s = await held();
    const source = staticEndpoints({ api: [s.address] });
    const a = createMesh({ discovery: [source] });
    const b = createMesh({ discovery: [source] });
    try {
      await (await a.fetch('http://api/a')).text();
      await end(a);
      // Before the fix the second shutdown released b's hold too, and closed the source under b.
      expect(b.sources().find((x) => x.name === 'static')?.ready).toBe(true);
      const fresh = await b.fetch('http://api/b').then((r) => r.text());
      expect(fresh).toBe('ok');
      await expect(b.explain('http://unseen/')).resolves.toMatchObject({ service: 'unseen.default.svc.cluster.local' });
    } finally {
      await b.close();
    }
  });
});

describe('a source whose close() throws', () => {
  it('the mesh closes everything else first, then close() rejects with that error', async () => {
    const s = await held();
    const throwing = staticEndpoints({ api: [s.address] });
    throwing.close = () => Promise.reject(new Error('close exploded'));
    let releaseSlow!: () => void;
    let slowClosed = false;
    const slow = staticEndpoints({ other: [s.address] });
    slow.close = () =>
      new Promise<void>((resolve) => {
        releaseSlow = () => {
          slowClosed = true;
          resolve();
        };
      });
    const m = createMesh({ discovery: [throwing, slow] });
    await (await m.fetch('http://api/x')).text();
    let settled = false;
    const closing = m.close().finally(() => void (settled = true));
    // The throwing source has rejected by now; close() must still wait for the slow one.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    releaseSlow();
    await expect(closing).rejects.toThrow('close exploded');
    expect(slowClosed).toBe(true);
  });
});

describe('a service evicted while something waits on it', () => {
  it('explain() waiting for discovery on a service that gets evicted ends then, not at discoveryTimeout', async () => {
    const source = new ManualSource();
    const m = createMesh({ discovery: [source], maxServices: 1, discoveryTimeout: 20_000 });
    try {
      const explained = m.explain('http://quiet/');
      // A request to another host fills the table: the idle service explain made is evicted.
      const evicted = nextEvent(m, 'servicesEvicted');
      const other = request('http://other/', { dispatcher: m.dispatcher }).catch((error: unknown) => error);
      await evicted;
      // Before the fix: explain waited the whole discoveryTimeout (20 s) on a closed service.
      const outcome = await settledAfterTicks(explained);
      expect(outcome).toMatchObject({ settled: true });
      source.send('other.default.svc.cluster.local', { type: 'missing' });
      await other;
    } finally {
      await m.close();
    }
  });
});

/** Whether `promise` settles within a few turns of the event loop (no timer involved). */
async function settledAfterTicks<T>(promise: Promise<T>): Promise<{ settled: boolean }> {
  let settled = false;
  promise.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  for (let i = 0; i < 5 && !settled; i++) await new Promise((resolve) => setImmediate(resolve));
  return { settled };
}
