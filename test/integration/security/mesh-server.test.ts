// mesh.createServer with real sockets: PeerAuthentication modes on one port (STRICT,
// PERMISSIVE told apart by the first byte, DISABLE), req.mesh.peer, AuthorizationPolicy
// (403 RBAC: access denied) and hot reload. SVIDs from a dev CA made at test time; clients
// are undici with the mesh's mTLS connector, and curl for plaintext.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, devIdentity, type DevIdentitySource, type Mesh, type MeshIncomingMessage } from 'proxyless';
import { createDevCa, mtlsConnector, writeDevCa } from 'proxyless/tls';
import { PeerAuthenticationRefusedError } from '../../../src/inbound/mesh-server.js';
import { closeServer, listen } from '../../helpers/listen.js';
import { requireBinaries } from '../../helpers/system-binaries.js';

const curl = requireBinaries([{ bin: 'curl', pkg: 'curl' }]);
const TD = 'cluster.local';
const SERVER_ID = `spiffe://${TD}/ns/default/sa/reviews`;
const CLIENT_ID = `spiffe://${TD}/ns/default/sa/productpage`;
const OTHER_ID = `spiffe://${TD}/ns/other/sa/intruder`;

let caDir: string;
const sources: DevIdentitySource[] = [];
const servers: Server[] = [];
const meshes: Mesh[] = [];
const agents: Agent[] = [];

beforeAll(() => {
  caDir = mkdtempSync(join(tmpdir(), 'proxyless-mesh-server-'));
  writeDevCa(caDir, createDevCa({ trustDomain: TD }));
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await Promise.all(servers.splice(0).map(closeServer));
  await Promise.all(meshes.splice(0).map((m) => m.close()));
});
afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  rmSync(caDir, { recursive: true, force: true });
});

function identity(spiffeId: string): DevIdentitySource {
  const source = devIdentity({ caDir, spiffeId, ttl: '1h' });
  sources.push(source);
  return source;
}

async function serverMesh(config: string[] = []): Promise<{ mesh: Mesh; url: string; port: number; server: ReturnType<Mesh['createServer']> }> {
  const mesh = createMesh({ identity: identity(SERVER_ID), config, labels: { app: 'reviews' } });
  meshes.push(mesh);
  await mesh.identityReady();
  const server = mesh.createServer((req: MeshIncomingMessage, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ peer: req.mesh.peer ?? null, encrypted: (req.socket as { encrypted?: boolean }).encrypted === true }));
  });
  servers.push(server);
  const url = await listen(server);
  return { mesh, url, port: Number(new URL(url).port), server };
}

async function mtlsClient(spiffeId: string): Promise<Agent> {
  const source = identity(spiffeId);
  await source.ready();
  const agent = new Agent({ connect: mtlsConnector(source, { expect: { ids: [SERVER_ID] } }) });
  agents.push(agent);
  return agent;
}

async function mtlsGet(agent: Agent, port: number, path = '/'): Promise<{ status: number; body: string }> {
  const res = await request(`https://127.0.0.1:${port}${path}`, { dispatcher: agent });
  return { status: res.statusCode, body: await res.body.text() };
}

function curlPlain(url: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', url], (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
  });
}

const peerAuthentication = (mode: string, extra = ''): string => `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec:
  mtls: { mode: ${mode} }
${extra}`;

