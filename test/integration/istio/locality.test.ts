// Locality-aware load balancing against real servers (semantics.md §11): endpoints in
// several localities (ServiceEntry endpoint `locality`, Kubernetes topology labels), the
// mesh's own locality, failover by Envoy's priority rules once outlier detection ejects
// the local endpoints, `distribute` weights, `failoverPriority` labels,
// `retryRemoteLocalities`, and SRV backup tiers from a real dnsmasq.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { dns } from '../../../src/discovery/dns/index.js';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';
import { startDnsmasq } from '../../helpers/dns/dnsmasq.js';
import { requireBinaries } from '../../helpers/system-binaries.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

/** A backend answering its id; `failing` answers 503 while set. */
async function backend(id: string): Promise<Backend & { failing: boolean }> {
  const state = { failing: false };
  const b = await startBackend({
    id,
    handle: (_req: IncomingMessage, res: ServerResponse) => {
      if (state.failing) {
        res.statusCode = 503;
        return res.end(`${id} failing`);
      }
      res.end(id);
    },
  });
  servers.push(b);
  return Object.defineProperty(b, 'failing', { get: () => state.failing, set: (v: boolean) => (state.failing = v) }) as Backend & { failing: boolean };
}

/** A ServiceEntry for `api.example` with one STATIC endpoint per backend, in the given localities. */
function entry(endpoints: Array<[Backend, string]>): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api }
spec:
  hosts: [api.example]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints:
${endpoints.map(([b, locality]) => `  - { address: 127.0.0.1, ports: { http: ${b.port} }, locality: "${locality}" }`).join('\n')}
`;
}

function rule(trafficPolicy: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec:
  host: api.example
  trafficPolicy: ${trafficPolicy}
`;
}

const OUTLIER = 'outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m, maxEjectionPercent: 100 }';

function mesh(config: string[], options: Parameters<typeof createMesh>[0] = {}): Mesh {
  const m = createMesh({ config, ...options });
  meshes.push(m);
  return m;
}

async function counts(m: Mesh, n: number, url = 'http://api.example/'): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await request(url, { dispatcher: m.dispatcher });
    const body = await res.body.text();
    out[body] = (out[body] ?? 0) + 1;
  }
  return out;
}

describe('locality failover (outlier detection set, no localityLbSetting: the mesh default applies)', () => {
  it('traffic stays in the own zone, then fails over zone by zone as endpoints are ejected', async () => {
    const [local, sameRegion, otherRegion] = await Promise.all([backend('local'), backend('same-region'), backend('other-region')]);
    const m = mesh([entry([[local, 'us-east/a'], [sameRegion, 'us-east/b'], [otherRegion, 'eu-west/a']]), rule(`{ loadBalancer: { simple: ROUND_ROBIN }, ${OUTLIER} }`)], { locality: 'us-east/a' });
    expect(await counts(m, 20)).toEqual({ local: 20 });
    expect((await m.explain('http://api.example/')).destinations[0]?.balancer).toBe('locality/round-robin');
    // The local endpoint fails once: ejected (consecutive5xxErrors 1); the next priority takes over.
    local.failing = true;
    expect(await counts(m, 1)).toEqual({ 'local failing': 1 });
    expect(await counts(m, 20)).toEqual({ 'same-region': 20 });
    sameRegion.failing = true;
    expect(await counts(m, 1)).toEqual({ 'same-region failing': 1 });
    expect(await counts(m, 20)).toEqual({ 'other-region': 20 });
  });

  it('without outlier detection there is no failover: every locality shares the traffic', async () => {
    const [local, remote] = await Promise.all([backend('local'), backend('remote')]);
    const m = mesh([entry([[local, 'us-east/a'], [remote, 'eu-west/a']]), rule('{ loadBalancer: { simple: ROUND_ROBIN } }')], { locality: 'us-east/a' });
    expect(await counts(m, 20)).toEqual({ local: 10, remote: 10 });
  });

  it('localityLbSetting enabled: false turns it off even with outlier detection', async () => {
    const [local, remote] = await Promise.all([backend('local'), backend('remote')]);
    const m = mesh([entry([[local, 'us-east/a'], [remote, 'eu-west/a']]), rule(`{ loadBalancer: { simple: ROUND_ROBIN, localityLbSetting: { enabled: false } }, ${OUTLIER} }`)], { locality: 'us-east/a' });
    expect(await counts(m, 20)).toEqual({ local: 10, remote: 10 });
  });

  it("failover: the client's region fails over to the named region before any other", async () => {
    const [local, ap, eu] = await Promise.all([backend('local'), backend('ap'), backend('eu')]);
    const policy = `{ loadBalancer: { simple: ROUND_ROBIN, localityLbSetting: { failover: [{ from: us-east, to: ap-south }] } }, ${OUTLIER} }`;
    const m = mesh([entry([[local, 'us-east/a'], [eu, 'eu-west/a'], [ap, 'ap-south/a']]), rule(policy)], { locality: 'us-east/a' });
    local.failing = true;
    await counts(m, 1);
    expect(await counts(m, 20)).toEqual({ ap: 20 });
  });
});

