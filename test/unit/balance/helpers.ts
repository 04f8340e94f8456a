import { EndpointLoad } from '../../../src/balance/endpoint-load.js';
import type { ServiceLatency } from '../../../src/balance/service-latency.js';
import type { Balancer, BalancerEndpoint, PickRequest } from '../../../src/balance/types.js';

/** A mutable endpoint for balancer tests, created at time 0 of a simulated clock. */
export class TestEndpoint implements BalancerEndpoint {
  available = true;
  readonly load: EndpointLoad;
  /** Start of its warmup window (undefined: never warming). */
  activeSinceMs: number | undefined;
  constructor(
    readonly key: string,
    readonly weight = 1,
    peers?: ServiceLatency,
    createdAtMs = 0,
  ) {
    this.load = new EndpointLoad(peers === undefined ? { nowMs: createdAtMs } : { nowMs: createdAtMs, peers });
  }
}

/** `count` endpoints `10.0.0.<i>:80`, with the given weights (1 when missing), sharing `peers` when given. */
export function endpoints(count: number, weights: readonly number[] = [], peers?: ServiceLatency): TestEndpoint[] {
  return Array.from({ length: count }, (_, i) => new TestEndpoint(`10.0.${i >> 8}.${i & 255}:80`, weights[i] ?? 1, peers));
}

/** Mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A request with no key material. */
export const plainRequest: PickRequest = { path: '/', method: 'GET' };

/** Share of `picks` picks that went to each endpoint, in the order of `set`. */
export function shares<E extends BalancerEndpoint>(balancer: Balancer<E>, set: readonly E[], picks: number): number[] {
  const counts = new Map<E, number>(set.map((endpoint) => [endpoint, 0]));
  for (let i = 0; i < picks; i++) {
    const picked = balancer.pick(plainRequest);
    if (picked === undefined) throw new Error('no endpoint picked');
    counts.set(picked, (counts.get(picked) ?? 0) + 1);
  }
  return set.map((endpoint) => counts.get(endpoint)! / picks);
}

/** Expects each share within `tolerance` (absolute) of weight / Σweight. */
export function expectWeightedShares(actual: readonly number[], weights: readonly number[], tolerance: number): void {
  const total = weights.reduce((a, b) => a + b, 0);
  actual.forEach((share, i) => {
    const expected = weights[i]! / total;
    if (Math.abs(share - expected) > tolerance) {
      throw new Error(`share of endpoint ${i}: ${share.toFixed(4)} (expected ${expected.toFixed(4)} ± ${tolerance})`);
    }
  });
}
