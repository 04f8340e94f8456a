// The mesh's errors as a caller meets them: through mesh.fetch and the global fetch they
// arrive as the cause of `TypeError: fetch failed`; through undici.request as
// themselves. Each names its service and, where a sidecar would have answered, the
// status it would have answered with. Real servers on 127.0.0.1, real requests.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import {
  CircuitOpenError,
  createMesh,
  InvalidOptionError,
  isProxylessError,
  MeshClosedError,
  NoHealthyUpstreamError,
  OverloadError,
  ProxylessError,
  proxylessErrorOf,
  RouteTimeoutError,
  staticEndpoints,
  UnknownServiceError,
  type Mesh,
} from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

// Errors name the service by its host as the request (or route) wrote it.
const SERVICE = 'api';

/** What the call threw (it must throw). */
async function thrown(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => expect.fail('the call succeeded'),
    (error: unknown) => error,
  );
}

describe('errors: service, statusCode and isProxylessError through real calls', () => {
  it("REGISTRY_ONLY refusal: TypeError 'fetch failed' unwrapped; service is the host, statusCode 502 (Istio's BlackHoleCluster)", async () => {
    const mesh = createMesh({ outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    meshes.push(mesh);
    for (const error of [await thrown(mesh.fetch('http://unknown-service/')), await thrown(fetch('http://unknown-service/', { dispatcher: mesh.dispatcher }))]) {
      expect(error).toBeInstanceOf(TypeError);
      expect(error instanceof ProxylessError).toBe(false);
      expect(isProxylessError(error)).toBe(true);
      expect(isProxylessError(error, 'PROXYLESS_ERR_UNKNOWN_SERVICE')).toBe(true);
      expect(isProxylessError(error, 'PROXYLESS_ERR_CIRCUIT_OPEN')).toBe(false);
      const cause = proxylessErrorOf(error);
      expect(cause).toBeInstanceOf(UnknownServiceError);
      expect(cause).toMatchObject({ service: 'unknown-service', statusCode: 502, code: 'PROXYLESS_ERR_UNKNOWN_SERVICE' });
    }
  });

  it('an open circuit: CircuitOpenError names the service, statusCode 503', async () => {
    const api = await startBackend({ id: 'api', handle: (_req, res) => { res.statusCode = 500; res.end(); } });
    servers.push(api);
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'api', annotations: { 'proxyless.dev/circuit-breaker': JSON.stringify({ volumeThreshold: 2, resetTimeout: '60s' }) } },
          spec: { host: 'api' },
        },
      ],
    });
    meshes.push(mesh);
    let refusal: unknown;
    // The breaker opens after a few 500s (the count depends only on its settings, not time).
    for (let i = 0; i < 10 && refusal === undefined; i++) {
      try {
        await (await mesh.fetch('http://api/')).arrayBuffer();
      } catch (error) {
        refusal = error;
      }
    }
    expect(isProxylessError(refusal, 'PROXYLESS_ERR_CIRCUIT_OPEN')).toBe(true);
    const cause = proxylessErrorOf(refusal);
    expect(cause).toBeInstanceOf(CircuitOpenError);
    expect(cause).toMatchObject({ service: SERVICE, statusCode: 503 });
    // undici.request throws the mesh's error itself.
    const direct = await thrown(request('http://api/', { dispatcher: mesh.dispatcher }));
    expect(direct).toBeInstanceOf(CircuitOpenError);
    expect(proxylessErrorOf(direct)).toBe(direct);
  });

  it('a route timeout: RouteTimeoutError with the service and 504', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const api = await startBackend({ id: 'slow', handle: (_req, res) => void held.then(() => res.end('late')) });
    servers.push(api);
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [{ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'api' }, spec: { hosts: ['api'], http: [{ timeout: '50ms', route: [{ destination: { host: 'api' } }] }] } }],
    });
    meshes.push(mesh);
    try {
      const error = await thrown(mesh.fetch('http://api/'));
      expect(proxylessErrorOf(error)).toBeInstanceOf(RouteTimeoutError);
      expect(proxylessErrorOf(error)).toMatchObject({ service: SERVICE, statusCode: 504 });
    } finally {
      release();
    }
  });

  it('connectionPool overflow: OverloadError with the service and 503', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const api = await startBackend({ id: 'busy', handle: (_req, res) => void held.then(() => res.end('ok')) });
    servers.push(api);
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api' }, spec: { host: 'api', trafficPolicy: { connectionPool: { http: { http2MaxRequests: 1, http1MaxPendingRequests: 1 } } } } }],
    });
    meshes.push(mesh);
    const first = mesh.fetch('http://api/');
    await api.whenRequests(1);
    try {
      const error = await thrown(mesh.fetch('http://api/'));
      expect(proxylessErrorOf(error)).toBeInstanceOf(OverloadError);
      expect(proxylessErrorOf(error)).toMatchObject({ service: SERVICE, statusCode: 503 });
    } finally {
      release();
      await (await first).arrayBuffer();
    }
  });

  it('every endpoint ejected: NoHealthyUpstreamError with the service and 503', async () => {
    const api = await startBackend({ id: 'bad', handle: (_req, res) => { res.statusCode = 503; res.end(); } });
    servers.push(api);
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api' }, spec: { host: 'api', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1, baseEjectionTime: '60s', maxEjectionPercent: 100 } } } }],
    });
    meshes.push(mesh);
    let refusal: unknown;
    for (let i = 0; i < 5 && refusal === undefined; i++) {
      try {
        await (await mesh.fetch('http://api/')).arrayBuffer();
      } catch (error) {
        refusal = error;
      }
    }
    expect(proxylessErrorOf(refusal)).toBeInstanceOf(NoHealthyUpstreamError);
    expect(proxylessErrorOf(refusal)).toMatchObject({ service: SERVICE, statusCode: 503 });
  });

  it('errors about no service say so: service and statusCode undefined', async () => {
    const mesh = createMesh();
    await mesh.close();
    const closed = proxylessErrorOf(await thrown(mesh.fetch('http://api/')));
    expect(closed).toBeInstanceOf(MeshClosedError);
    expect(closed).toMatchObject({ service: undefined, statusCode: undefined });
    let invalid: unknown;
    try {
      createMesh({ discoveryTimeout: -1 });
    } catch (error) {
      invalid = error;
    }
    expect(invalid).toBeInstanceOf(InvalidOptionError);
    expect(invalid).toMatchObject({ service: undefined, statusCode: undefined });
  });

  it('isProxylessError is bounded: cycles, deep chains, AggregateError and non-errors', () => {
    const inner = new UnknownServiceError('x', []);
    const cyclic = new Error('a') as Error & { cause?: unknown };
    cyclic.cause = cyclic;
    expect(isProxylessError(cyclic)).toBe(false);
    let deep: unknown = inner;
    for (let i = 0; i < 7; i++) deep = new Error(`level ${i}`, { cause: deep });
    expect(proxylessErrorOf(deep)).toBe(inner);
    let tooDeep: unknown = inner;
    for (let i = 0; i < 20; i++) tooDeep = new Error(`level ${i}`, { cause: tooDeep });
    expect(proxylessErrorOf(tooDeep)).toBeUndefined();
    expect(proxylessErrorOf(new AggregateError([new Error('other'), new TypeError('fetch failed', { cause: inner })]))).toBe(inner);
    for (const value of [undefined, null, 'PROXYLESS_ERR_X', 42, { code: 'PROXYLESS_ERR_UNKNOWN_SERVICE' }]) expect(isProxylessError(value)).toBe(false);
  });
});
