import { AliasTable, firstAvailableFrom } from './internal-alias-table.js';
import type { Balancer, BalancerEndpoint, BalancerRuntime, PickRequest } from './types.js';

/** Re-picks when both candidates are unavailable, before scanning. */
const MAX_REPICKS = 5;
/** Extra draws allowed for a second candidate distinct from the first (weighted). */
const MAX_REDRAWS = 4;

/**
 * The default balancer: power of two choices over Peak EWMA cost, as in Finagle and
 * Linkerd. Each pick draws two distinct random endpoints and takes the one with the
 * lower {@link EndpointLoad.cost} (latency estimate × (pending + 1)); ties go to the
 * first drawn. O(1), nothing allocated.
 *
 * Weights: candidates are drawn in proportion to weight (alias table) and the cost
 * divides the queue by the relative weight (`weight / smallest weight`):
 * `estimate × (1 + pending / relativeWeight)`. With equal weights this is exactly the
 * unweighted cost. (Dividing the whole cost by the weight instead would make the
 * heavier candidate win every comparison while nothing is pending, starving light
 * endpoints at low concurrency; this way an idle set splits traffic by weight.)
 *
 * Availability: an unavailable candidate loses to an available one. When both are
 * unavailable the pair is drawn again, up to 5 times; then the endpoints are scanned
 * from a random position and the first available one is taken (O(n), only when most of
 * the set is unavailable). `undefined` only when none is available.
 */
export class P2cPeakEwmaBalancer<E extends BalancerEndpoint = BalancerEndpoint> implements Balancer<E> {
  /** `p2c-peak-ewma`. */
  readonly name = 'p2c-peak-ewma';
  private endpoints: readonly E[] = [];
  /** Weight of each endpoint divided by the smallest weight. */
  private relativeWeight = new Float64Array(0);
  private table: AliasTable | undefined;
  private readonly random: () => number;
  private readonly now: () => number;

  /** Use {@link p2cPeakEwma} to create one. */
  constructor(runtime: BalancerRuntime = {}) {
    this.random = runtime.random ?? Math.random;
    this.now = runtime.now ?? (() => performance.now());
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
  }

  /** The cheaper of two random available endpoints; the request is not looked at. */
  pick(_request?: PickRequest): E | undefined {
    const endpoints = this.endpoints;
    const n = endpoints.length;
    if (n === 0) return undefined;
    if (n === 1) return endpoints[0].available ? endpoints[0] : undefined;
    const table = this.table;
    const weights = this.relativeWeight;
    for (let attempt = 0; attempt <= MAX_REPICKS; attempt++) {
      let a: number;
      let b: number;
      if (table === undefined) {
        a = Math.floor(this.random() * n);
        b = Math.floor(this.random() * (n - 1));
        if (b >= a) b++; // distinct, still uniform
      } else {
        a = table.sample(this.random());
        b = a;
        for (let redraw = 0; b === a && redraw <= MAX_REDRAWS; redraw++) b = table.sample(this.random());
      }
      const first = endpoints[a];
      const second = endpoints[b];
      if (first.available) {
        if (b === a || !second.available) return first;
        const now = this.now();
        return second.load.cost(now, weights[b]) < first.load.cost(now, weights[a]) ? second : first;
      }
      if (second.available) return second;
    }
    return firstAvailableFrom(endpoints, this.random());
  }
}

/** Creates the default balancer: P2C over Peak EWMA cost. */
export function p2cPeakEwma<E extends BalancerEndpoint = BalancerEndpoint>(runtime?: BalancerRuntime): P2cPeakEwmaBalancer<E> {
  return new P2cPeakEwmaBalancer<E>(runtime);
}
