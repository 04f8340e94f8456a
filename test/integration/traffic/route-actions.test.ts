// What a matched route does: rewrite, header operations, redirect, direct response,
// fault injection and mirroring, against real servers.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';
import { countAnswers, reviewsSubsets, reviewsVirtualService, startBookinfo, type Bookinfo } from './bookinfo.js';

describe('route actions', () => {
  let app: Bookinfo;
  let mirror: Backend;
  beforeAll(async () => {
    app = await startBookinfo();
    mirror = await startBackend({ id: 'mirror' });
  });
  afterAll(() => closeAll([...app.all, mirror]));

  const echo = async (mesh: ReturnType<typeof createMesh>, url: string, headers?: Record<string, string>) => {
    const res = await request(url, { dispatcher: mesh.dispatcher, headers });
    return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as { id: string; url: string; headers: Record<string, string> } };
  };

  it('rewrites the matched prefix and the authority, and applies request and response header operations', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [
        reviewsSubsets,
        reviewsVirtualService(`  - match: [{ uri: { prefix: /v1/echo } }]
    rewrite: { uri: /echo, authority: reviews.internal }
    headers:
      request: { set: { x-set: one }, add: { x-added: two }, remove: [x-drop] }
      response: { set: { x-served-by: mesh }, remove: [x-backend] }
    route:
    - destination: { host: reviews, subset: v1 }
      headers: { request: { set: { x-destination: v1 } } }
`),
      ],
    });
    const res = await echo(mesh, 'http://reviews/v1/echo/more?q=1', { 'x-drop': 'gone', 'x-set': 'old' });
    expect(res.json.url).toBe('/echo/more?q=1');
    expect(res.json.headers.host).toBe('reviews.internal');
    expect(res.json.headers['x-set']).toBe('one');
    expect(res.json.headers['x-added']).toBe('two');
    expect(res.json.headers['x-drop']).toBeUndefined();
    expect(res.json.headers['x-destination']).toBe('v1');
    expect(res.headers['x-served-by']).toBe('mesh');
    // fetch sees the response header operations too.
    const viaFetch = await mesh.fetch('http://reviews/v1/echo');
    expect(viaFetch.headers.get('x-served-by')).toBe('mesh');
    await mesh.close();
  });

  it('rewrites with uriRegexRewrite (RE2-style \\1 groups)', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [reviewsVirtualService(`  - rewrite: { uriRegexRewrite: { match: "^/old/(.*)$", rewrite: "/echo/\\\\1" } }
    route: [{ destination: { host: reviews } }]
`)],
    });
    expect((await echo(mesh, 'http://reviews/old/path')).json.url).toBe('/echo/path');
    await mesh.close();
  });

  it('answers a redirect and a direct response without calling any backend', async () => {
    const before = app.all.reduce((n, b) => n + b.requests, 0);
    const mesh = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [reviewsVirtualService(`  - match: [{ uri: { prefix: /old } }]
    redirect: { uri: /new, authority: reviews.example, redirectCode: 308 }
  - match: [{ uri: { exact: /health } }]
    directResponse: { status: 200, body: { string: "ok from the mesh" } }
  - route: [{ destination: { host: reviews } }]
`)],
    });
    const redirect = await request('http://reviews/old?x=1', { dispatcher: mesh.dispatcher });
    expect(redirect.statusCode).toBe(308);
    expect(redirect.headers.location).toBe('http://reviews.example/new?x=1');
    await redirect.body.dump();
    const viaFetch = await mesh.fetch('http://reviews/old', { redirect: 'manual' });
    expect(viaFetch.status).toBe(308);
    expect(viaFetch.headers.get('location')).toBe('http://reviews.example/new');
    const direct = await mesh.fetch('http://reviews/health');
    expect(direct.status).toBe(200);
    expect(direct.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await direct.text()).toBe('ok from the mesh');
    expect(app.all.reduce((n, b) => n + b.requests, 0)).toBe(before);
    await mesh.close();
  });

  it('fault abort at 100 % answers the status; at 50 % about half; no percentage means none', async () => {
    const abortAll = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [reviewsVirtualService(`  - fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
    route: [{ destination: { host: reviews } }]
`)],
    });
    const all = await countAnswers(abortAll, 'http://reviews/', 40);
    expect(all.get('status 503')).toBe(40);
    await abortAll.close();

    const half = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [reviewsVirtualService(`  - fault: { abort: { httpStatus: 500, percentage: { value: 50 } } }
    route: [{ destination: { host: reviews } }]
`)],
    });
    const halfCounts = await countAnswers(half, 'http://reviews/', 1000);
    expect(Math.abs((halfCounts.get('status 500') ?? 0) / 10 - 50)).toBeLessThan(6);
    await half.close();

    const none = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [reviewsVirtualService(`  - fault: { abort: { httpStatus: 500 } }
    route: [{ destination: { host: reviews } }]
`)],
    });
    expect((await countAnswers(none, 'http://reviews/', 30)).get('status 500')).toBeUndefined();
    await none.close();
  });

  it('fault delay at 100 % holds a request for the fixed delay before it is sent', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [reviewsSubsets, reviewsVirtualService(`  - fault: { delay: { fixedDelay: 300ms, percentage: { value: 100 } } }
    route: [{ destination: { host: reviews, subset: v1 } }]
`)],
    });
    const started = performance.now();
    const arrived = app.v1.whenRequests(app.v1.requests + 1).then(() => performance.now());
    const res = await request('http://reviews/', { dispatcher: mesh.dispatcher });
    await res.body.text();
    // A lower bound only (the machine may add more): the server got the request after the delay.
    expect((await arrived) - started).toBeGreaterThanOrEqual(290);
    await mesh.close();
  });

  it.each([100, 50, 10, 0])('mirrors %i %% of requests, fire and forget, with -shadow authority', async (percent) => {
    const mesh = createMesh({
      discovery: [staticEndpoints({ ...app.endpoints, mirror: [mirror.address] })],
      config: [reviewsVirtualService(`  - route: [{ destination: { host: reviews } }]
    mirror: { host: mirror }
    mirrorPercentage: { value: ${percent} }
`)],
    });
    const before = mirror.requests;
    const n = 1000;
    const counts = await countAnswers(mesh, 'http://reviews/', n);
    // Every caller got its answer from reviews, whatever the mirror did.
    expect([...counts.keys()].every((k) => k.startsWith('reviews-'))).toBe(true);
    // Copies are sent when their request is routed; wait until none is still on its way to
    // the mirror (its endpoint has nothing pending), so every copy has reached the server.
    const pendingCopies = () =>
      mesh.services().filter((s) => s.name.startsWith('mirror.')).flatMap((s) => s.endpoints).reduce((n, e) => n + e.pending, 0);
    await vi.waitFor(() => expect(pendingCopies()).toBe(0), { timeout: 10_000, interval: 5 });
    const mirrored = mirror.requests - before;
    expect(Math.abs((mirrored / n) * 100 - percent)).toBeLessThan(percent === 0 || percent === 100 ? 0.5 : 5);
    if (mirrored > 0) expect(mirror.hosts[0]).toBe('reviews-shadow');
    await mesh.close();
  });

  it('a mirror that is down never delays or fails the main call', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints({ ...app.endpoints, mirror: ['127.0.0.1:1'] })],
      config: [reviewsVirtualService(`  - route: [{ destination: { host: reviews, subset: v1 } }]
    mirror: { host: mirror }
`), reviewsSubsets],
    });
    const counts = await countAnswers(mesh, 'http://reviews/', 50);
    expect(counts.get('reviews-v1')).toBe(50);
    await mesh.close();
  });
});
