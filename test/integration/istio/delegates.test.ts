// Delegate VirtualServices (semantics.md §7; istio/istio pilot/pkg/model/virtualservice.go:
// MergeHTTPRoutes): a root route's `delegate` is replaced by the delegate's routes, each
// narrowed by the root's matches and inheriting what it leaves unset; short hosts in the
// delegate resolve in the delegate's namespace. Real servers answer with their own id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

let reviews: Backend;
let apiV1: Backend;
let apiV2: Backend;
const meshes: Mesh[] = [];
beforeAll(async () => {
  // Each answers with its id, and tells the x-from request header back in x-seen-from.
  const start = (id: string) =>
    startBackend({
      id,
      handle: (req, res) => {
        res.setHeader('x-seen-from', String(req.headers['x-from'] ?? '-'));
        res.end(id);
      },
    });
  [reviews, apiV1, apiV2] = (await Promise.all(['reviews', 'api-v1', 'api-v2'].map(start))) as [Backend, Backend, Backend];
});
afterAll(async () => {
  await Promise.all(meshes.map((m) => m.close()));
  await closeAll([reviews, apiV1, apiV2]);
});

const root = (delegate: string, rootMatch = '[{ uri: { prefix: /api } }]') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-root }
spec:
  hosts: [reviews]
  http:
  - name: api
    match: ${rootMatch}
    headers: { request: { set: { x-from: root } } }
    delegate: ${delegate}
  - route: [{ destination: { host: reviews } }]
`;

/** The delegate, in namespace team: short hosts resolve there (api → api.team.svc.cluster.local). */
const delegate = (exportTo = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-api, namespace: team }
spec:
${exportTo}  http:
  - name: v2
    match: [{ uri: { prefix: /api/v2 } }]
    route: [{ destination: { host: api, subset: v2 } }]
  - name: elsewhere
    match: [{ uri: { prefix: /web } }]
    route: [{ destination: { host: api, subset: v2 } }]
  - name: rest
    headers: { request: { set: { x-from: delegate } } }
    route: [{ destination: { host: api, subset: v1 } }]
`;

const subsets = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, namespace: team }
spec:
  host: api
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
`;

function mesh(config: string[]): Mesh {
  const m = createMesh({
    discovery: [
      staticEndpoints({
        reviews: [reviews.address],
        'api.team': [
          { address: '127.0.0.1', port: apiV1.port, labels: { version: 'v1' } },
          { address: '127.0.0.1', port: apiV2.port, labels: { version: 'v2' } },
        ],
      }),
    ],
    config,
  });
  meshes.push(m);
  return m;
}

const echo = async (m: Mesh, path: string): Promise<{ from: string; header: string }> => {
  const res = await request(`http://reviews${path}`, { dispatcher: m.dispatcher });
  return { from: await res.body.text(), header: String(res.headers['x-seen-from']) };
};

describe('delegate VirtualServices', () => {
  it("routes by the delegate's routes under the root's match, in the delegate's namespace", async () => {
    const m = mesh([root('{ name: reviews-api, namespace: team }'), delegate(), subsets]);
    expect((await echo(m, '/api/v2/x')).from).toBe('api-v2');
    expect((await echo(m, '/api/other')).from).toBe('api-v1');
    // Outside the root's /api match: the root's next route.
    expect((await echo(m, '/web/x')).from).toBe('reviews');
    expect((await echo(m, '/')).from).toBe('reviews');
  });

  it('a delegate route whose match conflicts with the root match is dropped with a warning; the others apply', async () => {
    const m = mesh([root('{ name: reviews-api, namespace: team }'), delegate(), subsets]);
    expect(m.warnings).toEqual(
      expect.arrayContaining([expect.stringMatching(/^VirtualService\/reviews-api .*spec\.http\[1\]\.match conflicts with the matches of VirtualService\/reviews-root .* spec\.http\[0\]/)]),
    );
    const explained = await m.explain('http://reviews/api/v2/x');
    expect(explained.routes.map((r) => r.route)).toEqual(['api-v2']);
  });

  it("what a delegate route leaves unset comes from the root route (its request headers here); its own setting wins", async () => {
    const m = mesh([root('{ name: reviews-api, namespace: team }'), delegate(), subsets]);
    expect(await echo(m, '/api/v2/x')).toEqual({ from: 'api-v2', header: 'root' });
    expect(await echo(m, '/api/x')).toEqual({ from: 'api-v1', header: 'delegate' });
    expect(await echo(m, '/')).toEqual({ from: 'reviews', header: '-' });
  });

  it('a missing or unexported delegate drops only that root route, with a warning naming it', async () => {
    const missing = mesh([root('{ name: nowhere, namespace: team }'), delegate(), subsets]);
    expect(missing.warnings).toEqual(expect.arrayContaining([expect.stringContaining('spec.http[0].delegate: no VirtualService team/nowhere without hosts was loaded')]));
    expect((await echo(missing, '/api/v2/x')).from).toBe('reviews');
    const hidden = mesh([root('{ name: reviews-api, namespace: team }'), delegate('  exportTo: [.]\n'), subsets]);
    expect(hidden.warnings).toEqual(expect.arrayContaining([expect.stringContaining('is not exported to the root\'s namespace "default"')]));
    expect((await echo(hidden, '/api/v2/x')).from).toBe('reviews');
  });

  it('a delegate never applies on its own, and a missing namespace means the root\'s', async () => {
    const sameNamespace = delegate().replace('namespace: team', 'namespace: default').replace(/host: api/g, 'host: api.team.svc.cluster.local');
    const m = mesh([sameNamespace, subsets]);
    expect((await echo(m, '/api/v2/x')).from).toBe('reviews');
    const rooted = mesh([root('{ name: reviews-api }'), sameNamespace, subsets]);
    expect((await echo(rooted, '/api/v2/x')).from).toBe('api-v2');
  });
});

describe('delegates, attacked', () => {
  it('a delegate route that delegates again is refused, as Istio refuses it (one level only)', () => {
    const nested = delegate().replace('  - name: rest\n', '  - name: deeper\n    delegate: { name: reviews-api, namespace: team }\n  - name: rest\n');
    expect(() => mesh([root('{ name: reviews-api, namespace: team }'), nested, subsets])).toThrow(/spec\.http\[2\]\.delegate: no delegate in a delegate VirtualService/);
  });

  it('a root multiplying many routes by a large delegate is a config error, not minutes of merging', () => {
    const vs = (name: string, namespace: string, spec: object) => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace }, spec });
    const big = vs('big', 'default', {
      http: Array.from({ length: 1001 }, (_, i) => ({ match: [{ uri: { prefix: `/d${i}` } }], route: [{ destination: { host: 'api' } }] })),
    });
    const rootVs = vs('root', 'default', {
      hosts: ['reviews'],
      http: Array.from({ length: 1000 }, (_, i) => ({ match: [{ uri: { prefix: `/r${i}` } }], delegate: { name: 'big' } })),
    });
    expect(() => createMesh({ config: [rootVs, big] })).toThrow(/spec\.http\[\d+\]\.delegate: merging its delegates compares more than 1000000 pairs of matches \(the limit\)/);
  });
});
