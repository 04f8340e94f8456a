import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, UnknownServiceError } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';
import { requireBinaries } from '../helpers/system-binaries.js';

describe('outboundTrafficPolicy', () => {
  let outside: Backend;
  beforeAll(async () => {
    outside = await startBackend({ id: 'outside' });
  });
  afterAll(() => closeAll([outside]));

  it('ALLOW_ANY (default) passes an unknown host through untouched', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: ['127.0.0.1:1'] })] });
    const res = await request(`http://127.0.0.1:${outside.port}/echo`, { dispatcher: mesh.dispatcher });
    const echo = (await res.body.json()) as { headers: Record<string, string>; id: string };
    expect(echo.id).toBe('outside');
    expect(echo.headers.host).toBe(`127.0.0.1:${outside.port}`);
    expect(mesh.services().find((s) => s.name === '127.0.0.1')?.status).toBe('missing');
    await mesh.close();
  });

  it('REGISTRY_ONLY refuses an unknown host at once, naming it and how to register it', async () => {
    const mesh = createMesh({
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
      discovery: [staticEndpoints({ reviews: ['127.0.0.1:1'] })],
    });
    const before = outside.requests;
    const error = await request(`http://localhost:${outside.port}/`, { dispatcher: mesh.dispatcher }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownServiceError);
    expect((error as UnknownServiceError).code).toBe('PROXYLESS_ERR_UNKNOWN_SERVICE');
    expect((error as Error).message).toContain('"localhost"');
    expect((error as Error).message).toContain('staticEndpoints');
    expect((error as Error).message).toContain('(asked: ServiceEntry, static)');
    expect(outside.requests).toBe(before);
    await mesh.close();
  });

  const openssl = requireBinaries([{ bin: 'openssl', pkg: 'openssl' }]);
  // Skipped only off CI where the program is not installed (never in CI: it fails there);
  // the test's name then says what is missing and the apt-get command (requireBinaries).
  it.skipIf(openssl.skip)(`an https:// URL to a mesh service makes TLS to the endpoint, with the logical host as SNI, verified${openssl.note}`, async () => {
    // A certificate made now with openssl, for the logical name "reviews".
    const dir = mkdtempSync(join(tmpdir(), 'proxyless-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=reviews', '-addext', 'subjectAltName=DNS:reviews', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const servernames: string[] = [];
    const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    const server = createHttpsServer(
      {
        ...tls,
        // Records the SNI the client sent, during the handshake.
        SNICallback: (servername, callback) => {
          servernames.push(servername);
          callback(null, createSecureContext(tls));
        },
      },
      (_req, res) => res.end('tls'),
    );
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [`127.0.0.1:${port}`], plain: [outside.address] })] });
    const plainRequestsBefore = outside.requests;
    // The self-signed certificate is not trusted: TLS was attempted and verified, not skipped.
    await expect(request('https://reviews/', { dispatcher: mesh.dispatcher })).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    // A plain-HTTP endpoint behind an https:// URL fails in the TLS handshake: never downgraded.
    await expect(request('https://plain/', { dispatcher: mesh.dispatcher })).rejects.toThrow();
    expect(outside.requests).toBe(plainRequestsBefore);
    await mesh.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
    expect(servernames[0]).toBe('reviews');
  });
});
