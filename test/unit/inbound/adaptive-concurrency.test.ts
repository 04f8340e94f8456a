import { describe, expect, it } from 'vitest';
import { InvalidOptionError, type LoadSheddingOptions } from 'proxyless';
import { AdaptiveConcurrencyLimiter, loadSheddingSettings } from 'proxyless/inbound';

const settings = (o: LoadSheddingOptions = {}) => loadSheddingSettings(o, 'test')!;

/**
 * A server with `slots` workers each taking `serviceMs`: with n requests in flight the
 * latency is serviceMs × max(1, n / slots) (queueing behind the workers).
 */
function simulate(limiter: AdaptiveConcurrencyLimiter, slots: number, serviceMs: number, offered: number, steps: number): { accepted: number; refused: number; limits: number[] } {
  let now = 0;
  let accepted = 0;
  let refused = 0;
  const limits: number[] = [];
  for (let step = 0; step < steps; step++) {
    const admitted: number[] = [];
    for (let i = 0; i < offered; i++) {
      if (limiter.tryAcquire(now)) admitted.push(i);
      else refused++;
    }
    const latency = serviceMs * Math.max(1, admitted.length / slots);
    now += latency;
    for (const _ of admitted) limiter.release(now, latency);
    accepted += admitted.length;
    limits.push(limiter.limit);
  }
  return { accepted, refused, limits };
}

describe('AdaptiveConcurrencyLimiter (gradient controller)', () => {
  it('pins the limit to minConcurrency until minRttRequests have completed, then starts from initialLimit', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ minConcurrency: 2, minRttRequests: 4, initialLimit: 8 }), 0, () => 0.5);
    expect([l.tryAcquire(0), l.tryAcquire(0), l.tryAcquire(0)]).toEqual([true, true, false]);
    l.release(10, 10);
    l.release(10, 10);
    expect(l.limit).toBe(2);
    expect([l.tryAcquire(10), l.tryAcquire(10)]).toEqual([true, true]);
    l.release(20, 10);
    l.release(20, 10);
    expect(l.minRtt).toBe(10);
    expect(l.limit).toBe(8);
  });

  it('under 3x overload it settles near the capacity: the workers stay busy, queueing stays within the buffer, the rest is refused', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ updateInterval: 50, minRttRequests: 20 }), 0, () => 0.5);
    const { accepted, refused, limits } = simulate(l, 10, 20, 30, 400);
    const settled = limits.slice(-100);
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(10); // every worker busy: goodput at capacity
    expect(Math.max(...settled)).toBeLessThanOrEqual(22); // latency at most about 2x the minimum
    expect(refused).toBeGreaterThan(accepted / 2);
  });

  it('grows while latency stays at the minimum, up to maxConcurrency', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ updateInterval: 10, minRttRequests: 5, maxConcurrency: 40 }), 0, () => 0.5);
    const { limits } = simulate(l, 1000, 5, 100, 200);
    expect(limits.at(-1)).toBe(40);
  });

  it('does not grow while demand stays below half the limit, and comes down halfway to twice the peak demand each update', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ updateInterval: 10, minRttRequests: 5, initialLimit: 20, minConcurrency: 2 }), 0, () => 0.5);
    const { limits } = simulate(l, 1000, 5, 3, 500); // 3 in flight, latency always at the minimum
    const after = limits.slice(limits.findIndex((x) => x === 20)); // from the end of the minRTT measurement
    const distinct = after.filter((x, i) => i === 0 || x !== after[i - 1]);
    // 20 → 13 → 9.5 → 7.75 → 6.9 → ... → 6 (twice the peak of 3), floored
    expect(distinct.slice(0, 5)).toEqual([20, 13, 9, 7, 6]);
    expect(Math.max(...after)).toBe(20);
    expect(Math.min(...after)).toBe(6);
  });

  it('an idle period (no request completed) leaves the limit where it was', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ updateInterval: 10, minRttRequests: 2, initialLimit: 20 }), 0, () => 0.5);
    simulate(l, 100, 5, 2, 1); // measures the minimum latency: limit 20
    expect(l.limit).toBe(20);
    for (let t = 100; t < 10_000; t += 10) expect(l.tryAcquire(t) && (l.release(t, undefined), true)).toBe(true); // no latency sample
    expect(l.limit).toBe(20);
  });

  it('a limit at minConcurrency for 5 updates in a row measures the minimum latency again (the service became slower for good)', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ updateInterval: 10, minRttRequests: 3, minConcurrency: 2, initialLimit: 2, maxConcurrency: 50 }), 0, () => 0.5);
    simulate(l, 1, 10, 2, 3); // 2 at a time on 1 slot: minRtt measured at 20 ms
    const first = l.minRtt!;
    // From now on every request takes 10x longer: the limit sits at 2 and the minimum is measured again.
    let now = 1000;
    let measured = false;
    for (let i = 0; i < 200 && !measured; i++) {
      const admitted = [l.tryAcquire(now), l.tryAcquire(now)].filter(Boolean).length;
      now += 200;
      for (let k = 0; k < admitted; k++) l.release(now, 200);
      measured = l.minRtt !== first;
    }
    expect(measured).toBe(true);
    expect(l.minRtt).toBe(200);
  });

  it('the next measurement of the minimum latency comes after minRttInterval plus up to jitter percent of it', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ minRttInterval: 1000, jitter: 50, minRttRequests: 1, minConcurrency: 3 }), 0, () => 0.999);
    expect(l.tryAcquire(0)).toBe(true);
    l.release(10, 10); // measured at t=10: next one at 10 + 1000 × (1 + 0.5 × 0.999)
    expect(l.limit).toBe(10);
    l.tryAcquire(1400);
    expect(l.limit).toBe(10); // not yet: the jitter pushed it past 1400
    l.release(1400, undefined);
    l.tryAcquire(1510);
    expect(l.limit).toBe(3);
  });

  it('measures the minimum latency again every minRttInterval (with jitter), pinned meanwhile', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ minRttInterval: 1000, jitter: 0, minRttRequests: 3, minConcurrency: 3 }), 0, () => 0);
    simulate(l, 100, 10, 3, 1);
    expect(l.limit).toBe(10);
    l.tryAcquire(2000); // past the interval: measuring again
    expect(l.limit).toBe(3);
  });

  it('a caller that went away releases its slot without a latency sample', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ minRttRequests: 1 }), 0, () => 0.5);
    expect(l.tryAcquire(0)).toBe(true);
    l.release(5, undefined);
    expect(l.inFlight).toBe(0);
    expect(l.minRtt).toBeUndefined();
  });
});

