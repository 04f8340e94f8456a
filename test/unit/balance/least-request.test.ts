import { describe, expect, it } from 'vitest';
import { leastRequest } from '../../../src/balance/least-request.js';
import { endpoints, expectWeightedShares, plainRequest, seeded, shares, type TestEndpoint } from './helpers.js';

describe('leastRequest', () => {
  it('is uniform when nothing is pending', () => {
    const set = endpoints(4);
    const balancer = leastRequest<TestEndpoint>({}, { random: seeded(1) });
    balancer.update(set);
    expect(balancer.name).toBe('least-request');
    expectWeightedShares(shares(balancer, set, 60_000), [1, 1, 1, 1], 0.02);
  });

  it('follows weights 1:2:3 when nothing is pending', () => {
    const set = endpoints(3, [1, 2, 3]);
    const balancer = leastRequest<TestEndpoint>({}, { random: seeded(2) });
    balancer.update(set);
    expectWeightedShares(shares(balancer, set, 60_000), [1, 2, 3], 0.02);
  });

  it('avoids the endpoint with many pending requests', () => {
    const set = endpoints(4);
    for (let i = 0; i < 10; i++) set[2]!.load.start();
    const balancer = leastRequest<TestEndpoint>({}, { random: seeded(3) });
    balancer.update(set);
    // Two distinct candidates: the busy one always loses.
    expect(shares(balancer, set, 10_000)[2]).toBe(0);
  });

  it('keeps pending counts level when requests pile up', () => {
    const set = endpoints(10);
    const balancer = leastRequest<TestEndpoint>({}, { random: seeded(4) });
    balancer.update(set);
    for (let i = 0; i < 5_000; i++) balancer.pick(plainRequest)!.load.start();
    const pending = set.map((endpoint) => endpoint.load.pending);
    expect(Math.max(...pending) - Math.min(...pending)).toBeLessThanOrEqual(3);
  });

  it('keeps pending per weight level when weights differ', () => {
    const set = endpoints(2, [1, 3]);
    const balancer = leastRequest<TestEndpoint>({}, { random: seeded(5) });
    balancer.update(set);
    for (let i = 0; i < 4_000; i++) balancer.pick(plainRequest)!.load.start();
    const ratio = set[1]!.load.pending / set[0]!.load.pending;
    expect(ratio).toBeGreaterThan(2.9);
    expect(ratio).toBeLessThan(3.1);
  });

  it('with choiceCount = n always takes the least loaded endpoint', () => {
    const set = endpoints(4);
    [3, 1, 2, 5].forEach((pending, i) => {
      for (let k = 0; k < pending; k++) set[i]!.load.start();
    });
    const balancer = leastRequest<TestEndpoint>({ choiceCount: 4 }, { random: seeded(6) });
    balancer.update(set);
    for (let i = 0; i < 100; i++) expect(balancer.pick(plainRequest)).toBe(set[1]);
  });

  it('compares three candidates when asked', () => {
    const set = endpoints(4);
    for (let k = 0; k < 5; k++) {
      set[0]!.load.start();
      set[1]!.load.start();
    }
    const balancer = leastRequest<TestEndpoint>({ choiceCount: 3 }, { random: seeded(7) });
    balancer.update(set);
    // Any three of four include an idle endpoint.
    expect(shares(balancer, set, 1_000).slice(0, 2)).toEqual([0, 0]);
  });

  it('rejects a choiceCount below 2 or not an integer', () => {
    expect(() => leastRequest({ choiceCount: 1 })).toThrow('choiceCount: 1 (expected: an integer >= 2)');
    expect(() => leastRequest({ choiceCount: 2.5 })).toThrow(RangeError);
  });

  it('never picks unavailable endpoints; undefined when none is available', () => {
    const set = endpoints(20, Array.from({ length: 20 }, (_, i) => (i % 3) + 1));
    for (const endpoint of set) endpoint.available = false;
    set[13]!.available = true;
    const balancer = leastRequest<TestEndpoint>({}, { random: seeded(8) });
    balancer.update(set);
    for (let i = 0; i < 100; i++) expect(balancer.pick(plainRequest)).toBe(set[13]);
    set[13]!.available = false;
    expect(balancer.pick(plainRequest)).toBeUndefined();
    balancer.update(set.slice(0, 1));
    expect(balancer.pick(plainRequest)).toBeUndefined();
    set[0]!.available = true;
    expect(balancer.pick(plainRequest)).toBe(set[0]);
  });
});
