// The deadline travels to the callee in x-envoy-expected-rq-timeout-ms inside the mesh,
// and never to a service outside it (a ServiceEntry with location MESH_EXTERNAL, Istio's
// default location). Each try carries its own value, as Envoy's router writes it
// (FilterUtility::setTimeoutHeaders, again on each retry): the per-try timeout when the
// route has one below its timeout, else the route's time left.
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

const entry = (host: string, port: number, location: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host.split('.')[0]} }
spec:
  hosts: [${host}]
  ${location}
  resolution: STATIC
  ports: [{ number: 80, name: http }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${host.split('.')[0]} }
spec:
  hosts: [${host}]
  http:
  - timeout: 3s
    route: [{ destination: { host: ${host} } }]
`;

async function headersSeen(location: string): Promise<Record<string, unknown>> {
  const echo = await startBackend({ id: 'echo' });
  servers.push(echo);
  const m = createMesh({ config: entry('pay.example.com', echo.port, location) });
  meshes.push(m);
  const res = await request('http://pay.example.com/echo', { dispatcher: m.dispatcher });
  return ((await res.body.json()) as { headers: Record<string, unknown> }).headers;
}

describe('the deadline header', () => {
  it('is not sent to a MESH_EXTERNAL service', async () => {
    expect(await headersSeen('location: MESH_EXTERNAL')).not.toHaveProperty('x-envoy-expected-rq-timeout-ms');
  });

  it('is not sent to a ServiceEntry with no location (MESH_EXTERNAL is the default)', async () => {
    expect(await headersSeen('')).not.toHaveProperty('x-envoy-expected-rq-timeout-ms');
  });

  it('is sent to a MESH_INTERNAL service', async () => {
    expect(await headersSeen('location: MESH_INTERNAL')).toMatchObject({ 'x-envoy-expected-rq-timeout-ms': '3000' });
  });
});

/**
 * The header each try of one call carried, in order. The server answers each try with
 * `answers[n]` (a status, and a Retry-After in seconds when given), 200 after the last.
 */
async function triesSeen(route: string, answers: Array<{ status: number; retryAfter?: number }>, headers?: string[], where = 'static'): Promise<Array<string | undefined>> {
  const seen: Array<string | undefined> = [];
  const backend = await startBackend({
    id: 'tries',
    handle: (req, res) => {
      seen.push(req.headers['x-envoy-expected-rq-timeout-ms'] as string | undefined);
      const answer = answers[seen.length - 1];
      res.statusCode = answer?.status ?? 200;
      if (answer?.retryAfter !== undefined) res.setHeader('retry-after', String(answer.retryAfter));
      res.end();
    },
  });
  servers.push(backend);
  const host = where === 'static' ? 'api' : 'pay.example.com';
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [${host}]
  http:
  - ${route}
    route: [{ destination: { host: ${host} } }]
`;
  const m =
    where === 'static'
      ? createMesh({ discovery: [staticEndpoints({ api: [backend.address] })], config: vs })
      : createMesh({ config: [entry(host, backend.port, where).split('---')[0]!, vs] });
  meshes.push(m);
  const res = await request(`http://${host}/`, { dispatcher: m.dispatcher, headers });
  await res.body.dump();
  expect(res.statusCode).toBe(200);
  return seen;
}

describe('the deadline header of each try (Envoy: the per-try timeout, or the time left)', () => {
  it('a per-try timeout below the route timeout is what the first try and the retry carry', async () => {
    const seen = await triesSeen('timeout: 5s\n    retries: { attempts: 2, perTryTimeout: 1s, retryOn: 5xx }', [{ status: 503 }]);
    expect(seen).toEqual(['1000', '1000']);
  });

  it('without a per-try timeout, a retry carries the route time left, not the whole timeout', async () => {
    // Retry-After: 1 makes the retry wait at least 1 s, so at most 3 s of the 4 s are left.
    const seen = await triesSeen('timeout: 4s\n    retries: { attempts: 2, retryOn: 5xx }', [{ status: 503, retryAfter: 1 }]);
    expect(seen[0]).toBe('4000');
    expect(Number(seen[1])).toBeGreaterThan(0);
    expect(Number(seen[1])).toBeLessThanOrEqual(3000);
  });

  it('a per-try timeout longer than the time left gives way to it (on the retry after a 1 s wait: at most 2 s of 3 s)', async () => {
    const seen = await triesSeen('timeout: 3s\n    retries: { attempts: 2, perTryTimeout: 2500ms, retryOn: 5xx }', [{ status: 503, retryAfter: 1 }]);
    expect(seen[0]).toBe('2500');
    expect(Number(seen[1])).toBeLessThanOrEqual(2000);
  });

  it('a per-try timeout not below the route timeout is ignored: the first try carries the route timeout', async () => {
    const seen = await triesSeen('timeout: 1s\n    retries: { attempts: 1, perTryTimeout: 2s, retryOn: 5xx }', []);
    expect(seen).toEqual(['1000']);
  });

  it('a per-try timeout with no route timeout is what each try carries (Envoy: a route timeout of 0 is none)', async () => {
    const seen = await triesSeen('retries: { attempts: 2, perTryTimeout: 700ms, retryOn: 5xx }', [{ status: 503 }]);
    expect(seen).toEqual(['700', '700']);
  });

  it("replaces the caller's own header, whatever its case: one value on the wire", async () => {
    const seen = await triesSeen('timeout: 3s\n    retries: { attempts: 2, perTryTimeout: 1s, retryOn: 5xx }', [{ status: 503 }], ['X-Envoy-Expected-Rq-Timeout-Ms', '99999']);
    expect(seen).toEqual(['1000', '1000']);
  });

  it('no try to a MESH_EXTERNAL service carries it, retries included', async () => {
    const seen = await triesSeen('timeout: 3s\n    retries: { attempts: 2, perTryTimeout: 1s, retryOn: 5xx }', [{ status: 503 }], undefined, 'location: MESH_EXTERNAL');
    expect(seen).toEqual([undefined, undefined]);
  });
});

