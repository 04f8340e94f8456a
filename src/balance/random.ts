import { AliasTable, firstAvailableFrom } from './internal-alias-table.js';
import type { Balancer, BalancerEndpoint, BalancerRuntime, PickRequest } from './types.js';

/** Random draws tried before scanning for an available endpoint. */
const MAX_DRAWS = 5;

/**
 * Envoy's `RANDOM`: each request goes to a uniformly random endpoint, or, when weights
 * differ, to an endpoint drawn in proportion to its weight (Walker's alias table, O(1)).
 *
 * An unavailable draw is redrawn up to 5 times; after that (most endpoints are
 * unavailable) the first available endpoint from a random position is taken, which is
 * O(n) and ignores weights. `undefined` only when none is available.
 */
export class RandomBalancer<E extends BalancerEndpoint = BalancerEndpoint> implements Balancer<E> {
  /** `random`. */
  readonly name = 'random';
  private endpoints: readonly E[] = [];
  private table: AliasTable | undefined;
  private readonly random: () => number;

  /** Use {@link random} to create one. */
  constructor(runtime: BalancerRuntime = {}) {
    this.random = runtime.random ?? Math.random;
  }

  /** Replaces the endpoints and rebuilds the alias table when weights differ: O(n). */
  update(endpoints: readonly E[]): void {
    this.endpoints = endpoints.slice();
    this.table = AliasTable.forWeights(endpoints);
  }

  /** Draws an available endpoint; the request is not looked at. */
  pick(_request?: PickRequest): E | undefined {
    const endpoints = this.endpoints;
    const n = endpoints.length;
    if (n === 0) return undefined;
    const table = this.table;
    for (let draw = 0; draw < MAX_DRAWS; draw++) {
      const u = this.random();
      const endpoint = endpoints[table === undefined ? Math.floor(u * n) : table.sample(u)];
      if (endpoint.available) return endpoint;
    }
    return firstAvailableFrom(endpoints, this.random());
  }
}

/** Creates a random balancer (Envoy and Istio `RANDOM`). */
export function random<E extends BalancerEndpoint = BalancerEndpoint>(runtime?: BalancerRuntime): RandomBalancer<E> {
  return new RandomBalancer<E>(runtime);
}
