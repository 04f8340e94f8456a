// Istio's default retry policy and what `retries` fields imply (semantics.md §8; istio/istio
// pilot/pkg/networking/core/route/retry/retry.go), against real servers, with proxyless's
// one deviation: a request that may have reached the application is replayed only for
// idempotent methods, or when the route opts in (proxyless.dev/retry-non-idempotent).
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
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

async function server(id: string, plan: (n: number, req: IncomingMessage, res: ServerResponse) => void = (_n, _req, res) => res.end(id)): Promise<Backend> {
  const b = await startBackend({ id, handle: (req, res, backend) => plan(backend.requests, req, res) });
  servers.push(b);
  return b;
}

/** A port nothing listens on (a connection to it is refused). */
async function closedPort(): Promise<string> {
  const s: NetServer = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return `127.0.0.1:${port}`;
}

const vs = (http: string, annotations = ''): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
${annotations ? `  annotations: { ${annotations} }\n` : ''}spec:
  hosts: [api]
  http:
${http}`;

const rule = (lb: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec: { host: api, trafficPolicy: { loadBalancer: ${lb} } }`;

function mesh(endpoints: string[], config: string[] = []): Mesh {
  const m = createMesh({ discovery: [staticEndpoints({ api: endpoints })], config: [rule('{ simple: ROUND_ROBIN }'), ...config] });
  meshes.push(m);
  return m;
}

const send = async (m: Mesh, method = 'GET', headers: Record<string, string> = {}) => {
  const res = await request('http://api/', { method: method as 'GET', body: method === 'GET' ? undefined : 'x', headers, dispatcher: m.dispatcher });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
};

