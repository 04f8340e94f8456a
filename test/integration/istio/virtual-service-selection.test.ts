// Which VirtualServices and ServiceEntries apply to in-process traffic, as Istio decides
// for a sidecar (semantics.md §4, §6): gateways ("mesh" means sidecars), match.gateways,
// sourceLabels/sourceNamespace of this workload, match.port, exportTo, and the order
// among several VirtualServices for one host. Real servers answer with their own id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

let reviews: Backend;
let other: Backend;
const meshes: Mesh[] = [];
beforeAll(async () => {
  [reviews, other] = (await Promise.all(['reviews', 'other'].map((id) => startBackend({ id })))) as [Backend, Backend];
});
afterAll(async () => {
  await Promise.all(meshes.map((m) => m.close()));
  await closeAll([reviews, other]);
});

/** reviews (the service itself) and other, in namespace `frontend` unless given. */
function mesh(config: string | string[], options: Parameters<typeof createMesh>[0] = {}): Mesh {
  const m = createMesh({
    namespace: 'frontend',
    discovery: [staticEndpoints({ 'reviews.frontend': [reviews.address], 'other.frontend': [other.address] })],
    config,
    ...options,
  });
  meshes.push(m);
  return m;
}

/** A VirtualService for reviews answering `body` directly, with extra spec lines. */
function vs(name: string, body: string, extra = '', meta = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}${meta} }
spec:
  hosts: [reviews.frontend.svc.cluster.local]
