import type { Balancer, BalancerEndpoint, BalancerRuntime, LoadBalancerSettings, PickRequest } from './types.js';
import { planLocality, type LocalityClient, type LocalityPlan } from './locality.js';

/** Envoy's default overprovisioning factor (1.4, written 140): a priority 72 % healthy still takes all the traffic. */
export const OVERPROVISIONING_FACTOR = 1.4;

/** At most this many priorities are told apart (Envoy has no limit; ours keeps picks O(1)). */
const MAX_PRIORITIES = 32;

interface Group<E extends BalancerEndpoint> {
  readonly priority: number;
  readonly weight: number;
  readonly key: string;
  readonly members: E[];
  balancer: Balancer<E>;
}

/**
 * Envoy's priority levels and locality weights over an inner balancer
 * (load_balancing/priority, locality_weight docs): endpoints are split into priorities
 * and, within one, into locality groups by a {@link LocalityPlan}; each group has its own
 * inner balancer (the DestinationRule's `loadBalancer`).
 *
 * A pick chooses a priority by Envoy's priority load: each priority is worth its healthy
 * share × 1.4 (capped at 100 %); priority 0 takes what it is worth, the next takes what
 * is left up to its worth, and so on; when the sum is under 100 % the loads are scaled to
 * it. Then a group by weight × its healthy share × 1.4 (capped), then an endpoint by the
 * inner balancer. Healthy is `available` (not ejected, not failing health checks, not
 * draining); counts, not weights, as Envoy counts. With `excluded` priorities (a retry
 * under `retryRemoteLocalities`) those count as unhealthy, if any other is healthy.
 *
 * Loads are recomputed only after {@link LocalityBalancer.healthChanged} or an update
 * (O(n)); a pick is O(priorities + groups of one priority) and allocates nothing.
 */
export class LocalityBalancer<E extends BalancerEndpoint = BalancerEndpoint> implements Balancer<E> {
  readonly #innerName: string;
  /** The only group's balancer, when there is one priority with one group: picks go straight to it. */
  #single: Balancer<E> | undefined;
  readonly #makeInner: () => Balancer<E>;
  readonly #plan: (endpoints: readonly E[]) => LocalityPlan;
  readonly #random: () => number;
  #groups: Group<E>[] = [];
  /** Group indices of each priority, in order. */
  #byPriority: number[][] = [];
  /** Each priority's health (0..100, overprovisioned and capped), and each group's effective weight. */
  #health = new Float64Array(0);
  #groupWeight = new Float64Array(0);
  #dirty = true;
  /** Which priority each endpoint is in (by key), for retries under retryRemoteLocalities. */
  readonly #priorityByEndpoint = new WeakMap<E, number>();

  /**
   * @param makeInner a new inner balancer (one per group)
   * @param plan splits endpoints into priorities and groups ({@link planLocality})
   */
  constructor(makeInner: () => Balancer<E>, plan: (endpoints: readonly E[]) => LocalityPlan, runtime: BalancerRuntime = {}) {
    this.#makeInner = makeInner;
    this.#plan = plan;
    this.#random = runtime.random ?? Math.random;
    this.#innerName = makeInner().name;
  }

  /** The inner balancer's name; `locality/<name>` while endpoints are split into priorities or localities. */
  get name(): string {
    return this.#single !== undefined || this.#groups.length === 0 ? this.#innerName : `locality/${this.#innerName}`;
  }

