import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LoadSheddingOptions } from 'proxyless';
import { AdaptiveConcurrencyLimiter, loadSheddingSettings } from 'proxyless/inbound';

const settings = (o: LoadSheddingOptions = {}) => loadSheddingSettings(o, 'test')!;

/** An operation on the limiter: time passes, requests arrive, some finish with a latency (any double, hostile ones included). */
const op = fc.oneof(
  fc.record({ kind: fc.constant('acquire' as const), n: fc.integer({ min: 1, max: 50 }) }),
  fc.record({
    kind: fc.constant('release' as const),
    n: fc.integer({ min: 1, max: 50 }),
    latency: fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom(Number.NaN, -1, Infinity, -Infinity, 0, 1e300, Number.MIN_VALUE), fc.constant(undefined)),
  }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.double({ min: 0, max: 100_000, noNaN: true }) }),
);

const options = fc.record({
  minConcurrency: fc.integer({ min: 1, max: 20 }),
  extra: fc.integer({ min: 0, max: 200 }),
  updateInterval: fc.integer({ min: 10, max: 1000 }),
  percentile: fc.double({ min: 1, max: 99.9, noNaN: true }),
  minRttRequests: fc.integer({ min: 1, max: 30 }),
  buffer: fc.double({ min: 0, max: 1000, noNaN: true }),
  jitter: fc.double({ min: 0, max: 100, noNaN: true }),
});

describe('AdaptiveConcurrencyLimiter properties (fast-check)', () => {
  it('whatever happens, the limit stays a whole number in [minConcurrency, maxConcurrency], never NaN, and in-flight never goes below 0', () => {
    fc.assert(
      fc.property(options, fc.array(op, { maxLength: 300 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (o, ops, r) => {
        const s = settings({ minConcurrency: o.minConcurrency, maxConcurrency: o.minConcurrency + o.extra, initialLimit: o.minConcurrency, updateInterval: o.updateInterval, percentile: o.percentile, minRttRequests: o.minRttRequests, buffer: o.buffer, jitter: o.jitter });
        const l = new AdaptiveConcurrencyLimiter(s, 0, () => r);
        let now = 0;
        let held = 0;
        for (const step of ops) {
          if (step.kind === 'advance') now += step.ms;
          else if (step.kind === 'acquire') {
            for (let i = 0; i < step.n; i++) if (l.tryAcquire(now)) held++;
          } else {
            for (let i = 0; i < step.n && held > 0; i++, held--) l.release(now, step.latency);
          }
          expect(Number.isInteger(l.limit)).toBe(true);
          expect(l.limit).toBeGreaterThanOrEqual(s.minConcurrency);
          expect(l.limit).toBeLessThanOrEqual(s.maxConcurrency);
          expect(l.inFlight).toBe(held);
          expect(held).toBeLessThanOrEqual(Math.max(l.limit, s.maxConcurrency));
        }
      }),
      { numRuns: 300 },
    );
  });

  /**
   * Two identical limiters after the same history (minimum latency measured, then a busy
   * window); the next window's latencies differ only in that one's are higher.
   */
  function twins(o: { start: number; base: number; busy: number }, settingsFor: LoadSheddingOptions) {
    const make = () => {
      const l = new AdaptiveConcurrencyLimiter(settings(settingsFor), 0, () => 0.5);
      // The minimum latency: minRttRequests at `base` ms.
      for (let i = 0; i < 3; i++) l.tryAcquire(0);
      for (let i = 0; i < 3; i++) l.release(o.base, o.base);
      return l;
    };
    return [make(), make()] as const;
  }

  it('a higher sampled latency never gives a higher limit, and at twice the target or more the limit goes down (or stays at the minimum)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }), // base latency (ms)
        fc.double({ min: 0, max: 20, noNaN: true }), // latency of the lower window, in multiples of the base
        fc.double({ min: 0, max: 20, noNaN: true }), // how much higher the other one is
        (base, lowFactor, extra) => {
          const s: LoadSheddingOptions = { minConcurrency: 3, maxConcurrency: 1000, initialLimit: 40, updateInterval: 100, minRttRequests: 3, minRttInterval: 86_400_000 };
          const [low, high] = twins({ start: 0, base, busy: 40 }, s);
          const window = (l: AdaptiveConcurrencyLimiter, latency: number) => {
            let t = base;
            // A busy window: the limit full (demand is not the limit's), then the update.
            let admitted = 0;
            while (l.tryAcquire(t)) admitted++;
            t += 100;
            for (let i = 0; i < admitted; i++) l.release(t, latency);
            return l.limit;
          };
          const before = low.limit;
          const lowLatency = base * lowFactor;
          const highLatency = lowLatency + base * extra;
          const a = window(low, lowLatency);
          const b = window(high, highLatency);
          expect(b).toBeLessThanOrEqual(a);
          const target = base * 1.25; // the default buffer: 25 %
          if (highLatency >= 2 * target) expect(b < before || b === 3).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
