// HTTP/2 stream errors against a real HTTP/2 server (cleartext, prior knowledge): only
// REFUSED_STREAM (code 7) says the server did not act on the request; any other reset may
// come after it did, so a POST is not sent again.
import { createServer, constants, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool, request } from 'undici';
import { createMesh, layer, staticEndpoints, type EndpointTarget, type Mesh } from 'proxyless';

const meshes: Mesh[] = [];
const pools: Pool[] = [];
const servers: Http2Server[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** An HTTP/2 server whose nth stream (1-based) is handled by `plan`. */
async function h2Server(plan: (n: number, stream: ServerHttp2Stream) => void): Promise<{ address: string; streams: () => number }> {
  let n = 0;
  const server = createServer();
  server.on('stream', (stream) => {
    n++;
    stream.on('error', () => {});
    plan(n, stream);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, streams: () => n };
}

const answer = (stream: ServerHttp2Stream): void => {
  stream.respond({ ':status': 200 });
  stream.end('ok');
};

/**
 * The mesh with its endpoints' pools speaking HTTP/2 with prior knowledge: the `pool`
 * layer replaced by one that makes undici Pools with `useH2c` (the stack API users have;
 * the default pools negotiate HTTP/2 only over TLS).
 */
function h2Mesh(address: string): Mesh {
  const h2Pool = layer<EndpointTarget>('pool', (_next, endpoint) => {
    const pool = new Pool(`http://${endpoint.address}:${endpoint.port}`, { useH2c: true } as Pool.Options);
    pools.push(pool);
    return (opts, handler) => pool.dispatch(opts, handler);
  });
  // retryOn with `reset` (Istio's default has none): what is tested is which resets are safe to replay.
  const config = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api]
  http:
  - retries: { attempts: 2, retryOn: "connect-failure,refused-stream,reset" }
    route: [{ destination: { host: api } }]
`;
  const m = createMesh({ discovery: [staticEndpoints({ api: [address] })], config, stacks: { endpoint: (stack) => void stack.replace('pool', h2Pool) } });
  meshes.push(m);
  return m;
}

describe('HTTP/2 stream errors and retries (retryOn connect-failure, refused-stream, reset)', () => {
  it('a POST reset with INTERNAL_ERROR is not sent again: the server may have acted on it', async () => {
    const server = await h2Server((_n, stream) => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    const m = h2Mesh(server.address);
    await expect(request('http://api/', { dispatcher: m.dispatcher, method: 'POST', body: 'pay' })).rejects.toMatchObject({ code: 'ERR_HTTP2_STREAM_ERROR' });
    expect(server.streams()).toBe(1);
  });

  it('a GET reset with INTERNAL_ERROR is retried (idempotent, retryOn reset)', async () => {
    const server = await h2Server((n, stream) => (n === 1 ? stream.close(constants.NGHTTP2_INTERNAL_ERROR) : answer(stream)));
    const m = h2Mesh(server.address);
    const res = await request('http://api/', { dispatcher: m.dispatcher });
    expect(await res.body.text()).toBe('ok');
    expect(server.streams()).toBe(2);
  });

  it('a POST refused with REFUSED_STREAM is sent again: the server did not process it', async () => {
    // undici replays a refused stream once by itself; refusing two makes the mesh's retry do the rest.
    const server = await h2Server((n, stream) => (n <= 2 ? stream.close(constants.NGHTTP2_REFUSED_STREAM) : answer(stream)));
    const m = h2Mesh(server.address);
    const res = await request('http://api/', { dispatcher: m.dispatcher, method: 'POST', body: 'pay' });
    expect(await res.body.text()).toBe('ok');
    expect(server.streams()).toBe(3);
  });
});