/**
 * Two endpoints sharing one handler that records the header each try carried: the first
 * try is held (never answered, so a hedge's backup fires after its delay), the second is
 * answered `backup`.
 */
async function firstTryHeld(): Promise<{ seen: Array<string | undefined>; a: Backend; b: Backend }> {
  const seen: Array<string | undefined> = [];
  const handle = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    seen.push(req.headers['x-envoy-expected-rq-timeout-ms'] as string | undefined);
    if (seen.length > 1) res.end('backup');
  };
  const a = await startBackend({ id: 'a', handle });
  const b = await startBackend({ id: 'b', handle });
  servers.push(a, b);
  return { seen, a, b };
}

describe('the deadline header of a hedged backup (Envoy writes it for each upstream request with the time elapsed)', () => {
  /**
   * The header each try carried: two endpoints share one handler, the first try is held
   * (never answered, so the backup fires after its delay), the backup is answered.
   */
  async function hedgedSeen(route: string, delay: string, headers?: Record<string, string>): Promise<Array<string | undefined>> {
    const { seen, a, b } = await firstTryHeld();
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
  annotations:
    proxyless.dev/hedging: '{"delay": "${delay}", "maxExtraPercent": 100}'
spec:
  hosts: [api]
  http:
  - ${route === '' ? '' : `${route}\n    `}route: [{ destination: { host: api } }]
`;
    const m = createMesh({ discovery: [staticEndpoints({ api: [a.address, b.address] })], config: vs });
    meshes.push(m);
    const res = await request('http://api/', { dispatcher: m.dispatcher, ...(headers ? { headers } : {}) });
    expect(await res.body.text()).toBe('backup');
    return seen;
  }

  it('a backup sent after the delay carries the route time left then, not the time left when the try began', async () => {
    // The backup leaves at least 400 ms after the first try (a timer never fires early by
    // more than a millisecond): it has at most 5000 - 399 ms left.
    const seen = await hedgedSeen('timeout: 5s', '400ms');
    expect(seen[0]).toBe('5000');
    expect(Number(seen[1])).toBeGreaterThan(0);
    expect(Number(seen[1])).toBeLessThanOrEqual(4601);
  });

  it("a backup within a per-try timeout carries what is left of the try's time (the backup runs inside that try)", async () => {
    const seen = await hedgedSeen('timeout: 5s\n    retries: { attempts: 1, perTryTimeout: 2s, retryOn: 5xx }', '400ms');
    expect(seen[0]).toBe('2000');
    expect(Number(seen[1])).toBeGreaterThan(0);
    expect(Number(seen[1])).toBeLessThanOrEqual(1601);
  });

  it("without a route timeout, per-try timeout or deadline the caller's own header goes to both tries as written", async () => {
    const seen = await hedgedSeen('', '50ms', { 'x-envoy-expected-rq-timeout-ms': '7777' });
    expect(seen).toEqual(['7777', '7777']);
  });
});

describe('the deadline header of hedged tries to a MESH_EXTERNAL service', () => {
  it('neither the primary nor the backup carries it', async () => {
    const { seen, a, b } = await firstTryHeld();
    const config = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: pay }
spec:
  hosts: [pay.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${a.port} } }, { address: 127.0.0.1, ports: { http: ${b.port} } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: pay
  annotations:
    proxyless.dev/hedging: '{"delay": "50ms", "maxExtraPercent": 100}'
spec:
  hosts: [pay.example.com]
  http:
  - timeout: 5s
    retries: { attempts: 1, perTryTimeout: 2s, retryOn: 5xx }
    route: [{ destination: { host: pay.example.com } }]
`;
    const m = createMesh({ config });
    meshes.push(m);
    const res = await request('http://pay.example.com/', { dispatcher: m.dispatcher });
    expect(await res.body.text()).toBe('backup');
    expect(seen).toEqual([undefined, undefined]);
  });
});
