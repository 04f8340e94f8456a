// Istio's circuit-breaking task: DestinationRule connectionPool limits overflow fast.
import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, OverloadError, staticEndpoints } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';
import { Progress } from '../helpers/wait.js';

const rule = (connectionPool: object) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'httpbin' },
  spec: { host: 'httpbin', trafficPolicy: { connectionPool } },
});

describe('connectionPool limits', () => {
  // The backend holds every request until the test opens it: overflow is seen while the
  // admitted requests are still in flight, whatever the machine's speed.
  let backend: Backend;
  const held: ServerResponse[] = [];
  let open = false;
  const changed = new Progress();
  beforeAll(async () => {
    backend = await startBackend({
      id: 'httpbin',
      handle: (_req, res, b) => {
        if (open) return void res.end(b.id);
        held.push(res);
        changed.notify();
      },
    });
  });
  afterAll(() => {
    openGate();
    return closeAll([backend]);
  });
  afterEach(() => openGate());

  function closeGate(): void {
    open = false;
  }
  function openGate(): void {
    open = true;
    for (const res of held.splice(0)) res.end(backend.id);
  }

  type Result = { ok: true } | { ok: false; error: Error };

  /** Sends `n` requests at once; `settled` counts those that ended. */
  function burst(mesh: ReturnType<typeof createMesh>, n: number) {
    const results: Result[] = [];
    const all = Promise.all(
      Array.from({ length: n }, async () => {
        let result: Result;
        try {
          const res = await request('http://httpbin/', { dispatcher: mesh.dispatcher });
          await res.body.text();
          result = { ok: true };
        } catch (error) {
          result = { ok: false, error: error as Error };
        }
        results.push(result);
        changed.notify();
        return result;
      }),
    );
    return {
      results,
      all,
      refused: () => results.filter((r): r is Extract<Result, { ok: false }> => !r.ok),
    };
  }

  it('maxConnections 1 + http1MaxPendingRequests 1: a third concurrent request fails at once with OverloadError (503)', async () => {
    closeGate();
    const mesh = createMesh({
      discovery: [staticEndpoints({ httpbin: [backend.address] })],
      config: [rule({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 } })],
    });
    const sent = burst(mesh, 5);
    // One on the connection, one waiting for it; the rest overflow, at once: while the
    // backend still holds the first one.
    await changed.until('3 refused and 1 request on the backend', () => sent.refused().length >= 3 && held.length >= 1);
    expect(sent.results).toHaveLength(3);
    expect(held).toHaveLength(1);
    for (const r of sent.refused()) {
      expect(r.error).toBeInstanceOf(OverloadError);
      expect(r.error).toMatchObject({ code: 'PROXYLESS_ERR_OVERLOADED', statusCode: 503, limit: 'http1MaxPendingRequests' });
      expect(r.error.message).toContain('connectionPool.http.http1MaxPendingRequests (1)');
    }
    openGate();
    const results = await sent.all;
    expect(results.filter((r) => r.ok)).toHaveLength(2);
    expect(mesh.services()[0]!.endpoints[0]!.pending).toBe(0);
    await mesh.close();
  });

  it('http1MaxPendingRequests follows the endpoints that can take traffic: one removed, then one ejected, leave less room at once', async () => {
    // The pending limit counts requests beyond what the available endpoints' connections
    // carry. That capacity is counted once per change of the endpoints (not per request,
    // which was O(endpoints) per request): each kind of change must be seen.
    const [b2, b3] = [await startBackend({ id: 'b2' }), await startBackend({ id: 'b3' })];
    const registry = staticEndpoints({ httpbin: [backend.address, b2.address, b3.address] });
    const mesh = createMesh({
      discovery: [registry],
      config: [
        {
          ...rule({}),
          spec: {
            host: 'httpbin',
            trafficPolicy: {
              // Round robin: the closed b2 is picked within two requests, so it gets ejected
              // (P2C could keep preferring the other endpoint and never try b2: seen once in CI).
              loadBalancer: { simple: 'ROUND_ROBIN' },
              connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } },
              outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 100, baseEjectionTime: '1h' },
            },
          },
        },
      ],
    });
    const send = () => request('http://httpbin/', { dispatcher: mesh.dispatcher }).then((r) => r.body.text(), () => undefined);
    openGate();
    await send(); // capacity counted: 3 endpoints
    registry.set('httpbin', [backend.address, b2.address]); // b3 removed
    await send(); // 2
    await b2.close();
    // Requests until b2 is ejected (connection refused counts as a gateway error): 1.
    const ejected = () => mesh.services()[0]?.endpoints.find((e) => e.key === b2.address)?.available === false;
    while (!ejected()) await send();
    closeGate();
    // One endpoint can take traffic: one request on its connection, one pending, the rest refused.
    const sent = burst(mesh, 5);
    await changed.until('3 refused and 1 request on the backend', () => sent.refused().length >= 3 && held.length >= 1);
    expect(sent.refused().map((r) => (r.error as OverloadError).limit)).toEqual(['http1MaxPendingRequests', 'http1MaxPendingRequests', 'http1MaxPendingRequests']);
    openGate();
    expect((await sent.all).filter((r) => r.ok)).toHaveLength(2);
    await mesh.close();
    await b3.close();
  });

  it('http2MaxRequests caps requests in flight across the service, and a reload changes it at once', async () => {
    closeGate();
    const mesh = createMesh({ discovery: [staticEndpoints({ httpbin: [backend.address] })], config: [rule({ http: { http2MaxRequests: 3 } })] });
    let sent = burst(mesh, 6);
    await changed.until('3 refused and 3 on the backend', () => sent.refused().length >= 3 && held.length >= 3);
    expect(sent.results).toHaveLength(3);
    expect(sent.refused().every((r) => (r.error as OverloadError).limit === 'http2MaxRequests')).toBe(true);
    openGate();
    expect((await sent.all).filter((r) => r.ok)).toHaveLength(3);

    mesh.applyConfig([rule({ http: { http2MaxRequests: 10 } })]);
    closeGate();
    sent = burst(mesh, 6);
    await changed.until('all 6 on the backend, or a refusal', () => held.length >= 6 || sent.results.length > 0);
    expect(sent.refused()).toEqual([]);
    openGate();
    expect((await sent.all).every((r) => r.ok)).toBe(true);
    await mesh.close();
  });

  it('without limits nothing is refused: 20 requests in flight at once', async () => {
    closeGate();
    const mesh = createMesh({ discovery: [staticEndpoints({ httpbin: [backend.address] })] });
    const sent = burst(mesh, 20);
    await changed.until('all 20 on the backend, or a refusal', () => held.length >= 20 || sent.results.length > 0);
    expect(sent.refused()).toEqual([]);
    openGate();
    expect((await sent.all).every((r) => r.ok)).toBe(true);
    await mesh.close();
  });
});