  /** Re-plans priorities and groups; groups that stay keep their inner balancer (and its state). */
  update(endpoints: readonly E[]): void {
    const plan = this.#plan(endpoints);
    const previous = new Map(this.#groups.map((g) => [g.key, g.balancer]));
    const groups: Group<E>[] = plan.groups.map((g) => ({ ...g, members: [], balancer: previous.get(g.key) ?? this.#makeInner() }));
    endpoints.forEach((endpoint, i) => {
      const g = plan.groupOf[i]!;
      if (g < 0) return;
      groups[g]!.members.push(endpoint);
      this.#priorityByEndpoint.set(endpoint, Math.min(plan.priorityOf[i]!, MAX_PRIORITIES - 1));
    });
    for (const group of groups) group.balancer.update(group.members);
    this.#groups = groups;
    const priorities = Math.min(plan.priorities, MAX_PRIORITIES);
    this.#byPriority = Array.from({ length: priorities }, () => []);
    groups.forEach((g, i) => this.#byPriority[Math.min(g.priority, priorities - 1)]!.push(i));
    this.#health = new Float64Array(priorities);
    this.#groupWeight = new Float64Array(groups.length);
    this.#single = groups.length === 1 ? groups[0]!.balancer : undefined;
    this.#dirty = true;
  }

  /** An endpoint's availability changed: loads are recomputed at the next pick. */
  healthChanged(): void {
    this.#dirty = true;
  }

  /** The priority an endpoint is in (0 first), or undefined when it gets no traffic. */
  priorityOf(endpoint: E): number | undefined {
    return this.#priorityByEndpoint.get(endpoint);
  }

  #recompute(): void {
    this.#dirty = false;
    const health = this.#health;
    health.fill(0);
    const healthyByPriority = new Float64Array(health.length);
    const totalByPriority = new Float64Array(health.length);
    this.#groups.forEach((group, g) => {
      let healthy = 0;
      for (const member of group.members) if (member.available) healthy++;
      const total = group.members.length;
      const p = Math.min(group.priority, health.length - 1);
      healthyByPriority[p]! += healthy;
      totalByPriority[p]! += total;
      this.#groupWeight[g] = total === 0 ? 0 : group.weight * Math.min(1, (OVERPROVISIONING_FACTOR * healthy) / total);
    });
    for (let p = 0; p < health.length; p++) {
      health[p] = totalByPriority[p] === 0 ? 0 : Math.min(100, (OVERPROVISIONING_FACTOR * 100 * healthyByPriority[p]!) / totalByPriority[p]!);
    }
  }

  /**
   * Picks an endpoint (see the class). `attempt` goes to the inner balancer; `excluded`
   * is a bit set of priorities a retry should avoid (bit p for priority p).
   */
  pick(request: PickRequest, attempt?: number, excluded = 0): E | undefined {
    const single = this.#single;
    if (single !== undefined) return single.pick(request, attempt);
    if (this.#dirty) this.#recompute();
    const priorities = this.#byPriority.length;
    if (priorities === 0) return undefined;
    const health = this.#health;
    // Excluded priorities count as unhealthy, unless nothing else is healthy.
    let total = 0;
    for (let p = 0; p < priorities; p++) if ((excluded & (1 << p)) === 0) total += health[p]!;
    if (total === 0) excluded = 0;
    const chosen = this.#choosePriority(excluded);
    const found = this.#pickIn(chosen, request, attempt);
    if (found !== undefined) return found;
    // The chosen priority had nothing available after all (a race with health): the others in order.
    for (let p = 0; p < priorities; p++) {
      if (p === chosen) continue;
      const other = this.#pickIn(p, request, attempt);
      if (other !== undefined) return other;
    }
    return undefined;
  }

  /** Envoy's priority load: health in order, scaled when the sum is under 100; all unhealthy: priority 0. */
  #choosePriority(excluded: number): number {
    const health = this.#health;
    const priorities = health.length;
    let sum = 0;
    for (let p = 0; p < priorities; p++) if ((excluded & (1 << p)) === 0) sum += health[p]!;
    if (sum === 0) return 0;
    const normalized = Math.min(100, sum);
    let target = this.#random() * 100;
    let remaining = 100;
    for (let p = 0; p < priorities; p++) {
      if ((excluded & (1 << p)) !== 0) continue;
      const load = Math.min(remaining, (health[p]! * 100) / normalized);
      if (target < load) return p;
      target -= load;
      remaining -= load;
    }
    // Rounding: the last priority with any health.
    for (let p = priorities - 1; p >= 0; p--) if ((excluded & (1 << p)) === 0 && health[p]! > 0) return p;
    return 0;
  }

  #pickIn(priority: number, request: PickRequest, attempt: number | undefined): E | undefined {
    const groups = this.#byPriority[priority]!;
    if (groups.length === 1) return this.#groups[groups[0]!]!.balancer.pick(request, attempt);
    let total = 0;
    for (const g of groups) total += this.#groupWeight[g]!;
    if (total > 0) {
      let target = this.#random() * total;
      for (const g of groups) {
        target -= this.#groupWeight[g]!;
        if (target < 0) {
          const picked = this.#groups[g]!.balancer.pick(request, attempt);
          if (picked !== undefined) return picked;
          break;
        }
      }
    }
    for (const g of groups) {
      const picked = this.#groups[g]!.balancer.pick(request, attempt);
      if (picked !== undefined) return picked;
    }
    return undefined;
  }
}

/**
 * The service's balancer with locality load balancing, as Istio configures Envoy for a
 * sidecar (loadbalancer.go: GetEffectiveLbSetting, ApplyToCluster): the rule's
 * `localityLbSetting`, or MeshConfig's default `{ enabled: true }` when it sets none;
 * `enabled: false` turns it off. Failover priorities need outlier detection
 * (`failover`: the effective traffic policy sets `outlierDetection`); `distribute` does
 * not. Discovery priorities (`proxyless.dev/priority`) apply in every case.
 */
export function localityBalancer<E extends BalancerEndpoint & { readonly labels: Readonly<Record<string, string>> }>(
  settings: LoadBalancerSettings | undefined,
  failover: boolean,
  client: LocalityClient,
  makeInner: () => Balancer<E>,
  runtime?: BalancerRuntime,
): LocalityBalancer<E> {
  const setting = settings?.localityLbSetting ?? { enabled: true };
  const effective = setting.enabled === false ? undefined : setting;
  return new LocalityBalancer<E>(makeInner, (endpoints) => planLocality(endpoints, client, effective, failover), runtime);
}
