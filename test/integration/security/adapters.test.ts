// Express and Fastify served by mesh.createServer under STRICT mTLS, with real sockets:
// `mesh.createServer(app).listen()` for Express, `serverFactory` for Fastify (with and
// without meshPlugin); the caller is a mesh with its own SVID (auto mTLS by label).
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, devIdentity, staticEndpoints, type Mesh } from 'proxyless';
import { createDevCa, writeDevCa } from 'proxyless/tls';
import { meshMiddleware } from '@proxyless/express';
import { meshPlugin } from '@proxyless/fastify';
import { closeServer, listen } from '../../helpers/listen.js';

const TD = 'cluster.local';
const SERVER_ID = `spiffe://${TD}/ns/default/sa/reviews`;
const CLIENT_ID = `spiffe://${TD}/ns/default/sa/productpage`;
const OTHER_ID = `spiffe://${TD}/ns/default/sa/stranger`;

let dir: string;
const servers: Server[] = [];
const meshes: Mesh[] = [];
const closers: Array<() => Promise<unknown>> = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'proxyless-adapters-'));
  writeDevCa(dir, createDevCa({ trustDomain: TD }));
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map(closeServer));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = [
  `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`,
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews, namespace: default }
spec:
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/productpage"] } }] }]
`,
];

async function serverMesh(): Promise<Mesh> {
  const mesh = createMesh({ identity: devIdentity({ caDir: dir, spiffeId: SERVER_ID, ttl: '1h' }), config });
  meshes.push(mesh);
  await mesh.identityReady();
  return mesh;
}

async function caller(spiffeId: string, port: number): Promise<Mesh> {
  const mesh = createMesh({
    identity: devIdentity({ caDir: dir, spiffeId, ttl: '1h' }),
    discovery: [staticEndpoints({ reviews: [{ address: '127.0.0.1', port, labels: { 'security.istio.io/tlsMode': 'istio' } }] })],
  });
  meshes.push(mesh);
  await mesh.identityReady();
  return mesh;
}

async function expectServes(port: number, path: string): Promise<void> {
  const allowed = await (await caller(CLIENT_ID, port)).fetch(`http://reviews${path}`);
  expect(allowed.status).toBe(200);
  expect(await allowed.json()).toEqual({ peer: { spiffeId: CLIENT_ID, principal: `${TD}/ns/default/sa/productpage` } });
  const denied = await (await caller(OTHER_ID, port)).fetch(`http://reviews${path}`);
  expect(denied.status).toBe(403);
  expect(await denied.text()).toBe('RBAC: access denied');
}

describe('mesh.createServer with the frameworks', () => {
  it('Express: mesh.createServer(app).listen() serves STRICT mTLS with req.mesh.peer and AuthorizationPolicy', async () => {
    const mesh = await serverMesh();
    const app = express();
    app.get('/who', (req, res) => {
      res.json({ peer: req.mesh.peer });
    });
    const server = mesh.createServer(app);
    servers.push(server);
    await expectServes(Number(new URL(await listen(server)).port), '/who');
  });

  it('Express with meshMiddleware too: the stack runs once (the middleware sees it already ran)', async () => {
    const mesh = await serverMesh();
    const app = express();
    let runs = 0;
    app.use(meshMiddleware(mesh, { stack: (stack) => stack.insertBefore('identity', { role: 'count', wrap: (next) => (x) => (runs++, next(x)) }) }));
    app.get('/who', (req, res) => {
      res.json({ peer: req.mesh.peer });
    });
    const server = mesh.createServer(app);
    servers.push(server);
    await expectServes(Number(new URL(await listen(server)).port), '/who');
    expect(runs).toBe(0);
  });

  it('Fastify: serverFactory with mesh.createServer and meshPlugin (inbound: false) serves STRICT mTLS with request.mesh.peer', async () => {
    const mesh = await serverMesh();
    const app = Fastify({ serverFactory: (handler) => mesh.createServer(handler, { inbound: false }) });
    await app.register(meshPlugin, { mesh });
    app.get('/who', async (request) => ({ peer: request.mesh.peer }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const address = app.server.address() as { port: number };
    await expectServes(address.port, '/who');
  });
});
