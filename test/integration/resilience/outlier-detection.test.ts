// DestinationRule outlierDetection against real servers: a failing, dead or hanging
// endpoint is ejected and gets nothing while ejected, a lost hedge is not a failure, and
// maxEjectionPercent and the panic threshold keep traffic flowing. (The return after
// baseEjectionTime is timed on fake timers in test/unit/policy/outlier-detection.test.ts.)
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

function rule(outlierDetection: object): object {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'api' },
    spec: { host: 'api', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection } },
  };
}

/** A VirtualService for `api` with one route to it, plus `policy` (retries, timeout) and annotations. */
function virtualService(policy: object, annotations: Record<string, string> = {}): object {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'api', annotations },
    spec: { hosts: ['api'], http: [{ route: [{ destination: { host: 'api' } }], ...policy }] },
  };
}

async function statuses(m: Mesh, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const res = await request('http://api/', { dispatcher: m.dispatcher });
      await res.body.text();
      out.push(res.statusCode);
    } catch {
      out.push(-1);
    }
  }
  return out;
}

describe('outlier detection', () => {
  it('ejects an endpoint after consecutive 5xx and sends it nothing while ejected', async () => {
    const bad = await startBackend({ id: 'bad', handle: (_req, res) => { res.statusCode = 500; res.end(); } });
    const good = await Promise.all([startBackend({ id: 'g1' }), startBackend({ id: 'g2' })]);
    servers.push(bad, ...good);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [bad.address, ...good.map((g) => g.address)] })],
      config: [rule({ consecutive5xxErrors: 3, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 50 })],
    });
    meshes.push(m);
    await statuses(m, 9); // round robin: the bad endpoint gets its 3rd 500 here
    expect(bad.requests).toBe(3);
    const badEndpoint = m.services()[0]!.endpoints.find((e) => e.key === bad.address)!;
    expect(badEndpoint.available).toBe(false);
    const after = await statuses(m, 20);
    expect(after.every((s) => s === 200)).toBe(true);
    expect(bad.requests).toBe(3);
  });

  it('a dead endpoint (connection refused) is ejected through gateway/local-origin failures; requests succeed through default retries', async () => {
    // It closes each connection after answering: once it is gone, every try meets a refused
    // connection (retried by Istio's default), never a pooled connection cut mid-request (a
    // reset after sending, which Istio's default does not retry).
    const dying = await startBackend({
      id: 'dying',
      handle: (_req, res) => {
        res.setHeader('connection', 'close');
        res.end('dying');
      },
    });
    const alive = await startBackend({ id: 'alive' });
    servers.push(alive);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [dying.address, alive.address] })],
      config: [rule({ consecutiveGatewayErrors: 2, consecutive5xxErrors: 2, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 50 })],
    });
    meshes.push(m);
    expect((await statuses(m, 4)).every((s) => s === 200)).toBe(true);
    await dying.close();
    const results = await statuses(m, 20);
    expect(results.every((s) => s === 200)).toBe(true);
    expect(m.services()[0]!.endpoints.find((e) => e.key === dying.address)!.available).toBe(false);
  });

  // The timeouts fire only on the hanging endpoint, which never answers; they are long
  // enough that a loaded machine never lets one fire on the other endpoint's answer too
  // (with 100 ms that happened, and the other endpoint was counted as failing).
  it.each([
    ['perTryTimeout', { retries: { attempts: 2, perTryTimeout: '1s', retryOn: 'gateway-error' } }, 200],
    ['route timeout', { timeout: '1s', retries: { attempts: 0 } }, -1],
  ])('a hanging endpoint is ejected through %s cancellations (Envoy counts them as gateway errors)', async (_name, policy, hangingStatus) => {
    const hanging = await startBackend({ id: 'hanging', handle: () => {} });
    const alive = await startBackend({ id: 'alive-t' });
    servers.push(hanging, alive);
    const route = virtualService(policy);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [hanging.address, alive.address] })],
      config: [route, rule({ consecutiveGatewayErrors: 2, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 50 })],
    });
    meshes.push(m);
    const results = await statuses(m, 8);
    // Round robin: every other first try goes to the hanging endpoint; its 2nd timeout ejects it.
    // With retries, those calls still succeed on the other endpoint; with a route timeout, they fail.
    expect(results.filter((s) => s !== 200)).toEqual(hangingStatus === 200 ? [] : [hangingStatus, hangingStatus]);
    expect(results.slice(4)).toEqual([200, 200, 200, 200]);
    expect(hanging.requests).toBe(2);
    expect(m.services()[0]!.endpoints.find((e) => e.key === hanging.address)!.available).toBe(false);
  });

  it('a slow endpoint whose tries lose to hedges is not ejected: a lost hedge is not an error', async () => {
    const slow = await startBackend({ id: 'slow-h', delayMs: 300 });
    const fast = await startBackend({ id: 'fast-h' });
    servers.push(slow, fast);
    const route = virtualService({}, { 'proxyless.dev/hedging': '{"delay":"20ms","maxExtraPercent":100}' });
    const m = createMesh({
      discovery: [staticEndpoints({ api: [slow.address, fast.address] })],
      config: [route, rule({ consecutiveGatewayErrors: 1, consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 50 })],
    });
    meshes.push(m);
    expect((await statuses(m, 6)).every((s) => s === 200)).toBe(true);
    expect(slow.requests).toBeGreaterThan(0);
    expect(m.services()[0]!.endpoints.every((e) => e.available)).toBe(true);
  });

  it('with fewer than 10 endpoints Istio’s default maxEjectionPercent (10) ejects nothing, as Envoy does', async () => {
    const bad = await startBackend({ id: 'bad2', handle: (_req, res) => { res.statusCode = 503; res.end(); } });
    const good = await startBackend({ id: 'good2' });
    servers.push(bad, good);
    const m = createMesh({ discovery: [staticEndpoints({ api: [bad.address, good.address] })], config: [rule({ consecutive5xxErrors: 2 })] });
    meshes.push(m);
    await statuses(m, 10);
    expect(m.services()[0]!.endpoints.every((e) => e.available)).toBe(true);
  });

  it('minHealthPercent: below it the service is in panic and ejections are ignored', async () => {
    const bad = await startBackend({ id: 'bad3', handle: (_req, res) => { res.statusCode = 500; res.end(); } });
    const good = await startBackend({ id: 'good3' });
    servers.push(bad, good);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [bad.address, good.address] })],
      config: [rule({ consecutive5xxErrors: 2, maxEjectionPercent: 100, minHealthPercent: 60, interval: '1s' })],
    });
    meshes.push(m);
    await statuses(m, 6);
    // One of two ejected is 50 % healthy < 60 %: panic, so the ejected endpoint stays in use.
    expect(m.services()[0]!.endpoints.every((e) => e.available)).toBe(true);
    expect(bad.requests).toBeGreaterThan(2);
  });

  it('rejects an outlierDetection interval under 1 ms at load, naming the rule', () => {
    expect(() => createMesh({ config: [rule({ interval: '0.1ms' })] })).toThrow(
      'DestinationRule/api (config[0]): spec.trafficPolicy.outlierDetection.interval: "0.1ms" (expected: a duration of at least 1ms (Istio\'s minimum))',
    );
  });
});
