// Istio's request-routing task: header-based routing, first match wins, catch-all regex.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { closeAll } from '../../helpers/backends.js';
import { reviewsSubsets, reviewsVirtualService, startBookinfo, type Bookinfo } from './bookinfo.js';

describe('match routing', () => {
  let app: Bookinfo;
  beforeAll(async () => {
    app = await startBookinfo();
  });
  afterAll(() => closeAll(app.all));

  const get = async (mesh: ReturnType<typeof createMesh>, url: string, headers?: Record<string, string>, method = 'GET') => {
    const res = await request(url, { dispatcher: mesh.dispatcher, headers, method: method as 'GET' });
    return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
  };

  it('routes end-user jason to v2 and everyone else to v1 (headers exact)', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [
        reviewsSubsets,
        reviewsVirtualService(`  - match:
    - headers:
        end-user: { exact: jason }
    route:
    - destination: { host: reviews, subset: v2 }
  - route:
    - destination: { host: reviews, subset: v1 }
`),
      ],
    });
    for (let i = 0; i < 5; i++) {
      expect((await get(mesh, 'http://reviews/', { 'end-user': 'jason' })).body).toBe('reviews-v2');
      expect((await get(mesh, 'http://reviews/', { 'end-user': 'kate' })).body).toBe('reviews-v1');
      expect((await get(mesh, 'http://reviews/')).body).toBe('reviews-v1');
    }
    await mesh.close();
  });

  it('a catch-all regex route short-circuits the routes after it', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [
        reviewsSubsets,
        reviewsVirtualService(`  - match: [{ uri: { regex: ".*" } }]
    route: [{ destination: { host: reviews, subset: v3 } }]
  - match: [{ uri: { prefix: /api } }]
    route: [{ destination: { host: reviews, subset: v1 } }]
`),
      ],
    });
    expect((await get(mesh, 'http://reviews/api/x')).body).toBe('reviews-v3');
    expect((await get(mesh, 'http://reviews/other')).body).toBe('reviews-v3');
    await mesh.close();
  });

  it('ANDs conditions in one match and ORs the matches; uri, method, query, withoutHeaders, port, ignoreUriCase', async () => {
    const mesh = createMesh({
      labels: { app: 'productpage', version: 'v1' },
      discovery: [staticEndpoints(app.endpoints)],
      config: [
        reviewsSubsets,
        reviewsVirtualService(`  - name: posts-to-api-or-exact-admin
    match:
    - uri: { prefix: /api }
      method: { exact: POST }
    - uri: { exact: /Admin }
      ignoreUriCase: true
    route: [{ destination: { host: reviews, subset: v2 } }]
  - match:
    - queryParams: { beta: { exact: "1" } }
      withoutHeaders: { x-no-beta: {} }
    route: [{ destination: { host: reviews, subset: v3 } }]
  - match: [{ port: 9080 }]
    route: [{ destination: { host: ratings } }]
  - match: [{ sourceLabels: { app: other } }]
    route: [{ destination: { host: reviews, subset: v3 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`),
      ],
    });
    expect((await get(mesh, 'http://reviews/api/x', {}, 'POST')).body).toBe('reviews-v2');
    expect((await get(mesh, 'http://reviews/api/x')).body).toBe('reviews-v1');
    expect((await get(mesh, 'http://reviews/ADMIN')).body).toBe('reviews-v2');
    expect((await get(mesh, 'http://reviews/list?beta=1')).body).toBe('reviews-v3');
    expect((await get(mesh, 'http://reviews/list?beta=1', { 'x-no-beta': 'yes' })).body).toBe('reviews-v1');
    expect((await get(mesh, 'http://reviews:9080/')).body).toBe('ratings');
    await mesh.close();
  });

  it('a request no route matches gets 404, as from Envoy', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [reviewsVirtualService(`  - match: [{ uri: { prefix: /only } }]
    route: [{ destination: { host: reviews } }]
`)],
    });
    const res = await get(mesh, 'http://reviews/elsewhere');
    expect(res.status).toBe(404);
    expect(res.body).toContain('no route of VirtualService/reviews');
    await mesh.close();
  });
});
