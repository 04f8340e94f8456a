// Cancellation at every stage of the request path, against real servers that count what
// they receive. For each stage: the caller gets its abort at once (in the same turn of
// the event loop, see settledNow), the mesh's in-flight count returns to 0, and nothing
// reaches a server after the cancellation. "After" is checked by events, not sleeps: a
// follow-up request that would be sent after any stale one (same timer length, or the
// same single connection) completes before the counts are read.
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, ForwardingHandler, layer, staticEndpoints, type Mesh, type MeshOptions } from 'proxyless';
import { bodyReceived, startHeldServer, settledNow, type HeldServer } from '../helpers/held-server.js';
import { ManualSource } from '../helpers/manual-source.js';

const FQDN = 'api.default.svc.cluster.local';
const servers: HeldServer[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function held(options: Parameters<typeof startHeldServer>[0] = {}): Promise<HeldServer> {
  const s = await startHeldServer(options);
  servers.push(s);
  return s;
}

/** A mesh whose service `api` is `endpoints` (one connection per endpoint unless `extra` says otherwise). */
function meshOf(endpoints: readonly string[] | ManualSource, config: string[] = [], extra: MeshOptions = {}): Mesh {
  const source = Array.isArray(endpoints) ? staticEndpoints({ api: [...endpoints] }) : (endpoints as ManualSource);
  const m = createMesh({ discovery: [source], config, endpointPool: { connections: 1 }, closeGracePeriod: 2000, ...extra });
  meshes.push(m);
  return m;
}

function setEndpoints(source: ManualSource, endpoints: readonly string[]): void {
  source.send(FQDN, {
    type: 'reset',
    endpoints: endpoints.map((a) => ({ address: a.split(':')[0]!, port: Number(a.split(':')[1]), weight: 1, labels: {} })),
  });
}

const vs = (http: string, annotations = ''): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
${annotations}spec:
  hosts: [api]
  http:
${http}`;

const roundRobin = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec: { host: api, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }`;

const send = (m: Mesh, path: string, init: Parameters<typeof request>[1] = {}) =>
  request(`http://api${path}`, { ...init, dispatcher: m.dispatcher }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));

/** Aborts `controller` and checks the caller heard it at once with that reason, and nothing is in flight. */
async function abortAndExpectPrompt(m: Mesh, controller: AbortController, pending: Promise<unknown>, inFlightAfter = 0): Promise<void> {
  const reason = new Error('the caller gave up');
  controller.abort(reason);
  const outcome = await settledNow(pending);
  expect(outcome).toEqual({ settled: true, error: reason });
  expect(m.dispatcher.inFlight).toBe(inFlightAfter);
}

