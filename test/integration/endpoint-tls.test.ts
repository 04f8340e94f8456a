// TLS to the endpoints of https:// services: endpointPool.tls (trust, client certificate,
// SNI override, verification off), used by the traffic and by the active health checks,
// against real HTTPS servers with certificates made now by openssl.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { rootCertificates } from 'node:tls';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { startHttpsBackend, testPki, type HttpsBackend, type KeyPair, type TestCa, type TestPki } from '../helpers/certs.js';
import { requireBinaries } from '../helpers/system-binaries.js';

const openssl = requireBinaries([{ bin: 'openssl', pkg: 'openssl' }]);

const healthRule = (spec: object) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'api', annotations: { 'proxyless.dev/health-check': JSON.stringify(spec) } },
  spec: { host: 'api' },
});

/** Answers 200 to `/healthz` and `200 <path>` to the rest. */
const answer = (req: { url?: string | undefined }, res: { end(body: string): void }): void => res.end(req.url === '/healthz' ? 'ok' : `api ${req.url}`);

describe.skipIf(openssl.skip)(`endpointPool.tls against real HTTPS endpoints${openssl.note}`, () => {
  let pki: TestPki;
  let ca: TestCa;
  let other: TestCa;
  let apiCert: KeyPair;
  const meshes: Mesh[] = [];
  const servers: HttpsBackend[] = [];

  beforeAll(() => {
    pki = testPki();
    ca = pki.ca('proxyless test CA');
    other = pki.ca('another CA');
    apiCert = ca.leaf('api', ['DNS:api']);
  });
  afterAll(() => pki.cleanup());
  afterEach(async () => {
    await Promise.all(meshes.splice(0).map((m) => m.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function server(options: Parameters<typeof startHttpsBackend>[0]): Promise<HttpsBackend> {
    const s = await startHttpsBackend(options);
    servers.push(s);
    return s;
  }

  function mesh(options: Parameters<typeof createMesh>[0]): Mesh {
    const m = createMesh(options);
    meshes.push(m);
    return m;
  }

  async function get(m: Mesh, url: string): Promise<string> {
    const res = await request(url, { dispatcher: m.dispatcher });
    return `${res.statusCode} ${await res.body.text()}`;
  }

  it('ca trusts a private CA: the request is verified against it and the URL host is the SNI', async () => {
    const api = await server({ identity: apiCert, handle: answer });
    const untrusted = mesh({ discovery: [staticEndpoints({ api: [api.address] })] });
    await expect(get(untrusted, 'https://api/')).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const trusted = mesh({ discovery: [staticEndpoints({ api: [api.address] })], endpointPool: { tls: { ca: ca.cert } } });
    expect(await get(trusted, 'https://api/x')).toBe('200 api /x');
    expect(api.servernames.at(-1)).toBe('api');
    // A CA that did not sign the endpoint's certificate is not enough.
    const wrong = mesh({ discovery: [staticEndpoints({ api: [api.address] })], endpointPool: { tls: { ca: other.cert } } });
    await expect(get(wrong, 'https://api/')).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('ca replaces the built-in roots as in Node; adding them back trusts both', async () => {
    const api = await server({ identity: apiCert, handle: answer });
    const m = mesh({ discovery: [staticEndpoints({ api: [api.address] })], endpointPool: { tls: { ca: [...rootCertificates, ca.cert] } } });
    expect(await get(m, 'https://api/')).toBe('200 api /');
  });

  it('active health checks of an https:// service speak its TLS: a healthy endpoint stays in service', async () => {
    const api = await server({ identity: apiCert, handle: answer });
    const m = mesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [healthRule({ interval: '20ms', jitter: 0, timeout: '1s', unhealthyThreshold: 1 })],
      endpointPool: { tls: { ca: ca.cert } },
    });
    expect(await get(m, 'https://api/')).toBe('200 api /');
    // Three checks answered over TLS, with the service's SNI.
    await vi.waitFor(() => expect(api.paths.filter((p) => p === '/healthz').length).toBeGreaterThanOrEqual(3), { timeout: 5_000, interval: 10 });
    expect(api.servernames.every((name) => name === 'api')).toBe(true);
    expect(m.services()[0]!.endpoints[0]!.available).toBe(true);
    expect(await get(m, 'https://api/again')).toBe('200 api /again');
  });

  it('health checks send the traffic\'s SNI even when they send another Host header', async () => {
    const api = await server({ identity: apiCert, handle: answer });
    const m = mesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [healthRule({ interval: '20ms', jitter: 0, unhealthyThreshold: 1, host: 'health.internal' })],
      endpointPool: { tls: { ca: ca.cert } },
    });
    expect(await get(m, 'https://api/')).toBe('200 api /');
    await vi.waitFor(() => expect(api.paths.filter((p) => p === '/healthz').length).toBeGreaterThanOrEqual(2), { timeout: 5_000, interval: 10 });
    expect(new Set(api.servernames)).toEqual(new Set(['api']));
    expect(m.services()[0]!.endpoints[0]!.available).toBe(true);
  });

  it('a client certificate is presented to endpoints that require one, by the traffic and the health checks', async () => {
    const client = ca.leaf('orders', [], 'clientAuth');
    const api = await server({ identity: apiCert, clientCa: ca.cert, handle: answer });
    const without = mesh({ discovery: [staticEndpoints({ api: [api.address] })], endpointPool: { tls: { ca: ca.cert } } });
    await expect(get(without, 'https://api/')).rejects.toThrow();
    const m = mesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [healthRule({ interval: '20ms', jitter: 0, unhealthyThreshold: 1 })],
      endpointPool: { tls: { ca: ca.cert, cert: client.cert, key: client.key } },
    });
    expect(await get(m, 'https://api/')).toBe('200 api /');
    await vi.waitFor(() => expect(api.paths.filter((p) => p === '/healthz').length).toBeGreaterThanOrEqual(2), { timeout: 5_000, interval: 10 });
    expect(new Set(api.clients)).toEqual(new Set(['orders']));
    expect(m.services()[0]!.endpoints[0]!.available).toBe(true);
  });

  it('servername overrides the SNI and the name verified, for the traffic and the health checks', async () => {
    const internal = await server({ identity: ca.leaf('backend.internal', ['DNS:backend.internal']), handle: answer });
    const plain = mesh({ discovery: [staticEndpoints({ api: [internal.address] })], endpointPool: { tls: { ca: ca.cert } } });
    await expect(get(plain, 'https://api/')).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    // A failed handshake is a connect failure: the default policy retries it, so count them.
    const before = internal.servernames.length;
    const m = mesh({
      discovery: [staticEndpoints({ api: [internal.address] })],
      config: [healthRule({ interval: '20ms', jitter: 0, unhealthyThreshold: 1 })],
      endpointPool: { tls: { ca: ca.cert, servername: 'backend.internal' } },
    });
    expect(await get(m, 'https://api/')).toBe('200 api /');
    await vi.waitFor(() => expect(internal.paths.filter((p) => p === '/healthz').length).toBeGreaterThanOrEqual(2), { timeout: 5_000, interval: 10 });
    expect(m.services()[0]!.endpoints[0]!.available).toBe(true);
    expect(new Set(internal.servernames.slice(before))).toEqual(new Set(['backend.internal']));
  });

  it('rejectUnauthorized: false connects to an untrusted endpoint, with a loud process warning', async () => {
    const api = await server({ identity: other.leaf('anything', ['DNS:anything']), handle: answer });
    const warnings: Array<{ code?: string; message: string }> = [];
    const onWarning = (warning: Error & { code?: string }): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const m = mesh({ discovery: [staticEndpoints({ api: [api.address] })], endpointPool: { tls: { rejectUnauthorized: false } } });
      expect(await get(m, 'https://api/')).toBe('200 api /');
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    const warning = warnings.find((w) => w.code === 'PROXYLESS_W_TLS_UNVERIFIED');
    expect(warning?.message).toMatch(/NOT verified/);
  });

  it('http:// services are not touched by endpointPool.tls', async () => {
    const m = mesh({ discovery: [staticEndpoints({ api: ['127.0.0.1:1'] })], endpointPool: { tls: { ca: ca.cert } } });
    await expect(get(m, 'http://api/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
