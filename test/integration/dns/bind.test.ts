import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { createMesh, type DestinationRule } from 'proxyless';
import { dns } from '../../../src/discovery/dns/index.js';
import type { DiscoveryUpdate } from '../../../src/discovery/types.js';
import { closeAll, startBackends, type Backend } from '../../helpers/backends.js';
import { startBind, type Bind } from '../../helpers/dns/bind.js';
import { requireBinaries } from '../../helpers/system-binaries.js';
import { Progress } from '../../helpers/wait.js';

/**
 * The DNS source against BIND 9 with records changed live by nsupdate: SRV ports and
 * weights, TTL-driven refreshes, a name that appears after NXDOMAIN (negative caching
 * from the SOA), and SRV changes while traffic runs without a failed request.
 */

const ECHO = 'echo.ns.svc.test';
const SRV = `_http._tcp.${ECHO}`;

const needs = requireBinaries([{ bin: 'named', pkg: 'bind9' }, { bin: 'nsupdate', pkg: 'bind9-dnsutils' }]);

// Skipped only off CI where the program is not installed (never in CI: it fails there);
// the test's name then says what is missing and the apt-get command (requireBinaries).
describe.skipIf(needs.skip)(`dns source with BIND and nsupdate${needs.note}`, () => {
  let bind: Bind;
  let backends: Backend[];

  beforeAll(async () => {
    // A few ms per request keeps requests in flight while records change.
    backends = await startBackends(4, 'e', 2);
    bind = await startBind({
      zone: 'svc.test',
      negativeTtl: 1,
      records: [
        `echo.ns 1 IN A 127.0.0.1`,
        `_http._tcp.echo.ns 1 IN SRV 10 1 ${backends[0]!.port} ${ECHO}.`,
        `_http._tcp.echo.ns 1 IN SRV 10 3 ${backends[1]!.port} ${ECHO}.`,
      ],
    });
  });
  afterAll(async () => {
    await bind?.stop();
    await closeAll(backends ?? []);
  });

  it('mesh.fetch("http://echo.ns.svc.test/") spreads requests over the SRV targets by weight', async () => {
    const rule: DestinationRule = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'echo' },
      spec: { host: ECHO, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
    };
    const mesh = createMesh({ discovery: [dns({ servers: [bind.address], srv: true })], config: [rule] });
    const before = backends.map((b) => b.requests);
    for (let i = 0; i < 400; i++) {
      const res = await mesh.fetch(`http://${ECHO}/`);
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(backends.map((b, i) => b.requests - before[i]!)).toEqual([100, 300, 0, 0]);
    await mesh.close();
  });

  it('refreshes with the TTL (1 s): about one SRV query a second, the additional section saving A queries', async () => {
    const source = dns({ servers: [bind.address], srv: true });
    source.watch({ host: ECHO, fqdn: ECHO, names: [ECHO], port: 80 }, () => {});
    await source.ready();
    const first = source.state().queries;
    const started = performance.now();
    // The source reports no event for a refresh that changes nothing: its query count is polled.
    await vi.waitFor(() => expect(source.state().queries - first).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 20 });
    // Refreshes start at 80-90 % of the TTL, one query each (the SRV answer carries the A
    // records): 3 queries take at least 3 × 0.8 s (less the moment between the answer and
    // `started`). Two queries per refresh, or a TTL not respected, would take under 1.8 s.
    // A lower bound only: a busy machine makes it longer.
    expect(performance.now() - started).toBeGreaterThanOrEqual(2350);
    expect(source.state()).toMatchObject({ names: 1, stale: 0, failures: 0 });
    await source.close();
  });

  it('a name added after NXDOMAIN is found once the negative answer (SOA minimum 1 s) expires', async () => {
    const source = dns({ servers: [bind.address], family: 4 });
    const updates: DiscoveryUpdate[] = [];
    const changed = new Progress();
    const name = 'late.ns.svc.test';
    source.watch({ host: name, fqdn: name, names: [name], port: 8080 }, (u) => {
      updates.push(u);
      changed.notify();
    });
    await source.ready();
    const answered = performance.now();
    expect(updates).toEqual([{ type: 'missing' }]);
    await bind.update([`update add ${name} 1 A 127.0.0.1`]);
    await changed.until('the name to appear', () => updates.length >= 2);
    expect(updates[1]).toEqual({ type: 'reset', endpoints: [{ address: '127.0.0.1', port: 8080, weight: 1, labels: {} }] });
    // Not before the negative answer's refresh was due (80-90 % of 1 s): a lower bound only.
    expect(performance.now() - answered).toBeGreaterThanOrEqual(750);
    await bind.update([`update delete ${name} A`]);
    await source.close();
  });

  it('SRV records changed by nsupdate while traffic runs: no request fails, new targets get traffic, removed ones none', async () => {
    const [b0, b1, b2, b3] = backends as [Backend, Backend, Backend, Backend];
    const source = dns({ servers: [bind.address], srv: true });
    const mesh = createMesh({ discovery: [source] });
    const keys = (): string[] => (mesh.services().find((s) => s.name === ECHO)?.endpoints.map((e) => e.key) ?? []).sort();
    const failures: unknown[] = [];
    let ok = 0;
    let running = true;
    const answered = new Progress();
    const worker = async (): Promise<void> => {
      while (running) {
        try {
          const res = await request(`http://${ECHO}/`, { dispatcher: mesh.dispatcher });
          await res.body.text();
          if (res.statusCode === 200) ok++;
          else failures.push(res.statusCode);
        } catch (error) {
          failures.push(error);
        }
        answered.notify();
      }
    };
    const workers = Array.from({ length: 12 }, worker);
    /** Waits until the mesh lists exactly `expected` (checked after each answer). */
    const until = (expected: string[]): Promise<void> =>
      answered.until(`endpoints ${JSON.stringify(expected)}`, () => JSON.stringify(keys()) === JSON.stringify([...expected].sort()));
    /** Waits for `n` more successful answers. */
    const answers = (n: number): Promise<void> => {
      const target = ok + n;
      return answered.until(`${target} answers`, () => ok >= target);
    };
    try {
      await until([b0.address, b1.address]);
      // Replace b0 with b2 and b3 in one update.
      await bind.update([
        `update delete ${SRV} SRV 10 1 ${b0.port} ${ECHO}.`,
        `update add ${SRV} 1 SRV 10 2 ${b2.port} ${ECHO}.`,
        `update add ${SRV} 1 SRV 10 2 ${b3.port} ${ECHO}.`,
      ]);
      await until([b1.address, b2.address, b3.address]);
      const b0Removed = b0.requests;
      const b2Joined = b2.requests;
      await b2.whenRequests(b2Joined + 50); // the new target gets traffic
      await answers(200);
      // Then b1 leaves too.
      await bind.update([`update delete ${SRV} SRV 10 3 ${b1.port} ${ECHO}.`]);
      await until([b2.address, b3.address]);
      const b1Removed = b1.requests;
      await answers(200);
      // Requests in flight when an endpoint left may still land on it (12 workers at most).
      expect(b0.requests - b0Removed).toBeLessThanOrEqual(12);
      expect(b1.requests - b1Removed).toBeLessThanOrEqual(12);
    } finally {
      running = false;
      await Promise.all(workers);
      await bind.update([
        `update delete ${SRV} SRV`,
        `update add ${SRV} 1 SRV 10 1 ${b0.port} ${ECHO}.`,
        `update add ${SRV} 1 SRV 10 3 ${b1.port} ${ECHO}.`,
      ]);
      await mesh.close();
    }
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(source.state().failures).toBe(0);
  });
});