describe("Istio's default retries", () => {
  it('a connection failure is retried on another endpoint, for a POST too (nothing was sent)', async () => {
    const good = await server('good');
    const m = mesh([await closedPort(), good.address]);
    for (let i = 0; i < 4; i++) expect(await send(m, 'POST')).toMatchObject({ status: 200, body: 'good' });
  });

  it('no response status is retried by default, 503 included (Istio 1.24+)', async () => {
    const busy = await server('busy', (_n, _req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const m = mesh([busy.address]);
    expect((await send(m)).status).toBe(503);
    expect(busy.requests).toBe(1);
  });

  it('a gRPC UNAVAILABLE (trailers-only) is retried for an idempotent call; a gRPC POST only when the route opts in', async () => {
    // Each call (x-call) gets UNAVAILABLE on its first try and OK after.
    const seen = new Map<string, number>();
    const grpc = await server('grpc', (_n, req, res) => {
      req.resume();
      const call = String(req.headers['x-call']);
      const tries = (seen.get(call) ?? 0) + 1;
      seen.set(call, tries);
      res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': tries === 1 ? '14' : '0' });
      res.end();
    });
    const byDefault = mesh([grpc.address]);
    expect((await send(byDefault, 'GET', { 'x-call': 'get' })).headers['grpc-status']).toBe('0');
    expect(seen.get('get')).toBe(2);
    expect((await send(byDefault, 'POST', { 'x-call': 'post' })).headers['grpc-status']).toBe('14');
    expect(seen.get('post')).toBe(1);
    const optedIn = mesh([grpc.address], [vs('  - route: [{ destination: { host: api } }]\n', `proxyless.dev/retry-non-idempotent: '{}'`)]);
    expect((await send(optedIn, 'POST', { 'x-call': 'opted-in' })).headers['grpc-status']).toBe('0');
    expect(seen.get('opted-in')).toBe(2);
  });

  it('attempts alone keeps the default retryOn: a connection failure is retried, a 503 is not', async () => {
    const busy = await server('busy', (_n, _req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const m = mesh([await closedPort(), busy.address], [vs('  - retries: { attempts: 1 }\n    route: [{ destination: { host: api } }]\n')]);
    for (let i = 0; i < 4; i++) expect((await send(m)).status).toBe(503);
    expect(busy.requests).toBe(4);
  });

  it('a retries block without attempts turns retries off for the route (attempts unset is 0)', async () => {
    const good = await server('good');
    const m = mesh([await closedPort(), good.address], [vs('  - retries: {}\n    route: [{ destination: { host: api } }]\n')]);
    const outcomes = await Promise.all([send(m).then(() => 'ok', () => 'failed'), send(m).then(() => 'ok', () => 'failed')]);
    expect(outcomes.sort()).toEqual(['failed', 'ok']);
  });
});

describe('previous hosts under consistent hashing', () => {
  /** Two endpoints; each call (x-call) gets 503 on its first try, wherever it lands. Returns the endpoints each call's tries reached. */
  const hashedMesh = async (retries: string) => {
    const tries = new Map<string, string[]>();
    const handle = (id: string) => (_n: number, req: IncomingMessage, res: ServerResponse) => {
      const call = String(req.headers['x-call']);
      const seen = tries.get(call) ?? [];
      tries.set(call, [...seen, id]);
      if (seen.length === 0) res.statusCode = 503;
      res.end(id);
    };
    const [a, b] = [await server('a', handle('a')), await server('b', handle('b'))];
    const m = createMesh({
      discovery: [staticEndpoints({ api: [a.address, b.address] })],
      config: [rule('{ consistentHash: { httpHeaderName: x-call } }'), vs(`  - retries: ${retries}\n    route: [{ destination: { host: api } }]\n`)],
    });
    meshes.push(m);
    for (const call of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) expect((await send(m, 'GET', { 'x-call': call })).status).toBe(200);
    return [...tries.values()];
  };

  it('a retry stays on the hashed endpoint when the route does not say otherwise', async () => {
    const calls = await hashedMesh('{ attempts: 2, retryOn: "503" }');
    for (const endpoints of calls) expect(endpoints).toEqual([endpoints[0], endpoints[0]]);
  });

  it('retryIgnorePreviousHosts: true moves a retry along the ring, as Envoy does (a move may land on the same endpoint)', async () => {
    const calls = await hashedMesh('{ attempts: 2, retryOn: "503", retryIgnorePreviousHosts: true }');
    // Each of 6 calls re-picks up to 5 nodes on; all landing back on their first endpoint is about 1 in 10^9.
    expect(calls.some(([first, second]) => first !== second)).toBe(true);
  });
});

describe('the deviation: non-idempotent requests that may have reached the application', () => {
  it('a POST reset after sending is not replayed, and the error says why; the route can opt in', async () => {
    const resetting = await server('resetting', (n, req) => {
      req.resume();
      if (n === 1) req.socket.destroy();
    });
    const m = mesh([resetting.address], [vs('  - retries: { attempts: 2, retryOn: "reset" }\n    route: [{ destination: { host: api } }]\n')]);
    const error = await send(m, 'POST').catch((e: unknown) => e);
    expect((error as { retry?: { stoppedBecause: string } }).retry?.stoppedBecause).toMatch(/the POST request may have reached the application, and proxyless replays such a request only for idempotent methods .* proxyless\.dev\/retry-non-idempotent annotation; Istio would retry it/);
    expect(resetting.requests).toBe(1);
    const explained = await m.explain('http://api/', { method: 'POST' });
    expect(explained.policies.join('\n')).toContain('replayed only for idempotent methods (proxyless.dev/retry-non-idempotent opts a route in)');
  });

  it('a route named in the annotation replays a POST; another route of the same VirtualService does not', async () => {
    const flaky = await server('flaky', (n, req, res) => {
      req.resume();
      if (n % 2 === 1) {
        res.statusCode = 503;
        res.end();
      } else res.end('ok');
    });
    const config = vs(
      '  - name: checkout\n    match: [{ uri: { prefix: /checkout } }]\n    retries: { attempts: 1, retryOn: 5xx }\n    route: [{ destination: { host: api } }]\n' +
        '  - name: other\n    retries: { attempts: 1, retryOn: 5xx }\n    route: [{ destination: { host: api } }]\n',
      `proxyless.dev/retry-non-idempotent: '{"routes": ["checkout"]}'`,
    );
    const m = mesh([flaky.address], [config]);
    const post = async (path: string) => (await request(`http://api${path}`, { method: 'POST', body: 'x', dispatcher: m.dispatcher })).statusCode;
    expect(await post('/checkout')).toBe(200);
    expect(flaky.requests).toBe(2);
    expect(await post('/other')).toBe(503);
    expect(flaky.requests).toBe(3);
  });
});