${extra}  http: [{ directResponse: { status: 200, body: { string: ${body} } } }]
`;
}

const get = async (m: Mesh, url = 'http://reviews/', headers?: Record<string, string>): Promise<string> => {
  const res = await request(url, { dispatcher: m.dispatcher, headers });
  return `${res.statusCode} ${await res.body.text()}`;
};

describe('gateways', () => {
  it('a VirtualService bound only to gateways does not route in-process traffic; "mesh" among its gateways does', async () => {
    const gatewayOnly = mesh(vs('ingress-only', 'from-vs', '  gateways: [istio-system/ingressgateway]\n'));
    expect(await get(gatewayOnly)).toBe('200 reviews');
    expect(gatewayOnly.warnings).toEqual([expect.stringContaining('spec.gateways ["istio-system/ingressgateway"] does not include "mesh"')]);
    const withMesh = mesh(vs('both', 'from-vs', '  gateways: [istio-system/ingressgateway, mesh]\n'));
    expect(await get(withMesh)).toBe('200 from-vs');
  });

  it('match.gateways: a match for gateways only never holds for mesh traffic; one listing "mesh" ignores sourceLabels', async () => {
    const m = mesh(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  gateways: [mesh, istio-system/ingressgateway]
  http:
  - match: [{ gateways: [istio-system/ingressgateway] }]
    directResponse: { status: 200, body: { string: gateway-route } }
  - match: [{ gateways: [mesh], sourceLabels: { app: somebody-else }, uri: { prefix: /mesh } }]
    directResponse: { status: 200, body: { string: mesh-route } }
  - route: [{ destination: { host: other } }]
`);
    expect(await get(m, 'http://reviews/')).toBe('200 other');
    expect(await get(m, 'http://reviews/mesh')).toBe('200 mesh-route');
    // The gateway-only route does not exist for this workload (Istio leaves it out of the sidecar's routes).
    const explained = await m.explain('http://reviews/');
    expect(explained.routes.map((r) => r.route)).toEqual(['http[1]', 'http[2]']);
  });

  it('when no route can match this workload, the VirtualService does not apply: requests go to the service itself (not a 404)', async () => {
    const m = mesh(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ gateways: [istio-system/ingressgateway] }, { sourceLabels: { app: somebody-else } }]
    directResponse: { status: 200, body: { string: not-for-us } }
`);
    expect(await get(m)).toBe('200 reviews');
    expect(m.warnings).toEqual([expect.stringContaining('no route of it can match in-process traffic from this workload')]);
  });
});

describe('sourceNamespace and match.port', () => {
  it("sourceNamespace is compared with this mesh's namespace, not the VirtualService's", async () => {
    const config = (source: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: bookinfo }
spec:
  hosts: [reviews.frontend.svc.cluster.local]
  http:
  - match: [{ sourceNamespace: ${source} }]
    directResponse: { status: 200, body: { string: matched } }
  - route: [{ destination: { host: reviews.frontend.svc.cluster.local } }]
`;
    expect(await get(mesh(config('frontend')))).toBe('200 matched');
    expect(await get(mesh(config('bookinfo')))).toBe('200 reviews');
  });

  it('a VirtualService whose routes all name other ports does not apply on this port', async () => {
    const m = mesh(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ port: 9080 }]
    directResponse: { status: 200, body: { string: port-9080 } }
`);
    expect(await get(m, 'http://reviews:9080/')).toBe('200 port-9080');
    // Port 80: no route of it exists there, so the request goes to the service, not to a 404.
    expect(await get(m, 'http://reviews/')).toBe('200 reviews');
  });
});

describe('exportTo of VirtualServices', () => {
  const cases: Array<[string, string, string, string]> = [
    ['another namespace, exported to this one by name', 'bookinfo', '[frontend]', '200 from-vs'],
    ['another namespace, exported elsewhere', 'bookinfo', '[team-b]', '200 reviews'],
    ['another namespace, private to it', 'bookinfo', '[.]', '200 reviews'],
    ['this namespace, private', 'frontend', '[.]', '200 from-vs'],
    ['this namespace, exported to others only', 'frontend', '[bookinfo]', '200 reviews'],
    ['another namespace, public', 'bookinfo', '["*"]', '200 from-vs'],
  ];
  it.each(cases)('%s', async (_title, namespace, exportTo, expected) => {
    const m = mesh(vs('reviews', 'from-vs', `  exportTo: ${exportTo}\n`, `, namespace: ${namespace}`));
    expect(await get(m)).toBe(expected);
  });

  it('several for one host: this namespace alone first, then exported to it by name, then public ones; oldest first within each', async () => {
    const publicOld = vs('public-old', 'public-old', '', ', namespace: shop, creationTimestamp: "2020-01-01T00:00:00Z"');
    const publicNew = vs('public-new', 'public-new', '', ', namespace: shop, creationTimestamp: "2025-01-01T00:00:00Z"');
    const named = vs('named', 'named', '  exportTo: [frontend]\n', ', namespace: team, creationTimestamp: "2025-06-01T00:00:00Z"');
    const own = vs('own', 'own', '  exportTo: [.]\n', ', namespace: frontend, creationTimestamp: "2026-01-01T00:00:00Z"');
    expect(await get(mesh([publicNew, publicOld, named, own]))).toBe('200 own');
    expect(await get(mesh([publicNew, publicOld, named]))).toBe('200 named');
    expect(await get(mesh([publicNew, publicOld]))).toBe('200 public-old');
  });
});

describe('exportTo of ServiceEntries', () => {
  const entry = (exportTo: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api, namespace: payments }
spec:
  hosts: [api.payments.example]
  exportTo: ${exportTo}
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${reviews.port} } }]
`;
  it('an entry not exported to this namespace declares nothing here', async () => {
    const registryOnly = { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' as const } };
    expect(await get(mesh(entry('["*"]'), registryOnly), 'http://api.payments.example/')).toBe('200 reviews');
    expect(await get(mesh(entry('[frontend]'), registryOnly), 'http://api.payments.example/')).toBe('200 reviews');
    for (const hidden of ['[.]', '[team-b]', '["~"]']) {
      const m = mesh(entry(hidden), registryOnly);
      await expect(get(m, 'http://api.payments.example/')).rejects.toMatchObject({ code: 'PROXYLESS_ERR_UNKNOWN_SERVICE' });
      expect(m.warnings).toEqual(expect.arrayContaining([expect.stringContaining(`spec.exportTo ${hidden.replace(/"/g, '')} does not export it to this mesh's namespace "frontend"`)]));
    }
  });
});