describe('cancellation at every stage (hostile)', { timeout: 15_000 }, () => {
  it('before start: an already-aborted signal sends nothing', async () => {
    const s = await held();
    const m = meshOf([s.address]);
    const controller = new AbortController();
    const reason = new Error('aborted before the call');
    controller.abort(reason);
    await expect(send(m, '/x', { signal: controller.signal })).rejects.toBe(reason);
    expect(m.dispatcher.inFlight).toBe(0);
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/after']);
  });

  it('queued in the endpoint pool: answered at once, and never sent when the pool frees', async () => {
    const s = await held({ hold: (a) => a.url === '/blocker' });
    const m = meshOf([s.address]);
    const blocker = send(m, '/blocker');
    const first = await s.arrival(0); // the only connection is busy
    const controller = new AbortController();
    const queued = send(m, '/queued', { method: 'PUT', body: 'x', signal: controller.signal });
    await abortAndExpectPrompt(m, controller, queued, 1);
    first.res.end('done');
    expect(await blocker).toEqual({ status: 200, body: 'done' });
    // The same connection serves the pool's queue in order: a stale /queued would come first.
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/blocker', '/after']);
    expect(m.dispatcher.inFlight).toBe(0);
  });

  it('during a fault delay: the delay ends at once and the request is never sent', async () => {
    const s = await held();
    const m = meshOf([s.address], [vs('  - fault: { delay: { fixedDelay: 300ms, percentage: { value: 100 } } }\n    route: [{ destination: { host: api } }]\n')]);
    const controller = new AbortController();
    const delayed = send(m, '/x', { signal: controller.signal });
    await abortAndExpectPrompt(m, controller, delayed);
    // The same delay again: a stale /x timer would fire, and be sent, before this one.
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/after']);
  });

  it('during the discovery wait: answered at once, and not sent when discovery answers', async () => {
    const s = await held();
    const source = new ManualSource();
    const m = meshOf(source, [], { discoveryTimeout: 10_000 });
    const controller = new AbortController();
    const waiting = send(m, '/x', { signal: controller.signal });
    await abortAndExpectPrompt(m, controller, waiting);
    setEndpoints(source, [s.address]); // a stale request would be sent now, before the next one
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/after']);
  });

  it('during the discovery wait, with fetch: the mesh stops waiting and never sends it', async () => {
    const s = await held();
    const source = new ManualSource();
    const m = meshOf(source, [], { discoveryTimeout: 10_000 });
    const controller = new AbortController();
    const waiting = m.fetch('http://api/x', { signal: controller.signal });
    const reason = new Error('the caller gave up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect((await settledNow(Promise.resolve())).settled).toBe(true);
    expect(m.dispatcher.inFlight).toBe(0);
    setEndpoints(source, [s.address]);
    expect(await (await m.fetch('http://api/after')).text()).toBe('ok');
    expect(s.arrivals.map((a) => a.url)).toEqual(['/after']);
  });

  it('while waiting for a first endpoint: answered at once, and not sent when one appears', async () => {
    const s = await held();
    const source = new ManualSource();
    const m = meshOf(source, [], { discoveryTimeout: 10_000 });
    const controller = new AbortController();
    const waiting = send(m, '/x', { signal: controller.signal });
    setEndpoints(source, []); // known, no endpoint yet: the request now waits for one
    await abortAndExpectPrompt(m, controller, waiting);
    setEndpoints(source, [s.address]);
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/after']);
  });

  it('mid-body of the request: the upload stops and is not sent again', async () => {
    const s = await held({ hold: (a) => a.url === '/upload' });
    const m = meshOf([s.address]);
    let release!: () => void;
    const body = Readable.from(
      (async function* () {
        yield 'first chunk;';
        await new Promise<void>((resolve) => (release = resolve)); // never released: the caller aborts first
        yield 'second chunk';
      })(),
    );
    const controller = new AbortController();
    const uploading = send(m, '/upload', { method: 'PUT', body, signal: controller.signal });
    const arrival = await s.arrival(0);
    await bodyReceived(arrival, 'first chunk;');
    await abortAndExpectPrompt(m, controller, uploading);
    await s.closed(0);
    expect(arrival.body).toBe('first chunk;');
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/upload', '/after']);
    release();
  });

  it('mid-body of the response: the download stops, the connection is closed', async () => {
    const s = await held({ hold: (a) => a.url === '/download' });
    const m = meshOf([s.address]);
    const controller = new AbortController();
    const responding = request('http://api/download', { dispatcher: m.dispatcher, signal: controller.signal });
    const arrival = await s.arrival(0);
    arrival.res.writeHead(200, { 'content-type': 'text/plain' });
    arrival.res.write('part one;');
    const res = await responding;
    const chunks: string[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      res.body.on('data', (c: Buffer) => chunks.push(c.toString()));
      res.body.on('end', () => resolve());
      res.body.on('error', reject);
    });
    await new Promise<void>((resolve) => res.body.once('data', () => resolve()));
    expect(chunks).toEqual(['part one;']);
    await abortAndExpectPrompt(m, controller, ended);
    await s.closed(0);
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/download', '/after']);
  });

  it('during a hedge: both tries end, the caller is answered at once', async () => {
    const hold = (a: { url: string }) => a.url === '/held';
    const [a, b] = [await held({ hold }), await held({ hold })];
    const hedging = `  annotations:\n    proxyless.dev/hedging: '{"delay": "20ms", "maxExtraPercent": 100}'\n`;
    const m = meshOf([a.address, b.address], [vs('  - route: [{ destination: { host: api } }]\n', hedging), roundRobin]);
    const controller = new AbortController();
    const hedged = send(m, '/held', { signal: controller.signal });
    await Promise.all([a.arrival(0), b.arrival(0)]); // the primary and the backup are both in flight
    await abortAndExpectPrompt(m, controller, hedged);
    await Promise.all([a.closed(0), b.closed(0)]);
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    // Neither try was sent again (/after itself may get a backup when this machine is slow).
    expect([...a.arrivals, ...b.arrivals].filter((r) => r.url === '/held')).toHaveLength(2);
  });

  it('mid-body of a hedged response: the winner\'s download stops and its connection closes; the loser was cancelled when the winner answered', async () => {
    const hold = (a: { url: string }) => a.url === '/held';
    const [a, b] = [await held({ hold }), await held({ hold })];
    const hedging = `  annotations:\n    proxyless.dev/hedging: '{"delay": "20ms", "maxExtraPercent": 100}'\n`;
    const m = meshOf([a.address, b.address], [vs('  - route: [{ destination: { host: api } }]\n', hedging), roundRobin]);
    const controller = new AbortController();
    const responding = request('http://api/held', { dispatcher: m.dispatcher, signal: controller.signal });
    // Both tries in flight; server a answers part of a body (its try wins, primary or backup).
    const [arrival] = await Promise.all([a.arrival(0), b.arrival(0)]);
    const [winner, loser] = [a, b];
    arrival.res.writeHead(200, { 'content-type': 'text/plain' });
    arrival.res.write('part one;');
    const res = await responding;
    await loser.closed(0); // the losing try was cancelled when the winner's headers came
    const ended = new Promise<void>((resolve, reject) => {
      res.body.on('end', () => resolve());
      res.body.on('error', reject);
    });
    await new Promise<void>((resolve) => res.body.once('data', () => resolve()));
    await abortAndExpectPrompt(m, controller, ended);
    await winner.closed(0);
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect([...a.arrivals, ...b.arrivals].filter((r) => r.url === '/held')).toHaveLength(2);
  });

  it('before the hedge backup is sent: the backup never goes out', async () => {
    const hold = (a: { url: string }) => a.url.startsWith('/held');
    const [a, b] = [await held({ hold }), await held({ hold })];
    const hedging = `  annotations:\n    proxyless.dev/hedging: '{"delay": "300ms", "maxExtraPercent": 100}'\n`;
    const m = meshOf([a.address, b.address], [vs('  - route: [{ destination: { host: api } }]\n', hedging), roundRobin], { endpointPool: { connections: 10 } });
    const controller = new AbortController();
    const hedged = send(m, '/held-x', { signal: controller.signal });
    const all = () => [...a.arrivals, ...b.arrivals];
    await new Promise<void>((resolve) => void Promise.race([a.arrival(0), b.arrival(0)]).then(() => resolve()));
    await abortAndExpectPrompt(m, controller, hedged);
    // A second hedged call: its backup timer (the same 300 ms) fires after a stale one would have.
    const second = send(m, '/held-y');
    await new Promise<void>((resolve) => {
      const check = (): void => (all().filter((r) => r.url === '/held-y').length === 2 ? resolve() : void setImmediate(check));
      check();
    });
    // One more round trip to each server: anything stale was sent before these.
    expect([await send(m, '/after'), await send(m, '/after')]).toEqual([{ status: 200, body: 'ok' }, { status: 200, body: 'ok' }]);
    expect(all().filter((r) => r.url === '/held-x')).toHaveLength(1);
    for (const r of all()) if (r.url === '/held-y') r.res.end('y');
    expect(await second).toEqual({ status: 200, body: 'y' });
  });

  it('during a retry backoff: the retry never goes out', async () => {
    const seen = new Set<string>();
    const s = await held({
      answer: (a) => {
        const first = !seen.has(a.url);
        seen.add(a.url);
        a.res.writeHead(first ? 503 : 200, first ? { 'retry-after': '1' } : {});
        a.res.end(first ? 'busy' : 'ok');
      },
    });
    let tryEnded!: () => void;
    const firstTryEnded = new Promise<void>((resolve) => (tryEnded = resolve));
    // A layer below `retry` sees each try end; the backoff starts right after.
    const observe = layer('observe-try', (next) => (opts, handler) =>
      next(opts, new (class extends ForwardingHandler {
        override onResponseEnd(...args: Parameters<ForwardingHandler['onResponseEnd']>): void {
          super.onResponseEnd(...args);
          tryEnded();
        }
      })(handler)));
    const m = meshOf([s.address], [vs('  - retries: { attempts: 2, retryOn: "503" }\n    route: [{ destination: { host: api } }]\n')], {
      stacks: { service: (stack) => void stack.insertAfter('retry', observe) },
    });
    const controller = new AbortController();
    const retrying = send(m, '/x', { signal: controller.signal });
    await firstTryEnded;
    await abortAndExpectPrompt(m, controller, retrying);
    // The same Retry-After: a stale retry of /x would be sent before this retry of /y.
    expect(await send(m, '/y')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/x', '/y', '/y']);
  });

  it('a per-try timeout while queued in the pool: the caller sees the timeout, the PUT is never sent twice, the endpoint is not blamed', async () => {
    const s = await held({ hold: (a) => a.url === '/blocker' });
    // One outlier failure would eject the only endpoint: a try that was never written must not count.
    const ejectAtOnce = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec: { host: api, trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 100, baseEjectionTime: 60s } } }`;
    // Only /put has the short per-try timeout: /after, which checks the endpoint is still
    // in use, must not time out itself on a loaded machine (that would eject the endpoint).
    const m = meshOf([s.address], [
      vs(
        '  - match: [{ uri: { prefix: /put } }]\n    retries: { attempts: 1, perTryTimeout: 50ms, retryOn: "reset" }\n    route: [{ destination: { host: api } }]\n' +
          '  - route: [{ destination: { host: api } }]\n',
      ),
      ejectAtOnce,
    ]);
    const blocker = send(m, '/blocker');
    const first = await s.arrival(0);
    // Both tries of /put wait behind /blocker and time out there.
    await expect(send(m, '/put', { method: 'PUT', body: 'x' })).rejects.toMatchObject({ code: 'PROXYLESS_ERR_PER_TRY_TIMEOUT' });
    expect(m.dispatcher.inFlight).toBe(1);
    first.res.end('done');
    await blocker;
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/blocker', '/after']);
    // The stale tries, aborted as they reached the connection, were not counted against it.
    expect(m.services()[0]!.endpoints.map((e) => e.available)).toEqual([true]);
  });

  it('a route timeout while waiting for a first endpoint: answered with the timeout, never sent later', async () => {
    const s = await held();
    const source = new ManualSource();
    const m = meshOf(source, [vs('  - timeout: 50ms\n    route: [{ destination: { host: api } }]\n')], { discoveryTimeout: 10_000 });
    const timingOut = send(m, '/x');
    setEndpoints(source, []);
    await expect(timingOut).rejects.toMatchObject({ code: 'PROXYLESS_ERR_TIMEOUT' });
    expect(m.dispatcher.inFlight).toBe(0);
    setEndpoints(source, [s.address]);
    expect(await send(m, '/after')).toEqual({ status: 200, body: 'ok' });
    expect(s.arrivals.map((a) => a.url)).toEqual(['/after']);
  });

  it('closing the mesh ends a request waiting for discovery with MeshClosingError, within the grace period', async () => {
    const source = new ManualSource();
    const m = meshOf(source, [], { discoveryTimeout: 10_000, closeGracePeriod: 50 });
    const waiting = send(m, '/x').catch((e: unknown) => e);
    await m.close();
    expect(await waiting).toMatchObject({ code: 'PROXYLESS_ERR_CLOSE_TIMEOUT' });
    expect(m.dispatcher.inFlight).toBe(0);
  });
});
