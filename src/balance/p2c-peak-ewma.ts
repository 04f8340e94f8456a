import { IN_LINE_RATIO, IN_LINE_SLACK_MS } from './endpoint-load.js';
import { AliasTable, firstAvailableFrom } from './internal-alias-table.js';
import type { Balancer, BalancerEndpoint, BalancerRuntime, PickRequest, WarmupOptions } from './types.js';
import { PickRuntime } from './warmup.js';

/** Re-picks when both candidates are unavailable, before scanning. */
const MAX_REPICKS = 5;
/** Extra draws allowed for a second candidate distinct from the first (weighted). */
const MAX_REDRAWS = 4;
/** Draws allowed per candidate while warmup keeps throwing back warming endpoints. */
const MAX_WARMUP_DRAWS = 8;

/** True when recent latency `a` is clearly below `b`: the same margin as "in line" (1.5 × + 1 ms). */
function clearlyBelow(a: number, b: number): boolean {
  return a * IN_LINE_RATIO + IN_LINE_SLACK_MS < b;
}

/**
 * The default balancer: power of two choices over Peak EWMA cost, as in Finagle and
 * Linkerd. Each pick draws two distinct random endpoints and takes the one with the
 * lower {@link EndpointLoad.cost} (latency estimate × (pending + 1)); ties go to the
 * first drawn. O(1), nothing allocated.
 *
 * **In line with the service.** An endpoint is in line when the median of its last three
 * answers ({@link EndpointLoad.recentLatency}) is within `1.5 × ceiling + 1 ms`, the
 * ceiling being how slow the whole service has recently been
 * ({@link ServiceLatency.ceilingMs}); see {@link EndpointLoad.inLine}. Two uses:
 *
 * - *Light load.* When both candidates are idle (nothing pending) and both are in line,
 *   the first drawn wins: a random choice. Peak EWMA alone would send every request to
 *   whichever replica measured a fraction of a millisecond less (or had no unlucky
 *   sample), and the others would get nothing until their estimates decayed, tens of
 *   seconds later; under sequential load replicas are always idle, so that is what a
 *   light load would see.
 * - *One clearly faster.* When one candidate's recent latency is clearly below the
 *   other's (`1.5 × + 1 ms`), it is costed at its recent latency instead of its Peak
 *   EWMA estimate. Its peaks are noise next to that gap (a busy client inflates every
 *   sample a little, and Peak EWMA keeps the largest), and under load, multiplied by
 *   `pending + 1`, they made a replica 50 ms slower look cheaper than a busy fast one. The
 *   slower candidate keeps its Peak EWMA estimate, which decays, so it is still probed
 *   again after a while.
 *
 * A replica really slower than the others (+20 ms against 0.2 ms) is out of line after
 * its second slow answer (one could be bad luck). Otherwise (neither clearly faster,
 * and not both idle and in line) the Peak EWMA cost decides, exactly as in Finagle.
 * (Endpoints without a shared {@link ServiceLatency} are never in line; the rule for a
 * clearly faster one applies to them too.)
 *
 * **Weights.** Candidates are drawn in proportion to weight (alias table) and the cost
 * divides the queue by the relative weight (`weight / smallest weight`):
 * `estimate × (1 + pending / relativeWeight)`. With equal weights this is exactly the
 * unweighted cost. (Dividing the whole cost by the weight instead would make the heavier
 * candidate win every comparison while nothing is pending, starving light endpoints at
 * low concurrency; this way an idle set splits traffic by weight.)
 *
 * **Warmup** (Istio `loadBalancer.warmup`, by the rule Envoy applies to round robin and
 * least request): a warming endpoint's weight is scaled by its slow-start factor. Here
 * that means it is kept as a candidate only with probability `factor / largest factor`
 * (else drawn again, up to 8 times), so it is drawn in proportion to `weight × factor`,
 * and its queue counts `1 / factor` times as much in its cost. Its latency estimate still
 * decides against the other candidate, so a new endpoint that is slow loses as any
 * other would.
 *
 * **Availability.** An unavailable candidate loses to an available one. When both are
 * unavailable the pair is drawn again, up to 5 times; then the endpoints are scanned from
 * a random position and the first available one is taken (O(n), only when most of the
 * set is unavailable). `undefined` only when none is available.
 */
export class P2cPeakEwmaBalancer<E extends BalancerEndpoint = BalancerEndpoint> implements Balancer<E> {
  /** `p2c-peak-ewma`. */
  readonly name = 'p2c-peak-ewma';
  private endpoints: readonly E[] = [];
  /** Weight of each endpoint divided by the smallest weight. */
  private relativeWeight = new Float64Array(0);
  private table: AliasTable | undefined;
  private readonly rt: PickRuntime;