describe('distribute', () => {
  it("sends each destination locality its share, from the mesh's own locality (taken from its labels here)", async () => {
    const [east, west, eu] = await Promise.all([backend('east'), backend('west'), backend('eu')]);
    const policy = `{ loadBalancer: { simple: ROUND_ROBIN, localityLbSetting: { distribute: [{ from: "us-east/*", to: { "us-east/*": 75, "us-west/*": 25 } }] } } }`;
    const m = mesh([entry([[east, 'us-east/a'], [west, 'us-west/a'], [eu, 'eu-west/a']]), rule(policy)], {
      labels: { 'topology.kubernetes.io/region': 'us-east', 'topology.kubernetes.io/zone': 'a' },
    });
    const got = await counts(m, 400);
    // eu-west is named by no pattern: no traffic. 75/25 within statistical bounds (n = 400: sd ≈ 8.7).
    expect(got.eu).toBeUndefined();
    expect(got.east).toBeGreaterThan(300 - 4 * 9);
    expect(got.east).toBeLessThan(300 + 4 * 9);
    expect(got.east! + got.west!).toBe(400);
  });
});

describe('failoverPriority', () => {
  it('orders endpoints by how many of the labels match the client, in order', async () => {
    const [sameBoth, sameNet, other] = await Promise.all([backend('same-both'), backend('same-net'), backend('other')]);
    const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: api }
spec:
  hosts: [api.example]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints:
  - { address: 127.0.0.1, ports: { http: ${sameBoth.port} }, labels: { net: a, rack: r1 } }
  - { address: 127.0.0.1, ports: { http: ${sameNet.port} }, labels: { net: a, rack: r2 } }
  - { address: 127.0.0.1, ports: { http: ${other.port} }, labels: { net: b, rack: r1 } }
`;
    const policy = `{ loadBalancer: { simple: ROUND_ROBIN, localityLbSetting: { failoverPriority: [net, rack] } }, ${OUTLIER} }`;
    const m = mesh([se, rule(policy)], { labels: { net: 'a', rack: 'r1' } });
    expect(await counts(m, 10)).toEqual({ 'same-both': 10 });
    sameBoth.failing = true;
    await counts(m, 1);
    expect(await counts(m, 10)).toEqual({ 'same-net': 10 });
  });
});

describe('retryRemoteLocalities', () => {
  it("a second retry goes to another locality's priority (Envoy previous_priorities, update frequency 2)", async () => {
    // Two local endpoints that both fail (without being ejected: 5 consecutive needed), one remote.
    const [a1, a2, remote] = await Promise.all([backend('a1'), backend('a2'), backend('remote')]);
    a1.failing = true;
    a2.failing = true;
    const vs = (remoteLocalities: boolean) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api.example]
  http:
  - retries: { attempts: 2, retryOn: "503", retryRemoteLocalities: ${remoteLocalities} }
    route: [{ destination: { host: api.example } }]
`;
    const policy = `{ loadBalancer: { simple: ROUND_ROBIN }, outlierDetection: { consecutive5xxErrors: 100, maxEjectionPercent: 100 } }`;
    const endpoints = entry([[a1, 'us-east/a'], [a2, 'us-east/a'], [remote, 'eu-west/a']]);
    const withRemote = mesh([endpoints, rule(policy), vs(true)], { locality: 'us-east/a' });
    // First try a1 or a2, first retry the other local one (same priority), second retry remote.
    expect(await counts(withRemote, 5)).toEqual({ remote: 5 });
    // Without it, every try stays in the local priority: the remote endpoint is never asked.
    const remoteBefore = remote.requests;
    const without = mesh([endpoints, rule(policy), vs(false)], { locality: 'us-east/a' });
    const got = await counts(without, 5);
    expect(Object.keys(got).every((body) => body.endsWith('failing'))).toBe(true);
    expect(remote.requests).toBe(remoteBefore);
  });
});

