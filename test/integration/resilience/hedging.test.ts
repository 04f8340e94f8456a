// Hedged (backup) requests: opt-in per VirtualService with an annotation.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { stallClock } from '../../../src/balance/stall-clock.js';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

const config = (hedging: object, extra = '') => [
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
  annotations:
    proxyless.dev/hedging: '${JSON.stringify(hedging)}'
spec:
  hosts: [api]
  http:
  - ${extra}route: [{ destination: { host: api } }]
`,
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec: { host: api, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }`,
];

describe('hedging', () => {
  it('a slow try gets a backup on another endpoint after the delay; the first answer wins, the loser is cancelled', async () => {
    // The slow endpoint never answers: an answer at all, from the fast one, shows the backup
    // won (no bound on the time taken, which a loaded machine would break).
    const slow = await startBackend({ id: 'slow', handle: () => {} });
    const fast = await startBackend({ id: 'fast' });
    servers.push(slow, fast);
    const m = createMesh({ discovery: [staticEndpoints({ api: [slow.address, fast.address] })], config: config({ delay: '300ms', maxExtraPercent: 100 }) });
    meshes.push(m);
    // Latency samples leave out the stall of this process that kept an answer waiting, and
    // a sample that was mostly stall is not taken at all (stall-samples.test.ts checks
    // that). Here the stall clock says no stall held anything up: a lost try's sample is
    // then its whole time on the wire, however loaded this machine is.
    const noStalls = vi.spyOn(stallClock, 'heldUp').mockReturnValue(0);
    try {
      // Round robin: of two requests in a row, at least one has its primary try on the slow
      // endpoint (a backup takes a pick too).
      for (let i = 0; i < 4; i++) {
        const res = await request('http://api/', { dispatcher: m.dispatcher });
        expect(await res.body.text()).toBe('fast');
      }
      // The slow server saw the tries that lost; their connections were cancelled.
      expect(slow.requests).toBeGreaterThanOrEqual(2);
      await vi.waitFor(() => expect(slow.active).toBe(0), { timeout: 10_000, interval: 10 });
      // A lost try tells the balancer "at least this long": from its write (after its
      // connection was made) to the backup's answer, 300 ms less the connect. The slow
      // endpoint's Peak EWMA estimate (the cost with nothing pending) keeps the longest of
      // its two or more lost tries: far above the fast one's and the 30 ms default of an
      // endpoint that never answered.
      const endpoints = m.services()[0]!.endpoints;
      const cost = (address: string) => endpoints.find((e) => e.key === address)!.cost;
      expect(cost(slow.address)).toBeGreaterThanOrEqual(150);
      expect(cost(fast.address)).toBeLessThan(cost(slow.address));
    } finally {
      noStalls.mockRestore();
    }
  });

  it('backups are bounded by their budget (maxExtraPercent + 1/s)', async () => {
    const slow = await startBackend({ id: 'slow-b', delayMs: 80 });
    const other = await startBackend({ id: 'other-b', delayMs: 80 });
    servers.push(slow, other);
    const m = createMesh({ discovery: [staticEndpoints({ api: [slow.address, other.address] })], config: config({ delay: '10ms', maxExtraPercent: 5 }) });
    meshes.push(m);
    const n = 40;
    await Promise.all(Array.from({ length: n }, async () => (await request('http://api/', { dispatcher: m.dispatcher })).body.text()));
    const extra = slow.requests + other.requests - n;
    // 5 % of 40 is 2, plus the 1/s floor over the 10 s window (10): at most 12.
    expect(extra).toBeLessThanOrEqual(12);
    expect(extra).toBeGreaterThan(0);
  });

  it('is not applied to POST (the server could act twice)', async () => {
    const slow = await startBackend({ id: 'slow-p', delayMs: 120 });
    const fast = await startBackend({ id: 'fast-p' });
    servers.push(slow, fast);
    const m = createMesh({ discovery: [staticEndpoints({ api: [slow.address, fast.address] })], config: config({ delay: '10ms', maxExtraPercent: 100 }) });
    meshes.push(m);
    for (let i = 0; i < 4; i++) await (await request('http://api/', { dispatcher: m.dispatcher, method: 'POST', body: 'x' })).body.text();
    expect(slow.requests + fast.requests).toBe(4);
    // The same GETs are hedged: the slow backend's tries get a backup on the fast one.
    for (let i = 0; i < 4; i++) await (await request('http://api/', { dispatcher: m.dispatcher })).body.text();
    expect(slow.requests + fast.requests).toBeGreaterThan(8);
  });

  it('is not applied without the annotation', async () => {
    const slow = await startBackend({ id: 'slow-n', delayMs: 120 });
    const fast = await startBackend({ id: 'fast-n' });
    servers.push(slow, fast);
    const plain = [
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api]
  http:
  - route: [{ destination: { host: api } }]
`,
      config({})[1]!,
    ];
    const m = createMesh({ discovery: [staticEndpoints({ api: [slow.address, fast.address] })], config: plain });
    meshes.push(m);
    for (let i = 0; i < 4; i++) await (await request('http://api/', { dispatcher: m.dispatcher })).body.text();
    // Round robin: two GETs each, none copied, though the slow ones took 12x the 10 ms a hedge would wait.
    expect([slow.requests, fast.requests]).toEqual([2, 2]);
  });

  it('the route timeout reaches the caller, the tries end, and close() does not wait for them', async () => {
    const hanging = await startBackend({ id: 'hang-a', handle: () => {} });
    const hanging2 = await startBackend({ id: 'hang-b', handle: () => {} });
    servers.push(hanging, hanging2);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [hanging.address, hanging2.address] })],
      config: config({ delay: '20ms', maxExtraPercent: 100 }, 'timeout: 150ms\n    '),
      closeGracePeriod: 20_000,
    });
    meshes.push(m);
    await expect(request('http://api/', { dispatcher: m.dispatcher })).rejects.toMatchObject({ code: 'PROXYLESS_ERR_TIMEOUT', statusCode: 504 });
    expect(m.dispatcher.inFlight).toBe(0);
    // Nothing is left in flight: close() returns without waiting out its 20 s grace.
    await m.close();
  });

  it("the caller's abort reaches the caller at once and cancels both tries", async () => {
    const hanging = await startBackend({ id: 'hang-c', handle: () => {} });
    const hanging2 = await startBackend({ id: 'hang-d', handle: () => {} });
    servers.push(hanging, hanging2);
    const m = createMesh({ discovery: [staticEndpoints({ api: [hanging.address, hanging2.address] })], config: config({ delay: '20ms', maxExtraPercent: 100 }) });
    meshes.push(m);
    const controller = new AbortController();
    const pending = request('http://api/', { dispatcher: m.dispatcher, signal: controller.signal });
    while (hanging.active + hanging2.active < 2) await new Promise((r) => setImmediate(r));
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(m.dispatcher.inFlight).toBe(0);
    while (hanging.active + hanging2.active > 0) await new Promise((r) => setImmediate(r));
  });

  it('warns when the percentile reaches the delay on more requests than the budget allows backups for', async () => {
    const loose = createMesh({ config: config({ percentile: 90, maxExtraPercent: 5 }) });
    const matched = createMesh({ config: config({ percentile: 95, maxExtraPercent: 5 }) });
    meshes.push(loose, matched);
    expect(loose.warnings).toEqual([
      expect.stringMatching(/VirtualService\/api .*proxyless\.dev\/hedging.*percentile 90 reaches the delay on about 10 % of requests but maxExtraPercent 5 .*Use percentile >= 95/),
    ]);
    expect(matched.warnings).toEqual([]);
  });

  it('a bad annotation is a config error naming the resource and the field', () => {
    expect(() => createMesh({ config: config({ delay: 'soon' }) })).toThrow(/VirtualService\/api \(config\[0\]#1\): metadata\.annotations\["proxyless\.dev\/hedging"\]\.delay: "soon"/);
    expect(() => createMesh({ config: config({}) })).toThrow(/exactly one of delay, percentile/);
  });
});