describe('load shedding options', () => {
  it.each([
    [{ minConcurrency: 0 }, 'loadShedding.minConcurrency: 0 (expected: >= 1)'],
    [{ maxConcurrency: 2, minConcurrency: 5 }, 'loadShedding.maxConcurrency: 2 (expected: >= minConcurrency, which is 5)'],
    [{ updateInterval: Number.NaN }, 'loadShedding.updateInterval: NaN (expected: a whole number)'],
    [{ percentile: 100 }, 'loadShedding.percentile: 100 (expected: <= 99.9)'],
    [{ initialLimit: 1, minConcurrency: 3 }, 'loadShedding.initialLimit: 1 (expected: from minConcurrency (3) to maxConcurrency (1000))'],
    [{ queue: true }, 'loadShedding.queue: unknown field'],
  ])('%j', (options, line) => {
    expect(() => loadSheddingSettings(options as LoadSheddingOptions, 'inbound')).toThrow(InvalidOptionError);
    try {
      loadSheddingSettings(options as LoadSheddingOptions, 'inbound');
    } catch (error) {
      expect((error as InvalidOptionError).problems).toEqual([line]);
    }
  });

  it('enabled: false turns it off', () => {
    expect(loadSheddingSettings({ enabled: false }, 'inbound')).toBeUndefined();
    expect(loadSheddingSettings(undefined, 'inbound')).toBeUndefined();
  });
});