  /** Use {@link p2cPeakEwma} to create one. */
  constructor(runtime: BalancerRuntime = {}, options: WarmupOptions = {}) {
    this.rt = new PickRuntime(runtime, options);
  }

  /** Replaces the endpoints; builds the alias table when weights differ: O(n). */
  update(endpoints: readonly E[]): void {
    this.endpoints = endpoints.slice();
    const n = endpoints.length;
    let lightest = Infinity;
    for (const endpoint of endpoints) if (endpoint.weight < lightest) lightest = endpoint.weight;
    this.relativeWeight = new Float64Array(n);
    let weighted = false;
    for (let i = 0; i < n; i++) {
      this.relativeWeight[i] = endpoints[i].weight / lightest;
      if (endpoints[i].weight !== lightest) weighted = true;
    }
    this.table = weighted ? new AliasTable(this.relativeWeight) : undefined;
    this.rt.warmup?.update(endpoints);
  }

  /** The cheaper of two random available endpoints; the request is not looked at. */
  pick(_request?: PickRequest): E | undefined {
    const endpoints = this.endpoints;
    const n = endpoints.length;
    if (n === 0) return undefined;
    if (n === 1) return endpoints[0].available ? endpoints[0] : undefined;
    const now = this.rt.now();
    const warmup = this.rt.warmup;
    const reference = warmup === undefined ? 0 : warmup.reference(now);
    for (let attempt = 0; attempt <= MAX_REPICKS; attempt++) {
      const a = this.draw(-1, n, now, reference);
      const b = this.draw(a, n, now, reference);
      const first = endpoints[a];
      const second = endpoints[b];
      if (first.available) {
        if (b === a || !second.available) return first;
        return this.cheaper(first, a, second, b, now, reference);
      }
      if (second.available) return second;
    }
    return firstAvailableFrom(endpoints, this.rt.random());
  }

  /** The candidate to send to: the first unless the second is cheaper (see the class comment). */
  private cheaper(first: E, a: number, second: E, b: number, now: number, reference: number): E {
    const firstLoad = first.load;
    const secondLoad = second.load;
    const firstRecent = firstLoad.recentLatency();
    const secondRecent = secondLoad.recentLatency();
    if (firstLoad.pending === 0 && secondLoad.pending === 0 && firstLoad.inLine(firstRecent) && secondLoad.inLine(secondRecent)) return first;
    let weightA = this.relativeWeight[a];
    let weightB = this.relativeWeight[b];
    if (reference > 0) {
      weightA *= this.rt.warmup!.share(first, now, reference);
      weightB *= this.rt.warmup!.share(second, now, reference);
    }
    // One clearly faster than the other by their recent answers: cost it at its recent
    // latency, not at its peak (both decay alike between samples, so a slower endpoint is
    // tried again only once it has gone unasked for a while, as in Finagle).
    const firstFaster = clearlyBelow(firstRecent, secondRecent);
    const secondFaster = !firstFaster && clearlyBelow(secondRecent, firstRecent);
    const costA = firstFaster ? firstLoad.typicalCost(firstRecent, now, weightA) : firstLoad.cost(now, weightA);
    const costB = secondFaster ? secondLoad.typicalCost(secondRecent, now, weightB) : secondLoad.cost(now, weightB);
    return costB < costA ? second : first;
  }

  /**
   * One candidate index: uniform or by weight, distinct from `other` when possible (the
   * weighted draw tries 4 more times), and with warmup a warming endpoint is kept with
   * probability `factor / largest factor`, else drawn again (up to 8 draws).
   */
  private draw(other: number, n: number, now: number, reference: number): number {
    const table = this.table;
    let index = 0;
    for (let tries = 0; tries < MAX_WARMUP_DRAWS; tries++) {
      if (table === undefined) {
        if (other < 0) index = Math.floor(this.rt.random() * n);
        else {
          index = Math.floor(this.rt.random() * (n - 1));
          if (index >= other) index++; // distinct, still uniform
        }
      } else {
        index = table.sample(this.rt.random());
        for (let redraw = 0; index === other && redraw < MAX_REDRAWS; redraw++) index = table.sample(this.rt.random());
      }
      if (reference <= 0) return index;
      const share = this.rt.warmup!.share(this.endpoints[index], now, reference);
      if (share >= 1 || this.rt.random() < share) return index;
    }
    return index;
  }
}

/** Creates the default balancer: P2C over Peak EWMA cost (with Istio `warmup` when given). */
export function p2cPeakEwma<E extends BalancerEndpoint = BalancerEndpoint>(runtime?: BalancerRuntime, options?: WarmupOptions): P2cPeakEwmaBalancer<E> {
  return new P2cPeakEwmaBalancer<E>(runtime, options);
}
