// The attack matrix of issue 14 against mesh.createServer under STRICT, with real TLS
// sockets and certificates made at test time. Clients: openssl s_client and curl with
// hostile client certificates, and the mesh itself. Each refusal is checked on both sides:
// the server's tlsClientError names the SVID rule broken; the client, which under TLS 1.3
// learns of the refusal only at its first read, reads an answer that says why.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints, type Mesh, type MeshIncomingMessage } from 'proxyless';
import { BaseIdentitySource, KeyUsageBits, loadSvid, type X509Svid } from 'proxyless/tls';
import { SvidError } from '../../../src/core/errors/index.js';
import { PeerAuthenticationRefusedError } from '../../../src/inbound/mesh-server.js';
import { closeServer, listen } from '../../helpers/listen.js';
import { testLeaf, testRoot, type TestCert } from '../../helpers/svid-certs.js';
import { requireBinaries } from '../../helpers/system-binaries.js';

const tools = requireBinaries([
  { bin: 'openssl', pkg: 'openssl' },
  { bin: 'curl', pkg: 'curl' },
]);
const TD = 'cluster.local';
const SERVER_ID = `spiffe://${TD}/ns/default/sa/reviews`;
const CLIENT_ID = `spiffe://${TD}/ns/default/sa/productpage`;
const HOUR = 3600_000;

/** An identity source holding one fixed SVID (a real one, checked by loadSvid; only the source is trivial). */
class FixedIdentity extends BaseIdentitySource {
  readonly name = 'fixed';
  constructor(svid: X509Svid) {
    super();
    this.publish(svid);
  }
}

let dir: string;
let root: TestCert;
let mesh: Mesh;
let server: Server;
let port: number;
const refusals: Error[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'proxyless-attack-'));
  root = testRoot(TD);
  writeFileSync(join(dir, 'root.pem'), root.pem);
  const serverLeaf = testLeaf(root, SERVER_ID);
  mesh = createMesh({
    identity: new FixedIdentity(loadSvid({ certChain: serverLeaf.pem, key: serverLeaf.keyPem, roots: root.pem })),
    config: [
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`,
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: only-productpage, namespace: default }
spec:
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/productpage"] } }] }]
`,
    ],
  });
  server = mesh.createServer((req: MeshIncomingMessage, res) => res.end(`hello ${req.mesh.peer?.spiffeId}`));
  server.on('tlsClientError', (error: Error) => refusals.push(error));
  port = Number(new URL(await listen(server)).port);
});
afterAll(async () => {
  await closeServer(server);
  await mesh.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a client certificate (and key) to files; returns their paths. */
function files(name: string, cert: TestCert, chain = ''): { cert: string; key: string } {
  const paths = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  writeFileSync(paths.cert, cert.pem + chain);
  writeFileSync(paths.key, cert.keyPem, { mode: 0o600 });
  return paths;
}

/** openssl s_client sending one request; resolves with everything it printed. */
function sClient(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', join(dir, 'root.pem'), '-alpn', 'http/1.1', '-ign_eof', ...args]);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stdin.end('GET / HTTP/1.1\r\nhost: reviews\r\nconnection: close\r\n\r\n');
    child.once('close', () => resolve(out));
  });
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    // -k: the server's SVID has no DNS name for curl to check; the server side is under attack here.
    execFile('curl', ['-sS', '-k', '--max-time', '10', ...args, `https://127.0.0.1:${port}/`], (_error, stdout, stderr) => resolve(stdout + stderr));
  });
}

/** The refusal the server reported for the next client (the list only grows). */
async function nextRefusal(run: () => Promise<string>): Promise<{ client: string; server: Error }> {
  const before = refusals.length;
  const client = await run();
  expect(refusals.length, `server refusals after: ${client}`).toBeGreaterThan(before);
  return { client, server: refusals[before]! };
}

const now = Date.now();
const cases: Array<{ name: string; cert: () => TestCert; rule: string; says: RegExp }> = [
  { name: 'a CA nobody trusts', cert: () => testLeaf(testRoot(TD), CLIENT_ID), rule: 'untrusted', says: /not a root of trust domain cluster\.local/ },
  { name: 'an expired certificate', cert: () => testLeaf(root, CLIENT_ID, { notBefore: new Date(now - 2 * HOUR), notAfter: new Date(now - HOUR) }), rule: 'expired', says: /expired|not valid after/i },
  { name: 'a certificate not yet valid', cert: () => testLeaf(root, CLIENT_ID, { notBefore: new Date(now + HOUR), notAfter: new Date(now + 2 * HOUR) }), rule: 'not_yet_valid', says: /not valid yet/ },
  { name: 'two URI SANs', cert: () => testLeaf(root, CLIENT_ID, { uris: [CLIENT_ID, `spiffe://${TD}/ns/admin/sa/root`] }), rule: 'multiple_uri_sans', says: /2 URI SANs/ },
  {
    name: 'a CA certificate used as a leaf',
    cert: () => testLeaf(root, CLIENT_ID, { basicConstraints: { ca: true }, keyUsage: { flags: KeyUsageBits.digitalSignature | KeyUsageBits.keyCertSign, critical: true } }),
    rule: 'leaf_is_ca',
    says: /CA/,
  },
  { name: 'a leaf without digitalSignature', cert: () => testLeaf(root, CLIENT_ID, { keyUsage: { flags: KeyUsageBits.keyEncipherment, critical: true } }), rule: 'no_digital_signature', says: /digitalSignature/ },
  { name: 'a trust-domain mismatch', cert: () => testLeaf(root, 'spiffe://evil.example/ns/default/sa/productpage'), rule: 'trust_domain', says: /evil\.example/ },
];

