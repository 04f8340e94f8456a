// Tokens, binding rules, mounting, and a client opening 1,000 dashboard streams.
import { createServer, request, type ClientRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdminHandler, createMesh, devIdentity, staticEndpoints, type Mesh } from 'proxyless';
import { createDevCa, writeDevCa } from 'proxyless/tls';
import type { Backend } from '../../helpers/backends.js';
import { testRig } from '../../helpers/rig.js';
import { listen, closeServer } from '../../helpers/listen.js';
import { getJson, raw } from './helpers.js';

const TOKEN = 'test-token-0123456789abcdef';

const rig = testRig({ scope: 'file' });

describe('admin tokens and binding', () => {
  let backends: Backend[];
  let mesh: Mesh;

  beforeAll(async () => {
    backends = await rig.backends(2);
    mesh = rig.meshOver({ reviews: backends });
  });

  it('refuses at start to bind a non-loopback address without a token', async () => {
    await expect(mesh.admin({ host: '0.0.0.0' })).rejects.toThrow(/host: "0\.0\.0\.0" is not a loopback address, and no token is set \(expected: a token/);
  });

  it('on a non-loopback address, every endpoint but /healthz and /ready needs the token (401 without, or with a wrong one)', async () => {
    const admin = await mesh.admin({ host: '0.0.0.0', token: TOKEN });
    const url = `http://127.0.0.1:${admin.port}`;
    try {
      expect(await getJson(`${url}/clusters`)).toMatchObject({ status: 401, body: { error: 'a token is needed (Authorization: Bearer <token>)' } });
      expect(await getJson(`${url}/clusters`, 'x'.repeat(TOKEN.length))).toMatchObject({ status: 401, body: { error: 'wrong token' } });
      expect((await getJson(`${url}/clusters`, TOKEN)).status).toBe(200);
      expect((await getJson(`${url}/clusters?token=${TOKEN}`)).status).toBe(200);
      expect((await getJson(`${url}/healthz`)).status).toBe(200);
      const r = await raw(`${url}/config_dump`);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    } finally {
      await admin.close();
    }
  });

  it('POST /drain and /log_level need the token; the token in the query does not count for them', async () => {
    const logger = { level: 'info' };
    const admin = await mesh.admin({ token: TOKEN, logger });
    try {
      expect((await raw(`${admin.url}/log_level?level=debug`, { method: 'POST' })).status).toBe(401);
      expect((await raw(`${admin.url}/log_level?level=debug&token=${TOKEN}`, { method: 'POST' })).status).toBe(401);
      expect((await raw(`${admin.url}/log_level?level=debug`, { method: 'POST', headers: { authorization: 'Bearer nope' } })).status).toBe(401);
      expect(logger.level).toBe('info');
      const ok = await raw(`${admin.url}/log_level?level=debug`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toEqual({ level: 'debug', previous: 'info' });
      expect(logger.level).toBe('debug');
      const bad = await raw(`${admin.url}/log_level?level=loud`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(bad.status).toBe(400);
      // Reads stay open on loopback.
      expect((await getJson(`${admin.url}/clusters`)).status).toBe(200);
    } finally {
      await admin.close();
    }
  });

  it('without a configured token, mutating endpoints are off (401 saying so)', async () => {
    const admin = await mesh.admin();
    try {
      const r = await raw(`${admin.url}/drain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body).error).toMatch(/no token is configured/);
    } finally {
      await admin.close();
    }
  });

  it('serves /stats/prometheus from the configured reader', async () => {
    const admin = await mesh.admin({ prometheus: () => '# TYPE up gauge\nup 1\n' });
    try {
      const r = await fetch(`${admin.url}/stats/prometheus`);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await r.text()).toBe('# TYPE up gauge\nup 1\n');
    } finally {
      await admin.close();
    }
  });

  it('/certs shows the SVID (never its key) and a rotation becomes an event', async () => {
    const caDir = mkdtempSync(join(tmpdir(), 'proxyless-admin-ca-'));
    writeDevCa(caDir, createDevCa({ trustDomain: 'cluster.local' }));
    const identity = devIdentity({ caDir, spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews', ttl: '1h' });
    const first = await identity.ready();
    const admin = await mesh.admin({ identity });
    try {
      const r = await fetch(`${admin.url}/certs`);
      const text = await r.text();
      expect(text).not.toMatch(/PRIVATE KEY/);
      const body = JSON.parse(text);
      expect(body).toMatchObject({ spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews', expiresAt: first.notAfter.toISOString(), lastRotation: null });
      expect(body.chain[0].serialNumber).toBe(first.leaf.serialNumber);
      const rotated = new Promise((resolve) => identity.once('rotated', resolve));
      identity.rotateNow();
      await rotated;
      const after = (await (await fetch(`${admin.url}/certs`)).json()) as { lastRotation: string | null; chain: Array<{ serialNumber: string }> };
      expect(after.lastRotation).not.toBeNull();
      expect(after.chain[0]!.serialNumber).not.toBe(first.leaf.serialNumber);
      const events = (await (await fetch(`${admin.url}/events`)).json()) as { events: Array<{ kind: string }> };
      expect(events.events.map((e) => e.kind)).toContain('certificate-rotated');
      // A mesh created with an identity shows it without being told again.
      const withIdentity = createMesh({ identity, discovery: [staticEndpoints({ reviews: backends.map((b) => b.address) })] });
      try {
        const own = await withIdentity.admin();
        expect(((await (await fetch(`${own.url}/certs`)).json()) as { spiffeId: string }).spiffeId).toBe('spiffe://cluster.local/ns/default/sa/reviews');
      } finally {
        await withIdentity.close();
      }
    } finally {
      await admin.close();
      await identity.close();
      rmSync(caDir, { recursive: true, force: true });
    }
  });

  it('mounts on an existing server under a prefix, leaving other paths to it', async () => {
    const admin = createAdminHandler(mesh, { prefix: '/admin' });
    const server = createServer((req, res) => {
      if (!admin.handle(req, res)) res.end('app');
    });
    const url = await listen(server);
    try {
      expect(await (await fetch(`${url}/hello`)).text()).toBe('app');
      const index = await getJson(`${url}/admin`);
      expect(index.body.endpoints.map((e: any) => e.path)).toContain('/admin/clusters');
      expect((await getJson(`${url}/admin/clusters`)).status).toBe(200);
      expect((await getJson(`${url}/admin/nope`)).status).toBe(404);
      expect(() => createAdminHandler(mesh, { prefix: 'admin/' })).toThrow(/prefix: "admin\/" \(expected: a path such as \/admin/);
    } finally {
      admin.close();
      await closeServer(server);
    }
  });

  it('closes with the mesh', async () => {
    const other = createMesh({ discovery: [staticEndpoints({ reviews: backends.map((b) => b.address) })] });
    const admin = await other.admin();
    await other.close();
    await expect(fetch(`${admin.url}/healthz`)).rejects.toThrow();
    await expect(other.admin()).rejects.toThrow(/closed/);
  });
});

describe('admin: a client opening 1,000 dashboard streams', () => {
  let backends: Backend[];
  let mesh: Mesh;

  beforeAll(async () => {
    backends = await rig.backends(2);
    mesh = rig.meshOver({ reviews: backends });
  });

  it('opens at most maxStreams; the others get 503 or are not accepted; requests through the mesh keep working', async () => {
    const maxStreams = 8;
    const admin = await mesh.admin({ maxStreams, intervalMs: 100 });
    const { port } = new URL(admin.url);
    const requests: ClientRequest[] = [];
    const outcomes = await Promise.all(
      Array.from(
        { length: 1000 },
        () =>
          new Promise<number | string>((resolve) => {
            const req = request({ host: '127.0.0.1', port, path: '/dashboard/stream', agent: false }, (res) => {
              resolve(res.statusCode!);
              if (res.statusCode !== 200) res.resume();
            });
            req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
            requests.push(req);
            req.end();
          }),
      ),
    );
    // Meanwhile, requests through the mesh still succeed.
    const answers = await Promise.all(Array.from({ length: 50 }, () => mesh.fetch('http://reviews/').then((r) => r.status)));
    expect(answers.every((s) => s === 200)).toBe(true);
    const open = outcomes.filter((o) => o === 200).length;
    expect(open).toBe(maxStreams);
    expect(outcomes.filter((o) => o === 503).length).toBeGreaterThan(0);
    // Every other attempt was refused (503) or its connection closed (past maxConnections).
    expect(outcomes.every((o) => o === 200 || o === 503 || typeof o === 'string')).toBe(true);
    for (const req of requests) req.destroy();
    // Once they are gone, a new stream opens again.
    const again = await new Promise<number>((resolve, reject) => {
      const attempt = (): void => {
        const req = request({ host: '127.0.0.1', port, path: '/dashboard/stream', agent: false }, (res) => {
          req.destroy();
          if (res.statusCode === 200) resolve(200);
          else setImmediate(attempt);
        });
        req.on('error', reject);
        req.end();
      };
      attempt();
    });
    expect(again).toBe(200);
    await admin.close();
  });
});
