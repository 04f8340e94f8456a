// The admin server against a real mesh with real backends on 127.0.0.1.
import { beforeAll, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import type { Backend } from '../../helpers/backends.js';
import { testRig } from '../../helpers/rig.js';
import { getJson, raw, until } from './helpers.js';

const CONFIG = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
  trafficPolicy:
    # Round robin keeps sending to a failing endpoint (Peak EWMA would shun it after one
    # failure, leaving its count short of the threshold): the ejection comes for sure.
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - name: canary
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: reviews, subset: v2 }, weight: 10 }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments
  trafficPolicy:
    tls: { mode: MUTUAL, clientCertificate: /etc/certs/cert.pem, privateKey: /etc/certs/key.pem }
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt }
spec:
  jwtRules:
  - issuer: https://issuer.example
    jwks: '{"keys":[]}'
`;

const rig = testRig({ scope: 'file' });

describe('admin endpoints', () => {
  let backends: Backend[];
  let mesh: Mesh;
  let url: string;

  beforeAll(async () => {
    backends = await rig.backends(3);
    const endpoints = backends.map((b, i) => ({ address: '127.0.0.1', port: b.port, labels: { version: i === 2 ? 'v2' : 'v1' } }));
    mesh = rig.mesh({ discovery: [staticEndpoints({ reviews: endpoints })], config: CONFIG });
    url = (await mesh.admin({ intervalMs: 100 })).url;
  });

  it('binds to 127.0.0.1 by default', () => {
    expect(new URL(url).hostname).toBe('127.0.0.1');
  });

  it('/clusters shows each endpoint with its requests, rate, share and load once traffic flows', async () => {
    // Traffic keeps flowing while the sampler ticks: percentiles cover the last ten ticks.
    const { body } = await until(
      async () => {
        for (let i = 0; i < 5; i++) await (await mesh.fetch('http://reviews/')).text();
        return getJson(`${url}/clusters`);
      },
      (r) => r.body.clusters.some((c: any) => c.subset === 'v1' && c.p50Ms !== null && c.rate > 0 && c.endpoints.every((e: any) => e.shareLastMinute > 0)),
    );
    const v1 = body.clusters.find((c: any) => c.subset === 'v1');
    expect(v1.key).toBe('reviews.default.svc.cluster.local:80/v1');
    expect(v1.balancer).toBe('round-robin');
    expect(v1.counts).toEqual({ endpoints: 2, available: 2, ejected: 0, unhealthy: 0 });
    const sent = body.clusters.flatMap((c: any) => c.endpoints).reduce((n: number, e: any) => n + e.requests, 0);
    expect(sent).toBe(backends.reduce((n, b) => n + b.requests, 0));
    const e = v1.endpoints[0];
    expect(e).toMatchObject({ address: '127.0.0.1', weight: 1, labels: { version: 'v1' }, available: true, srvTier: 0, activeHealth: null });
    expect(e.outlier).toMatchObject({ ejected: false, reason: null, timeLeftMs: 0 });
    expect(e.peakEwmaMs).toBeGreaterThan(0);
    const shares = v1.endpoints.map((x: any) => x.shareLastMinute);
    expect(shares.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 1);
    expect(v1.p99Ms).toBeGreaterThanOrEqual(v1.p50Ms);
  });

  it('pages endpoints (?service=&offset=&limit=) and rejects a bad limit', async () => {
    const { body } = await getJson(`${url}/clusters?service=reviews.default.svc.cluster.local:80/v1&offset=1&limit=1`);
    expect(body.clusters).toHaveLength(1);
    expect(body.clusters[0].offset).toBe(1);
    expect(body.clusters[0].endpoints).toHaveLength(1);
    const bad = await getJson(`${url}/clusters?limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^limit: "0" \(expected: an integer from 1 to 10000\)/);
  });

  it('shows a killed endpoint as ejected, with the reason and time left, and records the event', async () => {
    const victim = backends[0]!;
    await victim.close();
    // Requests on connections the victim had open fail (reset); later ones are refused and
    // retried elsewhere. The failures against the victim eject it.
    await until(
      async () => {
        await mesh.fetch('http://reviews/').then((r) => r.text(), () => undefined);
        return getJson(`${url}/clusters?service=reviews.default.svc.cluster.local:80/v1`);
      },
      (r) => r.body.clusters[0].endpoints.some((e: any) => e.outlier.ejected),
    ).then(({ body }) => {
      const e = body.clusters[0].endpoints.find((x: any) => x.port === victim.port);
      expect(e.outlier).toMatchObject({ ejected: true, reason: 'consecutive5xx', timesEjected: 1 });
      expect(e.outlier.timeLeftMs).toBeGreaterThan(0);
      expect(e.outlier.timeLeftMs).toBeLessThanOrEqual(30_000);
      expect(e.available).toBe(false);
      expect(e.failures).toBeGreaterThan(0);
    });
    const events = await until(
      () => getJson(`${url}/events`),
      (r) => r.body.events.some((e: any) => e.kind === 'endpoint-ejected'),
    );
    expect(events.body.events.find((e: any) => e.kind === 'endpoint-ejected').message).toContain(`127.0.0.1:${victim.port}`);
  });

  it('/config_dump gives each resource with its origin, redacts secrets, and keeps the last rejected version', async () => {
    const { body } = await getJson(`${url}/config_dump`);
    expect(body.resources.map((r: any) => `${r.kind}/${r.name}`)).toEqual(['DestinationRule/reviews', 'VirtualService/reviews', 'DestinationRule/payments', 'RequestAuthentication/jwt']);
    expect(body.resources.map((r: any) => r.origin)).toEqual(['config[0]#1', 'config[0]#2', 'config[0]#3', 'config[0]#4']);
    expect(body.lastApplied).toMatchObject({ source: 'createMesh', resources: 4 });
    const tls = body.resources[2].resource.spec.trafficPolicy.tls;
    expect(tls).toEqual({ mode: 'MUTUAL', clientCertificate: '/etc/certs/cert.pem', privateKey: '[redacted]' });
    expect(body.lastRejected).toBeNull();
    expect(() => mesh.applyConfig('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: broken }\nspec: { hosts: 7 }')).toThrow();
    const after = await getJson(`${url}/config_dump`);
    expect(after.body.lastRejected).toMatchObject({ source: 'applyConfig' });
    expect(after.body.lastRejected.error).toMatch(/hosts/);
  });

  it('/routes shows the compiled routes with weights as percentages', async () => {
    const { body } = await getJson(`${url}/routes`);
    const host = body.hosts.find((h: any) => h.host === 'reviews.default.svc.cluster.local');
    expect(host.virtualService).toMatch(/^VirtualService\/reviews/);
    expect(host.routes[0]).toMatchObject({ name: 'canary', action: 'route' });
    expect(host.routes[0].destinations.map((d: any) => d.percent)).toEqual([90, 10]);
    expect(host.routes[0].retries.attempts).toBeGreaterThanOrEqual(0);
  });

  it('/explain explains a request with its headers, and refuses a bad URL', async () => {
    const { status, body } = await getJson(`${url}/explain?url=${encodeURIComponent('http://reviews/a')}&header=${encodeURIComponent('x-user: tester')}`);
    expect(status).toBe(200);
    expect(body.explanation.action).toBe('route');
    expect(body.explanation.destinations.map((d: any) => d.percent)).toEqual([90, 10]);
    expect(body.text).toContain('canary');
    const bad = await getJson(`${url}/explain?url=ftp://x`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/expected: an http:\/\/ or https:\/\/ URL/);
  });

  it('/sources, /healthz and /ready answer from the mesh', async () => {
    const sources = await getJson(`${url}/sources`);
    expect(sources.body.sources.map((s: any) => s.name)).toContain('static');
    expect((await getJson(`${url}/healthz`)).status).toBe(200);
    const ready = await until(() => getJson(`${url}/ready`), (r) => r.status === 200);
    expect(ready.body.state).toBe('ready');
  });

  it('/certs and /stats/prometheus answer 404 naming the option when not configured', async () => {
    expect(await getJson(`${url}/certs`)).toMatchObject({ status: 404, body: { error: expect.stringContaining('identity') } });
    expect(await getJson(`${url}/stats/prometheus`)).toMatchObject({ status: 404, body: { error: expect.stringContaining('prometheus') } });
  });

  it('an unknown path answers 404 with the index; a wrong method 405', async () => {
    const r = await getJson(`${url}/nope`);
    expect(r.status).toBe(404);
    expect(r.body.endpoints.map((e: any) => e.path)).toEqual(expect.arrayContaining(['/clusters', '/config_dump', '/dashboard', '/drain']));
    const wrong = await raw(`${url}/clusters`, { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET');
  });

  it('refuses huge request targets and too many query parameters', async () => {
    const long = await raw(url, { path: `/clusters?service=${'a'.repeat(10_000)}` });
    expect(long.status).toBe(414);
    const huge = await raw(url, { path: `/clusters?service=${'a'.repeat(100_000)}` }).catch((error: Error) => ({ status: 0, error }));
    // Past Node's header limit the server answers 431 itself (or closes the socket).
    expect([431, 0]).toContain(huge.status);
    const many = await raw(url, { path: `/clusters?${Array.from({ length: 40 }, (_, i) => `p${i}=1`).join('&')}` });
    expect(many.status).toBe(400);
    expect(JSON.parse(many.body).error).toMatch(/40 query parameters \(expected: at most 32\)/);
    expect((await getJson(`${url}/healthz`)).status).toBe(200);
  });

  it('refuses a Host header that names another site (DNS rebinding)', async () => {
    const r = await raw(`${url}/config_dump`, { headers: { host: 'evil.example:80' } });
    expect(r.status).toBe(403);
    expect((await raw(`${url}/healthz`, { headers: { host: `localhost:${new URL(url).port}` } })).status).toBe(200);
  });

  it('/ answers the index as JSON, and sends a browser (Accept: text/html first) to the dashboard', async () => {
    const index = await getJson(`${url}/`);
    expect(index.status).toBe(200);
    expect(index.body.endpoints.map((e: any) => e.path)).toContain('/dashboard');
    const browser = await raw(url, { path: '/', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(browser.status).toBe(302);
    expect(browser.headers.location).toBe('/dashboard');
    const page = await fetch(`${url}/`, { headers: { accept: 'text/html' } });
    expect(page.url).toBe(`${url}/dashboard`);
    expect(await page.text()).toContain('<title>proxyless dashboard</title>');
  });

  it('serves the dashboard page and one frame of its data', async () => {
    const page = await fetch(`${url}/dashboard`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('dashboard/stream');
    const { body } = await getJson(`${url}/dashboard/frame`);
    expect(body.services.map((s: any) => s.key)).toEqual(expect.arrayContaining(['reviews.default.svc.cluster.local:80/v1', 'reviews.default.svc.cluster.local:80/v2']));
    expect(body.totals.endpoints).toBe(body.services.reduce((n: number, s: any) => n + s.counts.endpoints, 0));
    expect(body.splits[0].destinations.map((d: any) => d.percent)).toEqual([90, 10]);
  });
});