describe.skipIf(tools.skip)(`attack matrix: mesh.createServer under STRICT refuses, both sides say why${tools.note}`, () => {
  it.each(cases)('openssl s_client with $name: refused ($rule)', async ({ name, cert, rule, says }) => {
    const paths = files(name.replace(/\W+/g, '-'), cert());
    const { client, server: error } = await nextRefusal(() => sClient(['-cert', paths.cert, '-key', paths.key]));
    expect(error).toBeInstanceOf(SvidError);
    expect((error as SvidError).rule).toBe(rule);
    expect(error.message).toMatch(says);
    // TLS 1.3: the handshake completed from the client's side; its first read is the refusal, with the reason.
    expect(client).toContain('HTTP/1.1 403 Forbidden');
    expect(client).toContain(`client certificate refused: ${error.message.split('\n')[0]!.slice(0, 60)}`);
    expect(client).not.toContain('hello');
  });

  it('curl with an expired certificate and with one from an untrusted CA: refused, the reason in the body', async () => {
    for (const [name, cert, rule] of [
      ['curl-expired', testLeaf(root, CLIENT_ID, { notBefore: new Date(now - 2 * HOUR), notAfter: new Date(now - HOUR) }), 'expired'],
      ['curl-untrusted', testLeaf(testRoot(TD), CLIENT_ID), 'untrusted'],
    ] as const) {
      const paths = files(name, cert);
      const { client, server: error } = await nextRefusal(() => curl(['--cert', paths.cert, '--key', paths.key]));
      expect((error as SvidError).rule).toBe(rule);
      expect(client).toContain('client certificate refused:');
    }
  });

  it('no client certificate: refused, both sides say an SVID was expected', async () => {
    const { client, server: error } = await nextRefusal(() => sClient([]));
    expect(error.message).toMatch(/no client certificate \(expected: an X\.509-SVID\)/);
    expect(client).toMatch(/client certificate refused: .*no client certificate/);
  });

  it('plaintext: refused with a 400 saying mTLS is required (server: PeerAuthenticationRefusedError)', async () => {
    const { client, server: error } = await nextRefusal(
      () =>
        new Promise((resolve) => execFile('curl', ['-sS', '--max-time', '10', `http://127.0.0.1:${port}/`], (_e, stdout, stderr) => resolve(stdout + stderr))),
    );
    expect(error).toBeInstanceOf(PeerAuthenticationRefusedError);
    expect(client).toContain('mutual TLS is required');
  });

  it('a key that does not match the certificate: the client cannot even present it, and an identity source refuses the pair', async () => {
    const leaf = testLeaf(root, CLIENT_ID);
    const other = testLeaf(root, CLIENT_ID);
    const paths = { cert: join(dir, 'mismatch.pem'), key: join(dir, 'mismatch-key.pem') };
    writeFileSync(paths.cert, leaf.pem);
    writeFileSync(paths.key, other.keyPem, { mode: 0o600 });
    const before = refusals.length;
    const out = await sClient(['-cert', paths.cert, '-key', paths.key]);
    expect(out).toMatch(/key values mismatch|private key does not match/i);
    expect(out).not.toContain('hello');
    expect(refusals.length).toBe(before);
    expect(() => loadSvid({ certChain: leaf.pem, key: other.keyPem, roots: root.pem })).toThrow(expect.objectContaining({ rule: 'key_mismatch' }));
  });

  it('a valid SVID of another workload: the handshake passes, AuthorizationPolicy answers 403 RBAC: access denied', async () => {
    const paths = files('stranger', testLeaf(root, `spiffe://${TD}/ns/default/sa/stranger`));
    const out = await sClient(['-cert', paths.cert, '-key', paths.key]);
    expect(out).toContain('HTTP/1.1 403 Forbidden');
    expect(out).toContain('RBAC: access denied');
  });

  it('the right SVID: served, and the server knows the caller', async () => {
    const paths = files('good', testLeaf(root, CLIENT_ID));
    const out = await sClient(['-cert', paths.cert, '-key', paths.key]);
    expect(out).toMatch(/Verify return code: 0 \(ok\)/);
    expect(out).toContain(`hello ${CLIENT_ID}`);
  });

  it("clients offering only Istio's ALPN values (istio-http/1.1, istio) are served", async () => {
    const paths = files('alpn', testLeaf(root, CLIENT_ID));
    for (const alpn of ['istio-http/1.1', 'istio']) {
      const out = await sClient(['-cert', paths.cert, '-key', paths.key, '-alpn', alpn]);
      expect(out).toContain(`ALPN protocol: ${alpn}`);
      expect(out).toContain(`hello ${CLIENT_ID}`);
    }
  });

  it('the mesh as client, expecting another server identity: refused by the client, the error says expected and presented', async () => {
    const leaf = testLeaf(root, CLIENT_ID);
    const client = createMesh({
      identity: new FixedIdentity(loadSvid({ certChain: leaf.pem, key: leaf.keyPem, roots: root.pem })),
      discovery: [staticEndpoints({ reviews: [{ address: '127.0.0.1', port, labels: { 'security.istio.io/tlsMode': 'istio', 'proxyless.dev/service-account': 'ratings' } }] })],
    });
    try {
      const error = await client.fetch('http://reviews/').then(
        () => undefined,
        (e: Error) => e,
      );
      expect(String((error?.cause as Error | undefined)?.message)).toContain(`SPIFFE ID ${SERVER_ID} (expected: spiffe://${TD}/ns/default/sa/ratings)`);
    } finally {
      await client.close();
    }
  });
});
