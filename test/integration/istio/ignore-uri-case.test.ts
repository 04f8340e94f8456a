// ignoreUriCase as Istio gives it to Envoy: case-insensitive `exact` and `prefix` only. A
// `regex` uri is a safe_regex, for which Envoy ignores case_sensitive (semantics.md §6;
// istio/istio pilot/pkg/networking/core/route/route.go: TranslateRouteMatch), and the
// other conditions (headers, query) stay case-sensitive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll } from '../../helpers/backends.js';
import { reviewsSubsets, reviewsVirtualService, startBookinfo, type Bookinfo } from '../traffic/bookinfo.js';

describe('ignoreUriCase', () => {
  let app: Bookinfo;
  let mesh: Mesh;
  beforeAll(async () => {
    app = await startBookinfo();
    mesh = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [
        reviewsSubsets,
        reviewsVirtualService(`  - match: [{ uri: { regex: "/Reg/[a-z]+" }, ignoreUriCase: true }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - match: [{ uri: { prefix: /Pre }, ignoreUriCase: true, headers: { x-team: { exact: Blue } } }]
    route: [{ destination: { host: reviews, subset: v3 } }]
  - match: [{ uri: { exact: /Exact }, ignoreUriCase: true }]
    route: [{ destination: { host: reviews, subset: v3 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`),
      ],
    });
  });
  afterAll(async () => {
    await mesh.close();
    await closeAll(app.all);
  });

  const body = async (path: string, headers?: Record<string, string>): Promise<string> => {
    const res = await request(`http://reviews${path}`, { dispatcher: mesh.dispatcher, headers });
    return res.body.text();
  };

  it('makes exact and prefix matches case-insensitive', async () => {
    expect(await body('/EXACT')).toBe('reviews-v3');
    expect(await body('/exact')).toBe('reviews-v3');
    expect(await body('/exact/more')).toBe('reviews-v1');
    expect(await body('/pREfix', { 'x-team': 'Blue' })).toBe('reviews-v3');
  });

  it('leaves a regex uri case-sensitive, as Envoy does for safe_regex', async () => {
    expect(await body('/Reg/abc')).toBe('reviews-v2');
    expect(await body('/reg/abc')).toBe('reviews-v1');
    expect(await body('/Reg/ABC')).toBe('reviews-v1');
  });

  it('leaves the other conditions of the match case-sensitive', async () => {
    expect(await body('/prefix', { 'x-team': 'blue' })).toBe('reviews-v1');
  });

  it('explain says the same', async () => {
    const e = await mesh.explain('http://reviews/reg/abc');
    expect(e.routes[0]).toMatchObject({ matched: false });
    expect(e.destinations[0]?.destination).toContain('/v1');
  });
});
