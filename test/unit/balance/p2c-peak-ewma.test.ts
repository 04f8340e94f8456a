import { describe, expect, it } from 'vitest';
import { p2cPeakEwma } from '../../../src/balance/p2c-peak-ewma.js';
import { endpoints, expectWeightedShares, plainRequest, seeded, shares, type TestEndpoint } from './helpers.js';

/**
 * Runs `requests` requests with `concurrency` in flight on a simulated clock; endpoint
 * `i` answers in `rtt(i)` ms. Returns each endpoint's share of the requests.
 */
function simulate(set: readonly TestEndpoint[], rtt: (i: number) => number, requests: number, concurrency: number, seed: number): number[] {
  let now = 0;
  const balancer = p2cPeakEwma<TestEndpoint>({ random: seeded(seed), now: () => now });
  balancer.update(set);
  const counts = set.map(() => 0);
  const inFlight: { endsAt: number; endpoint: TestEndpoint; startedAt: number }[] = [];
  for (let sent = 0; sent < requests; sent++) {
    if (inFlight.length === concurrency) {
      inFlight.sort((a, b) => a.endsAt - b.endsAt);
      const done = inFlight.shift()!;
      now = done.endsAt;
      done.endpoint.load.finish(now - done.startedAt, now, true);
    }
    const endpoint = balancer.pick(plainRequest)!;
    const index = set.indexOf(endpoint);
    counts[index]!++;
    endpoint.load.start();
    inFlight.push({ endsAt: now + rtt(index), endpoint, startedAt: now });
  }
  return counts.map((count) => count / requests);
}

describe('p2cPeakEwma', () => {
  it('is uniform over fresh endpoints', () => {
    const set = endpoints(4);
    const balancer = p2cPeakEwma<TestEndpoint>({ random: seeded(1), now: () => 0 });
    balancer.update(set);
    expect(balancer.name).toBe('p2c-peak-ewma');
    expectWeightedShares(shares(balancer, set, 60_000), [1, 1, 1, 1], 0.02);
  });

  it('follows weights 1:2:3 over idle endpoints', () => {
    const set = endpoints(3, [1, 2, 3]);
    const balancer = p2cPeakEwma<TestEndpoint>({ random: seeded(2), now: () => 0 });
    balancer.update(set);
    expectWeightedShares(shares(balancer, set, 60_000), [1, 2, 3], 0.02);
  });

  it('sends little traffic to an endpoint with a high EWMA (80 ms against 10 ms)', () => {
    const set = endpoints(5);
    const result = simulate(set, (i) => (i === 0 ? 80 : 10), 50_000, 8, 3);
    expect(result[0]).toBeLessThan(0.03);
    for (const share of result.slice(1)) expect(share).toBeGreaterThan(0.22);
  });

  it('still shares by latency when everyone is busy', () => {
    const set = endpoints(4);
    // 40 in flight: a 2× slower endpoint should get clearly less, yet not nothing.
    const result = simulate(set, (i) => (i === 0 ? 20 : 10), 50_000, 40, 4);
    expect(result[0]).toBeGreaterThan(0.05);
    expect(result[0]).toBeLessThan(0.2);
  });

  it('sends little traffic to an endpoint with many pending requests', () => {
    const set = endpoints(4);
    for (let i = 0; i < 10; i++) set[1]!.load.start();
    const balancer = p2cPeakEwma<TestEndpoint>({ random: seeded(5), now: () => 0 });
    balancer.update(set);
    expect(shares(balancer, set, 10_000)[1]).toBe(0);
  });

  it('prefers the endpoint that answers faster', () => {
    const set = endpoints(2);
    set[0]!.load.observe(5, 1_000); // 30·e^−0.1 mixed with 5: 25.0
    set[1]!.load.observe(50, 1_000); // a peak: 50
    const balancer = p2cPeakEwma<TestEndpoint>({ random: seeded(6), now: () => 1_000 });
    balancer.update(set);
    expect(shares(balancer, set, 100)).toEqual([1, 0]);
  });

  it('tries a slow endpoint again once its estimate has decayed', () => {
    const set = endpoints(2);
    let now = 0;
    set[0]!.load.observe(80, 0);
    set[1]!.load.observe(10, 0);
    const balancer = p2cPeakEwma<TestEndpoint>({ random: seeded(7), now: () => now });
    balancer.update(set);
    expect(balancer.pick(plainRequest)).toBe(set[1]);
    now = 30_000; // 80·e^−3 ≈ 4 ms, 10·e^−3 ≈ 0.5 ms: still the faster one.
    expect(balancer.pick(plainRequest)).toBe(set[1]);
    set[1]!.load.observe(10, now); // fresh sample: 10 ms against a decayed 4 ms
    expect(balancer.pick(plainRequest)).toBe(set[0]);
  });

  it('weighs the queue by relative weight', () => {
    const set = endpoints(2, [1, 4]);
    for (let i = 0; i < 3; i++) set[1]!.load.start(); // 30 × (1 + 3/4) = 52.5
    set[0]!.load.start(); // 30 × (1 + 1) = 60
    const balancer = p2cPeakEwma<TestEndpoint>({ random: seeded(8), now: () => 0 });
    balancer.update(set);
    expect(shares(balancer, set, 1_000)[1]).toBeGreaterThan(0.95);
  });

  it('picks the single endpoint when available, else nothing', () => {
    const set = endpoints(1);
    const balancer = p2cPeakEwma<TestEndpoint>();
    expect(balancer.pick(plainRequest)).toBeUndefined();
    balancer.update(set);
    expect(balancer.pick(plainRequest)).toBe(set[0]);
    set[0]!.available = false;
    expect(balancer.pick(plainRequest)).toBeUndefined();
  });

  it('never picks unavailable endpoints, even when almost all are', () => {
    const set = endpoints(200);
    for (const endpoint of set) endpoint.available = false;
    set[150]!.available = true;
    set[151]!.available = true;
    const balancer = p2cPeakEwma<TestEndpoint>({ random: seeded(9) });
    balancer.update(set);
    const result = shares(balancer, set, 2_000);
    expect(result[150]! + result[151]!).toBe(1);
    for (const endpoint of set) endpoint.available = false;
    expect(balancer.pick(plainRequest)).toBeUndefined();
  });

  it('is deterministic for a given random source', () => {
    const set = endpoints(10);
    const run = () => {
      const balancer = p2cPeakEwma<TestEndpoint>({ random: seeded(10), now: () => 0 });
      balancer.update(set);
      return Array.from({ length: 50 }, () => balancer.pick(plainRequest)!.key);
    };
    expect(run()).toEqual(run());
  });
});
