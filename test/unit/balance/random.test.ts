import { describe, expect, it } from 'vitest';
import { random } from '../../../src/balance/random.js';
import { endpoints, expectWeightedShares, plainRequest, seeded, shares, type TestEndpoint } from './helpers.js';

describe('random', () => {
  it('is uniform over equal weights', () => {
    const set = endpoints(4);
    const balancer = random<TestEndpoint>({ random: seeded(1) });
    balancer.update(set);
    expect(balancer.name).toBe('random');
    expectWeightedShares(shares(balancer, set, 60_000), [1, 1, 1, 1], 0.02);
  });

  it('follows weights 1:2:3', () => {
    const set = endpoints(3, [1, 2, 3]);
    const balancer = random<TestEndpoint>({ random: seeded(2) });
    balancer.update(set);
    expectWeightedShares(shares(balancer, set, 60_000), [1, 2, 3], 0.02);
  });

  it('follows skewed weights over many endpoints', () => {
    const weights = Array.from({ length: 50 }, (_, i) => (i % 5) + 1);
    const set = endpoints(50, weights);
    const balancer = random<TestEndpoint>({ random: seeded(3) });
    balancer.update(set);
    expectWeightedShares(shares(balancer, set, 100_000), weights, 0.005);
  });

  it('never picks an unavailable endpoint; the others keep their proportions', () => {
    const set = endpoints(3, [1, 2, 3]);
    set[1]!.available = false;
    const balancer = random<TestEndpoint>({ random: seeded(4) });
    balancer.update(set);
    const result = shares(balancer, set, 60_000);
    expect(result[1]).toBe(0);
    expect(result[2]! / result[0]!).toBeGreaterThan(2.7);
    expect(result[2]! / result[0]!).toBeLessThan(3.3);
  });

  it('finds the one available endpoint among many unavailable ones', () => {
    const set = endpoints(100);
    for (const endpoint of set) endpoint.available = false;
    set[57]!.available = true;
    const balancer = random<TestEndpoint>({ random: seeded(5) });
    balancer.update(set);
    for (let i = 0; i < 100; i++) expect(balancer.pick(plainRequest)).toBe(set[57]);
    set[57]!.available = false;
    expect(balancer.pick(plainRequest)).toBeUndefined();
  });

  it('returns undefined without endpoints', () => {
    const balancer = random<TestEndpoint>();
    expect(balancer.pick(plainRequest)).toBeUndefined();
    balancer.update([]);
    expect(balancer.pick(plainRequest)).toBeUndefined();
  });
});