describe('mesh.createServer: PeerAuthentication on one port', () => {
  it('PERMISSIVE (no policy) accepts mTLS and plaintext on the same port and reports which', { skip: curl.skip }, async () => {
    const { url, port, server } = await serverMesh();
    expect(server.mtlsMode()).toBe('PERMISSIVE');
    const plain = await curlPlain(`${url}/`);
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.out)).toEqual({ peer: null, encrypted: false });
    const agent = await mtlsClient(CLIENT_ID);
    const secure = await mtlsGet(agent, port);
    expect(secure.status).toBe(200);
    expect(JSON.parse(secure.body)).toEqual({ peer: { spiffeId: CLIENT_ID, principal: `${TD}/ns/default/sa/productpage` }, encrypted: true });
  });

  it('STRICT refuses plaintext with a 400 saying mTLS is required, reports it on the server, and serves mTLS', { skip: curl.skip }, async () => {
    const { url, port, server } = await serverMesh([peerAuthentication('STRICT')]);
    expect(server.mtlsMode()).toBe('STRICT');
    const refused = new Promise<[Error]>((resolve) => server.once('tlsClientError', (error: Error) => resolve([error])));
    const plain = await curlPlain(`${url}/`);
    expect(plain.out).toContain('mutual TLS is required');
    const [error] = await refused;
    expect(error).toBeInstanceOf(PeerAuthenticationRefusedError);
    expect(error.message).toMatch(/PeerAuthentication mode STRICT\): this client sent plaintext/);
    const agent = await mtlsClient(CLIENT_ID);
    expect((await mtlsGet(agent, port)).status).toBe(200);
  });

  it('portLevelMtls overrides the workload mode for its port only', async () => {
    const { port, server } = await serverMesh([
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: reviews, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  mtls: { mode: STRICT }
  portLevelMtls:
    "1": { mode: DISABLE }
`,
    ]);
    expect(server.mtlsMode(port)).toBe('STRICT');
    expect(server.mtlsMode(1)).toBe('DISABLE');
  });

  it('a reload from STRICT to PERMISSIVE reaches the next connection', { skip: curl.skip }, async () => {
    const { mesh, url } = await serverMesh([peerAuthentication('STRICT')]);
    expect((await curlPlain(`${url}/`)).out).toContain('mutual TLS is required');
    mesh.applyConfig([peerAuthentication('PERMISSIVE')]);
    const plain = await curlPlain(`${url}/`);
    expect(JSON.parse(plain.out)).toEqual({ peer: null, encrypted: false });
  });

  it('DISABLE serves plaintext only: a TLS client fails its handshake', async () => {
    const { port } = await serverMesh([peerAuthentication('DISABLE')]);
    const agent = await mtlsClient(CLIENT_ID);
    const error = await mtlsGet(agent, port).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
  });
});

describe('mesh.createServer: AuthorizationPolicy in the inbound path', () => {
  const allowProductpage = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews-viewer, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/default/sa/productpage"] } }]
    to: [{ operation: { methods: ["GET"] } }]
`;

  it('allows the principal a policy names and answers others 403 RBAC: access denied (plaintext too)', { skip: curl.skip }, async () => {
    const { url, port } = await serverMesh([allowProductpage]);
    const allowed = await mtlsGet(await mtlsClient(CLIENT_ID), port);
    expect(allowed.status).toBe(200);
    const other = await mtlsGet(await mtlsClient(OTHER_ID), port);
    expect(other).toEqual({ status: 403, body: 'RBAC: access denied' });
    const plain = await curlPlain(`${url}/`);
    expect(plain.out).toBe('RBAC: access denied');
  });

  it('a DENY policy by path wins over the ALLOW policy; a dry-run policy is counted, never enforced', async () => {
    const denyAdmin = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }]
`;
    const dryRunDenyAll = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: shadow, namespace: default, annotations: { "istio.io/dry-run": "true" } }
spec:
  action: DENY
  rules: [{}]
`;
    const { mesh, port } = await serverMesh([allowProductpage, denyAdmin, dryRunDenyAll]);
    const agent = await mtlsClient(CLIENT_ID);
    expect((await mtlsGet(agent, port, '/reviews/1')).status).toBe(200);
    expect(await mtlsGet(agent, port, '/admin/users')).toEqual({ status: 403, body: 'RBAC: access denied' });
    expect(mesh.securityStats().dryRun.denyShadowDenied).toBe(2);
  });

  it('a CUSTOM policy naming a provider the code did not register is a config error; a registered one decides', async () => {
    const custom = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext, namespace: default }
spec:
  action: CUSTOM
  provider: { name: my-authz }
  rules: [{ to: [{ operation: { paths: ["/private"] } }] }]
`;
    expect(() => createMesh({ config: [custom] })).toThrow(/"my-authz" is not a provider this mesh knows/);
    const mesh = createMesh({ config: [custom], authorization: { providers: { 'my-authz': (req) => ({ allow: false, status: 418, body: `no ${req.path}` }) } } });
    meshes.push(mesh);
    const server = mesh.createServer((_req, res) => res.end('ok'));
    servers.push(server);
    const url = await listen(server);
    expect((await curlPlain(`${url}/public`)).out).toBe('ok');
    expect((await curlPlain(`${url}/private`)).out).toBe('no /private');
  });
});
