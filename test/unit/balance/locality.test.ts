// Locality priorities and weights as Istio computes them for a client (semantics.md §11;
// istio/istio pilot/pkg/networking/core/loadbalancer/loadbalancer.go), and Envoy's priority
// load with the 1.4 overprovisioning factor.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LocalityBalancer } from '../../../src/balance/locality-balancer.js';
import { localityOfLabels, localityPriority, parseLocality, planLocality, PRIORITY_LABEL, type LocalityClient } from '../../../src/balance/locality.js';
import { roundRobin } from '../../../src/balance/round-robin.js';
import { plainRequest, seeded, TestEndpoint } from './helpers.js';

const at = (locality: string, extra: Record<string, string> = {}) => ({ labels: { 'topology.istio.io/locality': locality, ...extra }, weight: 1 });
const client = (locality: string, labels: Record<string, string> = {}): LocalityClient => ({ locality: parseLocality(locality), labels });
const priorities = (plan: ReturnType<typeof planLocality>) => Array.from(plan.priorityOf);

describe('localities', () => {
  it('read from Istio labels: topology.istio.io/locality, istio-locality (dots), then the Kubernetes topology labels', () => {
    expect(localityOfLabels({ 'topology.istio.io/locality': 'us/east/a', 'istio-locality': 'x' })).toEqual({ region: 'us', zone: 'east', subzone: 'a' });
    expect(localityOfLabels({ 'istio-locality': 'us.east.a' })).toEqual({ region: 'us', zone: 'east', subzone: 'a' });
    expect(localityOfLabels({ 'topology.kubernetes.io/region': 'us', 'topology.kubernetes.io/zone': 'east' })).toEqual({ region: 'us', zone: 'east', subzone: '' });
    expect(localityOfLabels({})).toEqual({ region: '', zone: '', subzone: '' });
  });

  it('priority against the client: 0 same subzone, 1 same zone, 2 same region, 3 elsewhere (LbPriority)', () => {
    const c = parseLocality('us/east/a');
    expect(['us/east/a', 'us/east/b', 'us/west/a', 'eu/east/a'].map((l) => localityPriority(c, parseLocality(l)))).toEqual([0, 1, 2, 3]);
  });
});

