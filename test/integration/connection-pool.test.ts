// Istio's circuit-breaking task: DestinationRule connectionPool limits overflow fast.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, OverloadError, staticEndpoints } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

const rule = (connectionPool: object) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'httpbin' },
  spec: { host: 'httpbin', trafficPolicy: { connectionPool } },
});

describe('connectionPool limits', () => {
  let slow: Backend;
  beforeAll(async () => {
    slow = await startBackend({ id: 'httpbin', delayMs: 150 });
  });
  afterAll(() => closeAll([slow]));

  async function burst(mesh: ReturnType<typeof createMesh>, n: number) {
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: n }, async () => {
        const t0 = performance.now();
        try {
          const res = await request('http://httpbin/', { dispatcher: mesh.dispatcher });
          await res.body.text();
          return { ok: true as const, ms: performance.now() - t0 };
        } catch (error) {
          return { ok: false as const, error: error as Error, ms: performance.now() - t0 };
        }
      }),
    );
    return { results, total: performance.now() - started };
  }

  it('maxConnections 1 + http1MaxPendingRequests 1: a third concurrent request fails at once with OverloadError (503)', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints({ httpbin: [slow.address] })],
      config: [rule({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 } })],
    });
    const { results } = await burst(mesh, 5);
    const ok = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    // One on the connection, one waiting for it; the rest overflow.
    expect(ok).toHaveLength(2);
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r.error).toBeInstanceOf(OverloadError);
      expect(r.error).toMatchObject({ code: 'PROXYLESS_ERR_OVERLOADED', statusCode: 503, limit: 'http1MaxPendingRequests' });
      expect(r.error!.message).toContain('connectionPool.http.http1MaxPendingRequests (1)');
      // Fails fast: long before the backend's 150 ms answer.
      expect(r.ms).toBeLessThan(100);
    }
    expect(mesh.services()[0]!.endpoints[0]!.pending).toBe(0);
    await mesh.close();
  });

  it('http2MaxRequests caps requests in flight across the service, and a reload changes it at once', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ httpbin: [slow.address] })], config: [rule({ http: { http2MaxRequests: 3 } })] });
    let { results } = await burst(mesh, 6);
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(results.filter((r) => !r.ok).every((r) => (r.error as OverloadError).limit === 'http2MaxRequests')).toBe(true);
    mesh.applyConfig([rule({ http: { http2MaxRequests: 10 } })]);
    ({ results } = await burst(mesh, 6));
    expect(results.every((r) => r.ok)).toBe(true);
    await mesh.close();
  });

  it('without limits nothing is refused', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ httpbin: [slow.address] })] });
    const { results } = await burst(mesh, 20);
    expect(results.every((r) => r.ok)).toBe(true);
    await mesh.close();
  });
});