const needs = requireBinaries([{ bin: 'dnsmasq', pkg: 'dnsmasq-base' }]);

// Skipped only off CI where dnsmasq is not installed (requireBinaries names the package).
describe.skipIf(needs.skip)(`SRV backup tiers fail over on endpoint health${needs.note}`, () => {
  let dnsmasq: Awaited<ReturnType<typeof startDnsmasq>>;
  let primary: Array<Backend & { failing: boolean }>;
  let backup: Backend & { failing: boolean };
  beforeAll(async () => {
    primary = await Promise.all([backend('p1'), backend('p2')]);
    backup = await backend('backup');
    const name = '_http._tcp.pay.shop.svc.cluster.local';
    dnsmasq = await startDnsmasq({
      localDomains: ['cluster.local'],
      hostRecords: [['h.pay.shop.svc.cluster.local', '127.0.0.1']],
      srvHosts: [
        ...primary.map((b) => ({ name, target: 'h.pay.shop.svc.cluster.local', port: b.port, priority: 10, weight: 1 })),
        { name, target: 'h.pay.shop.svc.cluster.local', port: backup.port, priority: 20, weight: 1 },
      ],
    });
    servers.splice(0); // these live for the whole describe
  });
  afterAll(async () => {
    await dnsmasq?.stop();
    await closeAll([...primary, backup]);
  });

  it('the backup tier gets nothing while the first is healthy, then takes over as its endpoints are ejected', async () => {
    const m = mesh([`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: pay, namespace: shop }
spec: { host: pay, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN }, ${OUTLIER} } }`], { namespace: 'shop', discovery: [dns({ servers: [dnsmasq.address], srv: true })] });
    expect(await counts(m, 20, 'http://pay/')).toEqual({ p1: 10, p2: 10 });
    // One of two primaries ejected: 50 % healthy × 1.4 = 70 % stays on the tier, 30 % to the backup.
    primary[0]!.failing = true;
    await counts(m, 2, 'http://pay/');
    const got = await counts(m, 400, 'http://pay/');
    expect(got['p1 failing']).toBeUndefined();
    expect(got.p2! + got.backup!).toBe(400);
    expect(got.backup).toBeGreaterThan(120 - 4 * 10);
    expect(got.backup).toBeLessThan(120 + 4 * 10);
    // p2 now gets ~70 %: send until it has answered (and been ejected), at most 100 tries.
    primary[1]!.failing = true;
    for (let i = 0; i < 100 && (await counts(m, 1, 'http://pay/'))['p2 failing'] === undefined; i++);
    expect(await counts(m, 20, 'http://pay/')).toEqual({ backup: 20 });
  });
});
