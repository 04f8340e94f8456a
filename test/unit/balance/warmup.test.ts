import { describe, expect, it } from 'vitest';
import { leastRequest } from '../../../src/balance/least-request.js';
import { p2cPeakEwma } from '../../../src/balance/p2c-peak-ewma.js';
import { roundRobin } from '../../../src/balance/round-robin.js';
import { balancerFromSettings } from '../../../src/balance/from-load-balancer-settings.js';
import type { Balancer, BalancerRuntime } from '../../../src/balance/types.js';
import { warmupFactor, warmupSettings, type WarmupSettings } from '../../../src/balance/warmup.js';
import { durationToMs } from '../../../src/config/istio/common.js';
import { endpoints, expectWeightedShares, seeded, shares, type TestEndpoint } from './helpers.js';

const minute: WarmupSettings = { durationMs: 60_000, minimumPercent: 10, aggression: 1 };

describe('warmupFactor (Envoy slow start)', () => {
  it('is max(minimumPercent, (max(t, 1 s) / window)^(1/aggression)) inside the window, 1 after', () => {
    expect(warmupFactor(minute, 0)).toBe(0.1); // 1 s / 60 s is below the 10 % floor
    expect(warmupFactor(minute, 30_000)).toBeCloseTo(0.5, 12);
    expect(warmupFactor(minute, 59_000)).toBeCloseTo(59 / 60, 12);
    expect(warmupFactor(minute, 60_000)).toBe(1);
    expect(warmupFactor(minute, Number.POSITIVE_INFINITY)).toBe(1);
    expect(warmupFactor({ ...minute, aggression: 2 }, 15_000)).toBeCloseTo(0.5, 12); // (1/4)^(1/2)
    expect(warmupFactor({ ...minute, minimumPercent: 0 }, 0)).toBeCloseTo(1 / 60, 12); // the first second counts as one
    expect(warmupFactor({ ...minute, minimumPercent: 100 }, 0)).toBe(1);
  });

  it('reads Istio\'s fields: warmup wins over the deprecated warmupDurationSecs; defaults 10 % and aggression 1', () => {
    expect(warmupSettings(undefined, durationToMs)).toBeUndefined();
    expect(warmupSettings({ warmupDurationSecs: '90s' }, durationToMs)).toEqual({ durationMs: 90_000, minimumPercent: 10, aggression: 1 });
    expect(warmupSettings({ warmupDurationSecs: '90s', warmup: { duration: '2m', aggression: 3 } }, durationToMs)).toEqual({ durationMs: 120_000, minimumPercent: 10, aggression: 3 });
  });
});

const balancers: Array<[string, (runtime: BalancerRuntime) => Balancer<TestEndpoint>]> = [
  ['ROUND_ROBIN', (runtime) => roundRobin(runtime, { warmup: minute })],
  ['LEAST_REQUEST', (runtime) => leastRequest({ warmup: minute }, runtime)],
  ['P2C Peak EWMA', (runtime) => p2cPeakEwma(runtime, { warmup: minute })],
];

describe.each(balancers)('warmup with %s', (_name, create) => {
  /** Three endpoints started long ago and one that starts at `joinedAt`, at the clock's `now`. */
  function sharesAt(now: number, joinedAt: number, weights: readonly number[] = [1, 1, 1, 1]): number[] {
    const set = endpoints(4, weights);
    set.forEach((endpoint, i) => (endpoint.activeSinceMs = i === 3 ? joinedAt : -1e9));
    const balancer = create({ random: seeded(now + 7), now: () => now });
    balancer.update(set);
    return shares(balancer, set, 40_000);
  }

  it('ramps a new endpoint\'s share as weight × factor: 10 % of a share at first, half at mid-window, a full share after it', () => {
    expectWeightedShares(sharesAt(1_000_000, 1_000_000), [1, 1, 1, 0.1], 0.012);
    expectWeightedShares(sharesAt(1_030_000, 1_000_000), [1, 1, 1, 0.5], 0.012);
    expectWeightedShares(sharesAt(1_060_000, 1_000_000), [1, 1, 1, 1], 0.012);
  });

  it('scales the weight, not the share: a new endpoint of weight 3 at mid-window counts as 1.5', () => {
    expectWeightedShares(sharesAt(1_030_000, 1_000_000, [1, 1, 1, 3]), [1, 1, 1, 1.5], 0.012);
  });

  it('endpoints that started together are not slowed down: the factor is relative to the oldest', () => {
    const set = endpoints(4);
    for (const endpoint of set) endpoint.activeSinceMs = 5_000;
    const balancer = create({ random: seeded(3), now: () => 5_000 });
    balancer.update(set);
    expectWeightedShares(shares(balancer, set, 40_000), [1, 1, 1, 1], 0.012);
  });
});

describe('warmup from DestinationRule settings', () => {
  it('applies to ROUND_ROBIN, LEAST_REQUEST and the default balancer, not to RANDOM', () => {
    const warmup = { duration: '60s' };
    const fresh = (): TestEndpoint[] => {
      const set = endpoints(4);
      set.forEach((endpoint, i) => (endpoint.activeSinceMs = i === 3 ? 0 : -1e9));
      return set;
    };
    for (const simple of [undefined, 'ROUND_ROBIN', 'LEAST_REQUEST'] as const) {
      const set = fresh();
      const balancer = balancerFromSettings<TestEndpoint>(simple ? { simple, warmup } : { warmup }, { random: seeded(4), now: () => 0 });
      balancer.update(set);
      expect(shares(balancer, set, 20_000)[3], `${simple ?? 'default'}`).toBeLessThan(0.06);
    }
    const set = fresh();
    const randomBalancer = balancerFromSettings<TestEndpoint>({ simple: 'RANDOM', warmup }, { random: seeded(5), now: () => 0 });
    randomBalancer.update(set);
    expect(shares(randomBalancer, set, 20_000)[3]).toBeGreaterThan(0.2);
  });
});
