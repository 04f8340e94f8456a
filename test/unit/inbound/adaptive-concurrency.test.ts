import { describe, expect, it } from 'vitest';
import { AdaptiveConcurrencyLimiter, InvalidOptionError, loadSheddingSettings, type LoadSheddingOptions } from 'proxyless';

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

  it('does not grow while demand stays below half the limit (a quiet period leaves no limit of 1000 for the next burst)', () => {
    const l = new AdaptiveConcurrencyLimiter(settings({ updateInterval: 10, minRttRequests: 5, initialLimit: 20 }), 0, () => 0.5);
    const { limits } = simulate(l, 1000, 5, 2, 500); // 2 in flight, latency always at the minimum
    expect(limits.at(-1)).toBe(20);
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
