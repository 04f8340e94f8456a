import { describe, expect, it } from 'vitest';
import { RoundRobinBalancer, roundRobin } from '../../../src/balance/round-robin.js';
import { endpoints, expectWeightedShares, plainRequest, seeded, shares, type TestEndpoint } from './helpers.js';

function sequence(balancer: RoundRobinBalancer<TestEndpoint>, count: number): TestEndpoint[] {
  return Array.from({ length: count }, () => balancer.pick(plainRequest)!);
}

function longestRun(picks: readonly TestEndpoint[], endpoint: TestEndpoint): number {
  // Twice over, so a run across the end of one cycle and the start of the next counts.
  const cyclic = [...picks, ...picks];
  let longest = 0;
  let run = 0;
  for (const picked of cyclic) {
    run = picked === endpoint ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

describe('roundRobin', () => {
  it('cycles through equal-weight endpoints in order, from a random start', () => {
    const set = endpoints(4);
    const balancer = roundRobin<TestEndpoint>({ random: () => 0.5 });
    balancer.update(set);
    expect(balancer.name).toBe('round-robin');
    expect(sequence(balancer, 10)).toEqual([2, 3, 0, 1, 2, 3, 0, 1, 2, 3].map((i) => set[i]));
  });

  it('starts elsewhere for other random draws', () => {
    const set = endpoints(4);
    const first = new Set<TestEndpoint>();
    for (let seed = 1; seed <= 20; seed++) {
      const balancer = roundRobin<TestEndpoint>({ random: seeded(seed) });
      balancer.update(set);
      first.add(balancer.pick(plainRequest)!);
    }
    expect(first.size).toBeGreaterThan(1);
  });

  it('interleaves weights 5, 1, 1 smoothly with exact shares per cycle', () => {
    const set = endpoints(3, [5, 1, 1]);
    for (let seed = 1; seed <= 10; seed++) {
      const balancer = roundRobin<TestEndpoint>({ random: seeded(seed) });
      balancer.update(set);
      const cycle = sequence(balancer, 7);
      expect(cycle.filter((e) => e === set[0]).length).toBe(5);
      expect(cycle.filter((e) => e === set[1]).length).toBe(1);
      expect(cycle.filter((e) => e === set[2]).length).toBe(1);
      for (const endpoint of set) expect(longestRun(cycle, endpoint)).toBeLessThanOrEqual(endpoint.weight);
      // The next cycles repeat it.
      expect(sequence(balancer, 14)).toEqual([...cycle, ...cycle]);
    }
  });

  it('splits 1:2:3 exactly over 60 000 picks and spreads each endpoint out', () => {
    const set = endpoints(3, [1, 2, 3]);
    const balancer = roundRobin<TestEndpoint>({ random: seeded(3) });
    balancer.update(set);
    expect(shares(balancer, set, 60_000)).toEqual([1 / 6, 2 / 6, 3 / 6]);
    const cycle = sequence(balancer, 6);
    for (const endpoint of set) expect(longestRun(cycle, endpoint)).toBeLessThanOrEqual(2);
  });

  it('divides weights by their common divisor', () => {
    const set = endpoints(3, [10, 20, 30]);
    const balancer = roundRobin<TestEndpoint>({ random: seeded(4) });
    balancer.update(set);
    const cycle = sequence(balancer, 6);
    expect(cycle.filter((e) => e === set[0]).length).toBe(1);
    expect(cycle.filter((e) => e === set[2]).length).toBe(3);
  });

  it('computes the order per pick when the cycle would be too long to store', () => {
    const cap = RoundRobinBalancer.MAX_SCHEDULE_LENGTH;
    expect(cap).toBe(1 << 20);
    const set = endpoints(3, [cap, cap + 1, 2 * cap + 3]);
    const balancer = roundRobin<TestEndpoint>({ random: seeded(5) });
    balancer.update(set);
    expectWeightedShares(shares(balancer, set, 40_000), [1, 1, 2], 0.001);
    const picks = sequence(balancer, 1_000);
    for (const endpoint of set) expect(longestRun(picks, endpoint)).toBeLessThanOrEqual(2);
  });

  it('handles non-integer weights with the per-pick order', () => {
    const set = endpoints(2, [1.5, 0.5]);
    const balancer = roundRobin<TestEndpoint>({ random: seeded(6) });
    balancer.update(set);
    expectWeightedShares(shares(balancer, set, 4_000), [3, 1], 0.001);
  });

  it('skips unavailable endpoints and keeps the order of the others', () => {
    const set = endpoints(4);
    set[1]!.available = false;
    const balancer = roundRobin<TestEndpoint>({ random: () => 0 });
    balancer.update(set);
    expect(sequence(balancer, 6)).toEqual([0, 2, 3, 0, 2, 3].map((i) => set[i]));
  });

  it('finds the available endpoints when a heavy one is unavailable', () => {
    const set = endpoints(3, [100, 1, 1]);
    set[0]!.available = false;
    const balancer = roundRobin<TestEndpoint>({ random: seeded(7) });
    balancer.update(set);
    const result = shares(balancer, set, 1_000);
    expect(result[0]).toBe(0);
    expect(result[1]).toBeGreaterThan(0.3);
    expect(result[2]).toBeGreaterThan(0.3);
  });

  it('returns undefined when nothing is available, and resumes when something is', () => {
    const set = endpoints(3, [2, 1, 1]);
    const balancer = roundRobin<TestEndpoint>();
    balancer.pick(plainRequest);
    expect(balancer.pick(plainRequest)).toBeUndefined();
    balancer.update(set);
    for (const endpoint of set) endpoint.available = false;
    expect(balancer.pick(plainRequest)).toBeUndefined();
    set[2]!.available = true;
    expect(balancer.pick(plainRequest)).toBe(set[2]);
    balancer.update([]);
    expect(balancer.pick(plainRequest)).toBeUndefined();
  });

  it('does not follow later changes to the array given to update', () => {
    const set = endpoints(2);
    const balancer = roundRobin<TestEndpoint>();
    balancer.update(set);
    const removed = set.pop()!;
    expect(sequence(balancer, 4)).toContain(removed);
  });
});
