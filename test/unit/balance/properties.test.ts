import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leastRequest } from '../../../src/balance/least-request.js';
import { p2cPeakEwma } from '../../../src/balance/p2c-peak-ewma.js';
import { random } from '../../../src/balance/random.js';
import { ringHash } from '../../../src/balance/ring-hash.js';
import { roundRobin } from '../../../src/balance/round-robin.js';
import type { Balancer, BalancerRuntime, PickRequest } from '../../../src/balance/types.js';
import { TestEndpoint, seeded } from './helpers.js';

const harshWarmup = { durationMs: 3_600_000, minimumPercent: 0, aggression: 0.01 };

const factories: [string, (runtime: BalancerRuntime) => Balancer<TestEndpoint>][] = [
  ['round-robin', (runtime) => roundRobin(runtime)],
  ['random', (runtime) => random(runtime)],
  ['least-request', (runtime) => leastRequest({}, runtime)],
  ['least-request (3 choices)', (runtime) => leastRequest({ choiceCount: 3 }, runtime)],
  ['p2c-peak-ewma', (runtime) => p2cPeakEwma(runtime)],
  // Warmup with the harshest settings: factors near zero for the endpoints marked as new.
  ['round-robin (warmup)', (runtime) => roundRobin(runtime, { warmup: harshWarmup })],
  ['least-request (warmup)', (runtime) => leastRequest({ warmup: harshWarmup }, runtime)],
  ['p2c-peak-ewma (warmup)', (runtime) => p2cPeakEwma(runtime, { warmup: harshWarmup })],
  ['ring-hash', (runtime) => ringHash({ key: { httpHeaderName: 'x-key' }, minimumRingSize: 64 }, runtime)],
];

const endpointSpec = fc.record({
  weight: fc.integer({ min: 1, max: 6 }),
  available: fc.boolean(),
  pending: fc.nat({ max: 5 }),
  rtt: fc.integer({ min: 1, max: 200 }),
  /** When it started, on the balancers' clock (which reads 100): some long ago, some just now. */
  activeSinceMs: fc.option(fc.constantFrom(-1e9, 0, 50, 99, 100), { nil: undefined }),
});

function build(specs: readonly { weight: number; available: boolean; pending: number; rtt: number; activeSinceMs: number | undefined }[], prefix: string): TestEndpoint[] {
  return specs.map((spec, i) => {
    const endpoint = new TestEndpoint(`${prefix}${i}:80`, spec.weight);
    endpoint.activeSinceMs = spec.activeSinceMs;
    endpoint.available = spec.available;
    for (let k = 0; k < spec.pending; k++) endpoint.load.start();
    endpoint.load.observe(spec.rtt, 0);
    return endpoint;
  });
}

function request(key: string | undefined): PickRequest {
  return key === undefined ? { path: '/', method: 'GET' } : { path: '/', method: 'GET', headers: { 'x-key': key } };
}

describe.each(factories)('%s properties', (_name, create) => {
  it('picks an available endpoint of the current set, or undefined only when none is available', () => {
    fc.assert(
      fc.property(
        fc.array(endpointSpec, { maxLength: 24 }),
        fc.array(fc.option(fc.string({ maxLength: 6 }), { nil: undefined }), { minLength: 1, maxLength: 30 }),
        fc.integer(),
        (specs, keys, seed) => {
          const set = build(specs, '10.0.0.');
          const balancer = create({ random: seeded(seed), now: () => 100 });
          balancer.update(set);
          const anyAvailable = set.some((endpoint) => endpoint.available);
          for (const key of keys) {
            const picked = balancer.pick(request(key));
            if (anyAvailable) {
              expect(picked).toBeDefined();
              expect(set).toContain(picked);
              expect(picked!.available).toBe(true);
            } else {
              expect(picked).toBeUndefined();
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never returns an endpoint removed by the last update', () => {
    fc.assert(
      fc.property(
        fc.array(endpointSpec, { minLength: 1, maxLength: 16 }),
        fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
        fc.array(fc.string({ maxLength: 6 }), { minLength: 1, maxLength: 30 }),
        fc.integer(),
        (specs, keep, keys, seed) => {
          const set = build(specs, '10.0.1.');
          const balancer = create({ random: seeded(seed), now: () => 100 });
          balancer.update(set);
          for (const key of keys) balancer.pick(request(key));
          const kept = set.filter((_, i) => keep[i]);
          balancer.update(kept);
          for (const key of keys) {
            const picked = balancer.pick(request(key));
            if (picked !== undefined) expect(kept).toContain(picked);
            else expect(kept.some((endpoint) => endpoint.available)).toBe(false);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