describe('planLocality', () => {
  const eps = [at('us/east/a'), at('us/east/b'), at('us/west/a'), at('eu/west/a'), at('ap/south/a')];

  it('failover (outlier detection set): locality priorities, renumbered without gaps', () => {
    expect(priorities(planLocality(eps, client('us/east/a'), { enabled: true }, true))).toEqual([0, 1, 2, 3, 3]);
    expect(priorities(planLocality([at('us/east/a'), at('eu/west/a')], client('us/east/a'), {}, true))).toEqual([0, 1]);
  });

  it('without outlier detection there is no failover: one priority', () => {
    expect(priorities(planLocality(eps, client('us/east/a'), { enabled: true }, false))).toEqual([0, 0, 0, 0, 0]);
  });

  it('failover entries: the named region before the other regions', () => {
    const plan = planLocality(eps, client('us/east/a'), { failover: [{ from: 'us', to: 'ap' }] }, true);
    expect(priorities(plan)).toEqual([0, 1, 2, 4, 3]);
  });

  it('failoverPriority: the first label to differ at position j of n gives n - j; then renumbered', () => {
    const labelled = [
      at('us/east/a', { 'topology.istio.io/network': 'n1', team: 'a' }),
      at('us/east/a', { 'topology.istio.io/network': 'n1', team: 'b' }),
      at('us/east/a', { 'topology.istio.io/network': 'n2', team: 'a' }),
      at('us/east/a', { 'topology.istio.io/network': 'n2', team: 'b' }),
    ];
    const me = client('us/east/a', { 'topology.istio.io/network': 'n1', team: 'a' });
    // A network mismatch first does not stop the comparison: it adds n.
    expect(priorities(planLocality(labelled, me, { failoverPriority: ['topology.istio.io/network', 'team'] }, true))).toEqual([0, 1, 2, 3]);
    expect(priorities(planLocality(labelled, me, { failoverPriority: ['team', 'topology.istio.io/network'] }, true))).toEqual([0, 2, 1, 2]);
    // label=value compares with the given value, not the client's.
    expect(priorities(planLocality(labelled, me, { failoverPriority: ['team=b'] }, true))).toEqual([1, 0, 1, 0]);
    // The topology labels come from the localities when not written as labels.
    expect(priorities(planLocality(eps, client('us/east/a', { app: 'x' }), { failoverPriority: ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone'] }, true))).toEqual([0, 0, 1, 2, 2]);
    // A client without labels: failoverPriority is ignored (Istio returns early) and, without `failover`, nothing else applies.
    expect(priorities(planLocality(labelled, client('us/east/a'), { failoverPriority: ['team'] }, true))).toEqual([0, 0, 0, 0]);
  });

  it('distribute: the first matching from sets locality weights; localities it does not name get no traffic; no failover', () => {
    const set = [at('us/east/a'), at('us/east/a'), at('us/east/b'), at('us/west/a'), at('eu/west/a')];
    const plan = planLocality(set, client('us/east/a'), { distribute: [{ from: 'eu/*', to: { 'eu/*': 100 } }, { from: 'us/east/*', to: { 'us/east/*': 80, 'us/west/*': 20 } }] }, true);
    expect(priorities(plan)).toEqual([0, 0, 0, 0, -1]);
    // us/east/a (weight 2) and us/east/b (1) share 80: ceil(2*80/3)=54, ceil(1*80/3)=27; us/west/a 20.
    expect(plan.groups.map((g) => [g.key.split('|')[1], g.weight])).toEqual([['us/east/a', 54], ['us/east/b', 27], ['us/west/a', 20]]);
  });

  it('discovery priorities (SRV tiers) stay the most significant, and apply even with locality load balancing off', () => {
    const tiers = [at('us/east/a', { [PRIORITY_LABEL]: '1' }), at('eu/west/a', { [PRIORITY_LABEL]: '0' }), at('us/east/b', { [PRIORITY_LABEL]: '1' })];
    expect(priorities(planLocality(tiers, client('us/east/a'), {}, true))).toEqual([1, 0, 2]);
    expect(priorities(planLocality(tiers, client('us/east/a'), undefined, true))).toEqual([1, 0, 1]);
  });

  it('priorities always run 0..k-1 without gaps, and endpoints of one locality share one (property)', () => {
    const loc = fc.constantFrom('us/east/a', 'us/east/b', 'us/west/a', 'eu/west/a', 'ap/x/y', '');
    fc.assert(
      fc.property(fc.array(loc, { maxLength: 30 }), loc, fc.boolean(), (localities, mine, withFailover) => {
        const plan = planLocality(localities.map((l) => at(l)), client(mine), withFailover ? { failover: [{ from: 'us', to: 'eu' }] } : {}, true);
        const used = new Set(priorities(plan));
        expect([...used].sort((a, b) => a - b)).toEqual(Array.from({ length: used.size }, (_, i) => i));
        localities.forEach((l, i) => localities.forEach((m, j) => l === m && expect(plan.priorityOf[i]).toBe(plan.priorityOf[j])));
      }),
    );
  });
});

describe('LocalityBalancer: Envoy priority load with the 1.4 overprovisioning factor', () => {
  function setUp(tiers: number[]) {
    type Labelled = TestEndpoint & { labels: Record<string, string> };
    const endpoints: Labelled[] = tiers.map((p, i) => Object.assign(new TestEndpoint(`10.0.0.${i}:80`), { labels: { [PRIORITY_LABEL]: String(p) } as Record<string, string> }));
    const balancer = new LocalityBalancer<Labelled>(() => roundRobin(), (eps) => planLocality(eps, client(''), {}, true), { random: seeded(7) });
    balancer.update(endpoints);
    return { endpoints, balancer };
  }
  const share = (balancer: LocalityBalancer<TestEndpoint & { labels: Record<string, string> }>, priority: number, n = 20_000) => {
    let hits = 0;
    for (let i = 0; i < n; i++) if (balancer.priorityOf(balancer.pick(plainRequest)!) === priority) hits++;
    return hits / n;
  };

  it('a priority 80 % healthy still takes all the traffic (80 × 1.4 ≥ 100); at 50 % it takes 70 % and the next priority the rest', () => {
    const { endpoints, balancer } = setUp([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    endpoints[0]!.available = false;
    endpoints[1]!.available = false;
    balancer.healthChanged();
    expect(share(balancer, 0)).toBe(1);
    for (let i = 2; i < 5; i++) endpoints[i]!.available = false;
    balancer.healthChanged();
    expect(share(balancer, 0)).toBeCloseTo(0.7, 1);
  });

  it('when the priorities together are under 100 % healthy, the load is scaled to them', () => {
    const { endpoints, balancer } = setUp([0, 0, 1, 1]);
    // P0 50 % healthy → 70; P1 50 % → 70; sum over 100: P0 70, P1 the remaining 30.
    endpoints[0]!.available = false;
    endpoints[2]!.available = false;
    balancer.healthChanged();
    expect(share(balancer, 0)).toBeCloseTo(0.7, 1);
    // P0 0 %, P1 50 % → 70 (sum 70 < 100): P1 takes everything.
    endpoints[1]!.available = false;
    balancer.healthChanged();
    expect(share(balancer, 1)).toBe(1);
  });

  it('nothing healthy: no endpoint (the mesh answers no healthy upstream)', () => {
    const { endpoints, balancer } = setUp([0, 1]);
    for (const e of endpoints) e.available = false;
    balancer.healthChanged();
    expect(balancer.pick(plainRequest)).toBeUndefined();
  });

  it('excluded priorities (retryRemoteLocalities) are avoided while another is healthy', () => {
    const { endpoints, balancer } = setUp([0, 0, 1, 1]);
    for (let i = 0; i < 100; i++) expect(balancer.priorityOf(balancer.pick(plainRequest, 0, 0b1)!)).toBe(1);
    endpoints[2]!.available = false;
    endpoints[3]!.available = false;
    balancer.healthChanged();
    expect(balancer.priorityOf(balancer.pick(plainRequest, 0, 0b1)!)).toBe(0);
  });
});
