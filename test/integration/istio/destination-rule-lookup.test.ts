// Which DestinationRule applies, as Istio decides for a sidecar (semantics.md §3, §5):
// most specific host (exact, then the longest wildcard), the client's namespace, then the
// service's, then the root namespace, exportTo, rules merged per host, workloadSelector,
// and port-level settings replacing the policy wholesale. Real servers answer with their
// own id, so a subset's labels show which rule's subsets were used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

let v1: Backend;
let v2: Backend;
let v3: Backend;
const meshes: Mesh[] = [];
beforeAll(async () => {
  [v1, v2, v3] = await Promise.all(['v1', 'v2', 'v3'].map((id) => startBackend({ id }))) as [Backend, Backend, Backend];
});
afterAll(async () => {
  await Promise.all(meshes.map((m) => m.close()));
  await closeAll([v1, v2, v3]);
});

/** Three replicas of `host`, labelled version v1, v2, v3. */
const replicas = (host: string) => ({
  [host]: [v1, v2, v3].map((b) => ({ address: '127.0.0.1', port: b.port, labels: { version: b.id } })),
});

/** A DestinationRule whose subset `pick` selects `version`. */
function rule(name: string, host: string, version: string, extra: { namespace?: string; exportTo?: string[]; created?: string; spec?: object } = {}): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
${extra.namespace ? `  namespace: ${extra.namespace}\n` : ''}${extra.created ? `  creationTimestamp: "${extra.created}"\n` : ''}spec:
  host: "${host}"
${extra.exportTo ? `  exportTo: ${JSON.stringify(extra.exportTo)}\n` : ''}  subsets: [{ name: pick, labels: { version: ${version} } }]
${extra.spec ? Object.entries(extra.spec).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`).join('') : ''}`;
}

/** A VirtualService sending every request for `host` to subset `pick`. */
function toPick(host: string, namespace?: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: to-pick
${namespace ? `  namespace: ${namespace}\n` : ''}spec:
  hosts: ["${host}"]
  http: [{ route: [{ destination: { host: "${host}", subset: pick } }] }]
`;
}

function mesh(options: Parameters<typeof createMesh>[0]): Mesh {
  const m = createMesh({ discoveryTimeout: 200, ...options });
  meshes.push(m);
  return m;
}

const answer = async (m: Mesh, url: string): Promise<string> => {
  const res = await request(url, { dispatcher: m.dispatcher });
  return res.body.text();
};

describe('wildcard DestinationRule hosts: the most specific match applies', () => {
  it('an exact host beats every wildcard, a longer wildcard beats a shorter one, and * is the last resort', async () => {
    const hosts = ['api.tenants.example', 'web.eu.tenants.example', 'other.example', 'elsewhere.test'];
    const m = mesh({
      discovery: [staticEndpoints(Object.assign({}, ...hosts.map(replicas)))],
      config: [
        rule('star', '*', 'v3'),
        rule('example', '*.example', 'v1'),
        rule('tenants', '*.tenants.example', 'v2'),
        rule('eu', '*.eu.tenants.example', 'v3'),
        rule('exact-web', 'web.eu.tenants.example', 'v1'),
        ...hosts.map((h, i) => toPick(h).replace('name: to-pick', `name: to-pick-${i}`)),
      ],
    });
    expect(await answer(m, 'http://api.tenants.example/')).toBe('v2');
    expect(await answer(m, 'http://web.eu.tenants.example/')).toBe('v1');
    expect(await answer(m, 'http://other.example/')).toBe('v1');
    expect(await answer(m, 'http://elsewhere.test/')).toBe('v3');
    expect((await m.explain('http://api.tenants.example/')).destinations[0]?.destinationRule).toMatch(/^DestinationRule\/tenants /);
  });

  it('a wildcard rule applies to a ServiceEntry host it covers', async () => {
    const entry = (name: string, namespace: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  hosts: [eu.payments.example]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints:
${[v1, v2, v3].map((b) => `  - { address: 127.0.0.1, ports: { http: ${b.port} }, labels: { version: ${b.id} } }`).join('\n')}
`;
    const policy = { spec: { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } };
    // The rule lives in the ServiceEntry's namespace (the service's), not the mesh's.
    const m = mesh({
      namespace: 'shop',
      config: [entry('payments', 'payments'), rule('payments', '*.payments.example', 'v2', { namespace: 'payments', ...policy }), toPick('eu.payments.example', 'shop')],
    });
    expect(await answer(m, 'http://eu.payments.example/')).toBe('v2');
    const explained = await m.explain('http://eu.payments.example/');
    expect(explained.destinations[0]).toMatchObject({ balancer: 'round-robin', destinationRule: expect.stringMatching(/^DestinationRule\/payments /) });
  });
});

