// The access log's `protocol` is the HTTP version really spoken, against real servers:
// outbound, what the connection to the endpoint negotiated (HTTP/2 when TLS chose `h2` by
// ALPN, as undici decides; HTTP/1.1 in the clear or when the server offers only it), and
// null when the mesh cannot know (a pool a custom layer built); inbound, what the request
// arrived in, named as Envoy's %PROTOCOL% names it (`HTTP/2`, not Node's `2.0`).
import { createServer as createHttpServer, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, Pool, request } from 'undici';
import { createMesh, inbound, layer, staticEndpoints, type AccessLogEntry, type EndpointTarget, type Mesh } from 'proxyless';
import { startHttpsBackend, testPki, type HttpsBackend, type KeyPair, type TestCa, type TestPki } from '../../helpers/certs.js';
import { closeServer, listen } from '../../helpers/listen.js';
import { requireBinaries } from '../../helpers/system-binaries.js';

const openssl = requireBinaries([{ bin: 'openssl', pkg: 'openssl' }]);

describe.skipIf(openssl.skip)(`access log protocol: the HTTP version spoken${openssl.note}`, () => {
  let pki: TestPki;
  let ca: TestCa;
  let apiCert: KeyPair;
  const meshes: Mesh[] = [];
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(() => {
    pki = testPki();
    ca = pki.ca('proxyless test CA');
    apiCert = ca.leaf('api', ['DNS:api', 'IP:127.0.0.1']);
  });
  afterAll(() => pki.cleanup());
  afterEach(async () => {
    await Promise.all(meshes.splice(0).map((m) => m.close()));
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  /** A real HTTP/2 server over TLS (HTTP/1.1 allowed too); records the version each request came in. */
  async function h2Server(): Promise<{ address: string; url: string; versions: string[] }> {
    const versions: string[] = [];
    const server: Http2SecureServer = createSecureServer({ cert: apiCert.cert, key: apiCert.key, allowHTTP1: true }, (req, res) => {
      versions.push(req.httpVersion);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as AddressInfo;
    return { address: `127.0.0.1:${port}`, url: `https://127.0.0.1:${port}`, versions };
  }

  /** A mesh for `api` at `address` whose access log entries land in the returned array. */
  function loggingMesh(address: string, extra: Partial<Parameters<typeof createMesh>[0]> = {}): { mesh: Mesh; entries: AccessLogEntry[] } {
    const entries: AccessLogEntry[] = [];
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [address] })],
      telemetry: { accessLog: { logger: { info: (entry) => void entries.push(entry as AccessLogEntry) } } },
      ...extra,
    });
    meshes.push(mesh);
    return { mesh, entries };
  }

  async function get(mesh: Mesh, url: string): Promise<string> {
    const res = await request(url, { dispatcher: mesh.dispatcher });
    return `${res.statusCode} ${await res.body.text()}`;
  }

  it('outbound to an HTTP/2 server over TLS: the connection negotiates h2 and the entry says HTTP/2', async () => {
    const server = await h2Server();
    const { mesh, entries } = loggingMesh(server.address, { endpointPool: { tls: { ca: ca.cert } } });
    expect(await get(mesh, 'https://api/')).toBe('200 ok');
    expect(server.versions).toEqual(['2.0']); // the server saw HTTP/2: what the entry must say
    expect(entries.map((e) => [e.protocol, e.upstream_host])).toEqual([['HTTP/2', server.address]]);
  });

  it('outbound to an HTTPS server that offers only HTTP/1.1, and in the clear: HTTP/1.1', async () => {
    const https: HttpsBackend = await startHttpsBackend({ identity: apiCert });
    closers.push(() => https.close());
    const tls = loggingMesh(https.address, { endpointPool: { tls: { ca: ca.cert } } });
    expect(await get(tls.mesh, 'https://api/x')).toBe('200 https');
    expect(tls.entries.map((e) => e.protocol)).toEqual(['HTTP/1.1']);

    const plain: Server = createHttpServer((_req, res) => res.end('plain'));
    const base = await listen(plain);
    closers.push(() => closeServer(plain));
    const clear = loggingMesh(new URL(base).host);
    expect(await get(clear.mesh, 'http://api/')).toBe('200 plain');
    expect(clear.entries.map((e) => e.protocol)).toEqual(['HTTP/1.1']);
  });

  it('outbound through a pool a custom layer built: the mesh cannot know the protocol, the entry says null', async () => {
    const server = await h2Server();
    const pools: Pool[] = [];
    closers.push(() => Promise.all(pools.map((p) => p.destroy())));
    const ownPool = layer<EndpointTarget>('pool', (_next, endpoint) => {
      const pool = new Pool(`https://${endpoint.address}:${endpoint.port}`, { connect: { ca: ca.cert, servername: 'api' } });
      pools.push(pool);
      return (opts, handler) => pool.dispatch(opts, handler);
    });
    const { mesh, entries } = loggingMesh(server.address, { stacks: { endpoint: (stack) => void stack.replace('pool', ownPool) } });
    expect(await get(mesh, 'https://api/')).toBe('200 ok');
    expect(server.versions).toHaveLength(1);
    expect(entries.map((e) => e.protocol)).toEqual([null]);
  });

  it('inbound: a request that arrived over HTTP/2 is logged as HTTP/2, one over HTTP/1.1 as HTTP/1.1', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({})] });
    meshes.push(mesh);
    const entries: AccessLogEntry[] = [];
    const side = inbound(mesh, { telemetry: { accessLog: { logger: { info: (entry) => void entries.push(entry as AccessLogEntry) } } } });
    const handler = side.handler((_req, res) => res.end('in'));
    const server = createSecureServer({ cert: apiCert.cert, key: apiCert.key, allowHTTP1: true }, handler as never);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;

    const h2 = new Agent({ allowH2: true, connect: { ca: ca.cert } });
    const h1 = new Agent({ allowH2: false, connect: { ca: ca.cert } });
    closers.push(() => Promise.all([h2.close(), h1.close()]));
    for (const dispatcher of [h2, h1]) {
      const res = await request(url, { dispatcher });
      expect(await res.body.text()).toBe('in');
    }
    expect(entries.map((e) => [e.direction, e.protocol])).toEqual([
      ['inbound', 'HTTP/2'],
      ['inbound', 'HTTP/1.1'],
    ]);
  });
});

describe('access log protocol of an IPv6 endpoint', () => {
  const meshes: Mesh[] = [];
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(meshes.splice(0).map((m) => m.close()));
    await Promise.all(servers.splice(0).map((s) => closeServer(s)));
  });

  // undici hands its connector an IPv6 hostname without brackets (client.js strips them),
  // while endpoint keys (upstream_host) are written with them: both must name one endpoint.
  it('outbound to [::1] in the clear: HTTP/1.1, as for an IPv4 endpoint', async () => {
    const server: Server = createHttpServer((_req, res) => res.end('v6'));
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    servers.push(server);
    const address = `[::1]:${(server.address() as AddressInfo).port}`;
    const entries: AccessLogEntry[] = [];
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [address] })],
      telemetry: { accessLog: { logger: { info: (entry) => void entries.push(entry as AccessLogEntry) } } },
    });
    meshes.push(mesh);
    const res = await request('http://api/', { dispatcher: mesh.dispatcher });
    expect(await res.body.text()).toBe('v6');
    expect(entries.map((e) => [e.protocol, e.upstream_host])).toEqual([['HTTP/1.1', address]]);
  });
});
