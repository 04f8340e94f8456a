// The client side with real sockets: a mesh calling http:// services whose endpoints are
// mesh servers (mesh.createServer, STRICT), with auto mTLS by endpoint label and the
// DestinationRule tls modes; the server's identity is checked against the expected one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, devIdentity, staticEndpoints, type DevIdentitySource, type Mesh, type MeshIncomingMessage } from 'proxyless';
import { createDevCa, writeDevCa } from 'proxyless/tls';
import { closeServer, listen } from '../../helpers/listen.js';
import { testLeaf, testRoot } from '../../helpers/svid-certs.js';

const TD = 'cluster.local';
const SERVER_ID = `spiffe://${TD}/ns/default/sa/reviews`;
const CLIENT_ID = `spiffe://${TD}/ns/default/sa/productpage`;

let dir: string;
const servers: Array<Server | HttpsServer> = [];
const meshes: Mesh[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'proxyless-client-tls-'));
  writeDevCa(dir, createDevCa({ trustDomain: TD }));
});
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => closeServer(s as Server)));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const identity = (spiffeId: string): DevIdentitySource => devIdentity({ caDir: dir, spiffeId, ttl: '1h' });

const strict = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`;

/** A STRICT mesh server for `spiffeId`; answers with the caller's identity. */
async function strictServer(spiffeId = SERVER_ID): Promise<number> {
  const mesh = createMesh({ identity: identity(spiffeId), config: [strict] });
  meshes.push(mesh);
  await mesh.identityReady();
  const server = mesh.createServer((req: MeshIncomingMessage, res) => res.end(req.mesh.peer?.spiffeId ?? 'plaintext'));
  servers.push(server);
  return Number(new URL(await listen(server)).port);
}

async function client(port: number, labels: Record<string, string>, config: string[] = [], withIdentity = true): Promise<Mesh> {
  const mesh = createMesh({
    ...(withIdentity && { identity: identity(CLIENT_ID) }),
    discovery: [staticEndpoints({ reviews: [{ address: '127.0.0.1', port, labels }] })],
    config,
  });
  meshes.push(mesh);
  if (withIdentity) await mesh.identityReady();
  return mesh;
}

const drTls = (tls: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    tls: ${tls}
`;

describe('client side: auto mTLS and DestinationRule tls', () => {
  it('auto mTLS: an endpoint labelled security.istio.io/tlsMode=istio gets mTLS with the SVID (the server sees the caller)', async () => {
    const port = await strictServer();
    const mesh = await client(port, { 'security.istio.io/tlsMode': 'istio' });
    const res = await mesh.fetch('http://reviews/');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(CLIENT_ID);
  });

  it('auto mTLS: an endpoint without the label gets plaintext (refused by a STRICT server)', async () => {
    const port = await strictServer();
    const mesh = await client(port, {});
    const res = await mesh.fetch('http://reviews/');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('mutual TLS is required');
  });

  it('ISTIO_MUTUAL in a DestinationRule applies without the label, and port-level DISABLE overrides it for its port', async () => {
    const port = await strictServer();
    const mesh = await client(port, {}, [drTls('{ mode: ISTIO_MUTUAL }')]);
    expect(await (await mesh.fetch('http://reviews/')).text()).toBe(CLIENT_ID);
    const portLevel = await client(port, {}, [
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    tls: { mode: ISTIO_MUTUAL }
    portLevelSettings:
    - port: { number: 80 }
      tls: { mode: DISABLE }
`,
    ]);
    expect((await portLevel.fetch('http://reviews/')).status).toBe(400);
  });

  it('DestinationRule DISABLE wins over the auto mTLS label', async () => {
    const port = await strictServer();
    const mesh = await client(port, { 'security.istio.io/tlsMode': 'istio' }, [drTls('{ mode: DISABLE }')]);
    expect((await mesh.fetch('http://reviews/')).status).toBe(400);
  });

  it('the server identity must be the expected one: the service-account label, or subjectAltNames; the error says expected and presented', async () => {
    const port = await strictServer();
    const bySa = await client(port, { 'security.istio.io/tlsMode': 'istio', 'proxyless.dev/service-account': 'ratings' });
    const error = await bySa.fetch('http://reviews/').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(String((error?.cause as Error | undefined)?.message ?? error?.message)).toContain(`SPIFFE ID ${SERVER_ID} (expected: spiffe://${TD}/ns/default/sa/ratings)`);
    const right = await client(port, { 'security.istio.io/tlsMode': 'istio', 'proxyless.dev/service-account': 'reviews' });
    expect(await (await right.fetch('http://reviews/')).text()).toBe(CLIENT_ID);
    const bySan = await client(port, {}, [drTls(`{ mode: ISTIO_MUTUAL, subjectAltNames: ["spiffe://${TD}/ns/default/sa/details"] }`)]);
    const sanError = await bySan.fetch('http://reviews/').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(String((sanError?.cause as Error | undefined)?.message)).toContain(`(expected: spiffe://${TD}/ns/default/sa/details)`);
  });

  it('ISTIO_MUTUAL without an identity fails with an error saying so', async () => {
    const port = await strictServer();
    const mesh = await client(port, {}, [drTls('{ mode: ISTIO_MUTUAL }')], false);
    const error = await mesh.fetch('http://reviews/').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(String((error?.cause as Error | undefined)?.message)).toMatch(/ISTIO_MUTUAL needs this workload's identity, and the mesh has none/);
  });

  it('SIMPLE verifies the server against caCertificates and subjectAltNames; MUTUAL presents the client certificate from files', async () => {
    const root = testRoot('example.org');
    const serverCert = testLeaf(root, 'spiffe://example.org/ns/x/sa/y', { dnsNames: ['reviews.example.org'] });
    const clientCert = testLeaf(root, 'spiffe://example.org/ns/x/sa/client');
    writeFileSync(join(dir, 'ca.pem'), root.pem);
    writeFileSync(join(dir, 'client.pem'), clientCert.pem);
    writeFileSync(join(dir, 'client-key.pem'), clientCert.keyPem, { mode: 0o600 });
    const https = createHttpsServer({ cert: serverCert.pem, key: serverCert.keyPem, ca: root.pem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      res.end(peer?.subjectaltname ?? 'no client certificate');
    });
    servers.push(https);
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const port = (https.address() as AddressInfo).port;
    const simple = await client(port, {}, [drTls(`{ mode: SIMPLE, caCertificates: ${JSON.stringify(join(dir, 'ca.pem'))}, subjectAltNames: [reviews.example.org] }`)], false);
    expect(await (await simple.fetch('http://reviews/')).text()).toBe('no client certificate');
    const wrongSan = await client(port, {}, [drTls(`{ mode: SIMPLE, caCertificates: ${JSON.stringify(join(dir, 'ca.pem'))}, subjectAltNames: [other.example.org] }`)], false);
    const error = await wrongSan.fetch('http://reviews/').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(String((error?.cause as Error | undefined)?.message)).toContain('expected one of: ["other.example.org"]');
    const mutual = await client(port, {}, [
      drTls(`{ mode: MUTUAL, caCertificates: ${JSON.stringify(join(dir, 'ca.pem'))}, clientCertificate: ${JSON.stringify(join(dir, 'client.pem'))}, privateKey: ${JSON.stringify(join(dir, 'client-key.pem'))}, sni: reviews.example.org }`),
    ], false);
    expect(await (await mutual.fetch('http://reviews/')).text()).toContain('spiffe://example.org/ns/x/sa/client');
  });
});