describe('which namespace a DestinationRule is looked for in', () => {
  const host = 'reviews.bookinfo.svc.cluster.local';
  const inFrontend = rule('client', host, 'v1', { namespace: 'frontend' });
  const inBookinfo = rule('service', host, 'v2', { namespace: 'bookinfo' });
  const inRoot = rule('root', host, 'v3', { namespace: 'istio-system' });
  const elsewhere = rule('elsewhere', host, 'v1', { namespace: 'other-team' });

  const ruleFor = async (config: string[], namespace = 'frontend'): Promise<string | undefined> => {
    const m = mesh({ namespace, discovery: [staticEndpoints(replicas(host))], config: [toPick(host, namespace), ...config] });
    const explained = await m.explain(`http://${host}/`);
    await m.close();
    return explained.destinations[0]?.destinationRule?.split(' ')[0];
  };

  it("the client's namespace first, then the service's, then the root namespace; a fourth namespace never", async () => {
    expect(await ruleFor([elsewhere, inRoot, inBookinfo, inFrontend])).toBe('DestinationRule/client');
    expect(await ruleFor([elsewhere, inRoot, inBookinfo])).toBe('DestinationRule/service');
    expect(await ruleFor([elsewhere, inRoot])).toBe('DestinationRule/root');
    expect(await ruleFor([elsewhere])).toBeUndefined();
  });

  it('traffic follows the rule found: its subsets are the ones used', async () => {
    const m = mesh({ namespace: 'frontend', discovery: [staticEndpoints(replicas(host))], config: [toPick(host, 'frontend'), inRoot, inBookinfo] });
    for (let i = 0; i < 3; i++) expect(await answer(m, `http://${host}/`)).toBe('v2');
  });

  it('exportTo: a rule not exported to the client namespace is passed over', async () => {
    // Exported elsewhere only, or private to its own namespace: the root's applies.
    expect(await ruleFor([inRoot, rule('service', host, 'v2', { namespace: 'bookinfo', exportTo: ['team-b'] })])).toBe('DestinationRule/root');
    expect(await ruleFor([inRoot, rule('service', host, 'v2', { namespace: 'bookinfo', exportTo: ['.'] })])).toBe('DestinationRule/root');
    expect(await ruleFor([inRoot, rule('service', host, 'v2', { namespace: 'bookinfo', exportTo: ['frontend'] })])).toBe('DestinationRule/service');
    // In the client's namespace, exporting to other namespaces only hides it from its own.
    expect(await ruleFor([inBookinfo, rule('client', host, 'v1', { namespace: 'frontend', exportTo: ['bookinfo'] })])).toBe('DestinationRule/service');
    expect(await ruleFor([inBookinfo, rule('client', host, 'v1', { namespace: 'frontend', exportTo: ['.'] })])).toBe('DestinationRule/client');
  });

  it("a client in the root namespace sees the root's private rules first, then the service's", async () => {
    const rootPrivate = rule('root-private', host, 'v3', { namespace: 'istio-system', exportTo: ['.'] });
    expect(await ruleFor([inBookinfo, rootPrivate], 'istio-system')).toBe('DestinationRule/root-private');
    expect(await ruleFor([inBookinfo, inRoot], 'istio-system')).toBe('DestinationRule/service');
  });
});

describe('several DestinationRules for one host', () => {
  const host = 'cart';

  it('merge: subsets of both, the traffic policy of the oldest (creationTimestamp, not load order)', async () => {
    const newer = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: newer, creationTimestamp: "2026-02-01T00:00:00Z" }
spec:
  host: cart
  trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } }
  subsets: [{ name: b, labels: { version: v2 } }, { name: a, labels: { version: v3 } }]
`;
    const older = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: older, creationTimestamp: "2026-01-01T00:00:00Z" }
spec:
  host: cart
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
  subsets: [{ name: a, labels: { version: v1 } }]
`;
    const routes = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: cart }
spec:
  hosts: [cart]
  http:
  - match: [{ uri: { prefix: /b } }]
    route: [{ destination: { host: cart, subset: b } }]
  - route: [{ destination: { host: cart, subset: a } }]
`;
    const m = mesh({ discovery: [staticEndpoints(replicas(host))], config: [newer, routes, older] });
    expect(await answer(m, 'http://cart/a')).toBe('v1');
    expect(await answer(m, 'http://cart/b')).toBe('v2');
    const explained = await m.explain('http://cart/a');
    expect(explained.destinations[0]).toMatchObject({ balancer: 'round-robin', destinationRule: expect.stringMatching(/^DestinationRule\/older .* \+ DestinationRule\/newer /) });
    expect(m.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^DestinationRule\/newer .*subset "a" of host cart\.default\.svc\.cluster\.local is already defined by DestinationRule\/older/),
        expect.stringMatching(/^DestinationRule\/newer .*spec\.trafficPolicy is ignored: DestinationRule\/older .* is older/),
      ]),
    );
  });

  it("workloadSelector: a rule selecting this workload's labels wins over one without; other workloads get the catch-all", async () => {
    const selecting = rule('for-productpage', host, 'v2', { spec: { workloadSelector: { matchLabels: { app: 'productpage' } } } });
    const general = rule('general', host, 'v1');
    const forProductpage = mesh({ labels: { app: 'productpage', version: 'v1' }, discovery: [staticEndpoints(replicas(host))], config: [general, selecting, toPick(host)] });
    expect(await answer(forProductpage, 'http://cart/')).toBe('v2');
    const forOthers = mesh({ labels: { app: 'ratings' }, discovery: [staticEndpoints(replicas(host))], config: [general, selecting, toPick(host)] });
    expect(await answer(forOthers, 'http://cart/')).toBe('v1');
  });
});

describe('port-level settings', () => {
  it('replace the top-level policy wholesale: what the port entry omits is the default, not the top level', async () => {
    const m = mesh({
      discovery: [staticEndpoints(replicas('cart'))],
      config: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: cart }
spec:
  host: cart
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    portLevelSettings:
    - port: { number: 9080 }
      connectionPool: { http: { http1MaxPendingRequests: 10 } }
    - port: { number: 9090 }
      loadBalancer: { simple: RANDOM }
  subsets:
  - name: lr
    labels: { version: v1 }
    trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } }
`,
    });
    const balancer = async (url: string) => (await m.explain(url)).destinations[0]?.balancer;
    expect(await balancer('http://cart/')).toBe('round-robin');
    expect(await balancer('http://cart:9080/')).toBe('p2c-peak-ewma');
    expect(await balancer('http://cart:9090/')).toBe('random');
  });
});
