import { describe, expect, it } from 'vitest';
import { clampTtl, freshness, negativeTtl, nextRetryAt, refreshDelay, retryDelay } from '../../../../src/discovery/dns/internal-ttl.js';

describe('DNS TTL decisions', () => {
  it('clamps a TTL in seconds into [minTtl, maxTtl] ms', () => {
    expect(clampTtl(30, 1000, 300_000)).toBe(30_000);
    expect(clampTtl(0, 1000, 300_000)).toBe(1000);
    expect(clampTtl(0.2, 1000, 300_000)).toBe(1000);
    expect(clampTtl(86_400, 1000, 300_000)).toBe(300_000);
    expect(clampTtl(Number.NaN, 1000, 300_000)).toBe(1000);
    expect(clampTtl(Infinity, 1000, 300_000)).toBe(1000);
  });

  it('refreshes between 80 % and 90 % of the TTL, spread by the random number', () => {
    expect(refreshDelay(10_000, 0)).toBe(9000);
    expect(refreshDelay(10_000, 0.5)).toBe(8500);
    expect(refreshDelay(10_000, 0.999999)).toBe(8000);
    for (let i = 0; i < 100; i++) {
      const delay = refreshDelay(1000, Math.random());
      expect(delay).toBeGreaterThanOrEqual(800);
      expect(delay).toBeLessThanOrEqual(900);
    }
    expect(refreshDelay(0, 0.5)).toBe(1);
  });

  it('caches negative answers for min(SOA TTL, SOA MINIMUM), clamped (RFC 2308 §5)', () => {
    expect(negativeTtl({ ttl: 60, minimum: 5 }, 1000, 30_000)).toBe(5000);
    expect(negativeTtl({ ttl: 3, minimum: 600 }, 1000, 30_000)).toBe(3000);
    expect(negativeTtl({ ttl: 3600, minimum: 3600 }, 1000, 30_000)).toBe(30_000);
    expect(negativeTtl({ ttl: 0, minimum: 0 }, 1000, 30_000)).toBe(1000);
  });

  it('does not cache a negative answer without SOA beyond minTtl', () => {
    expect(negativeTtl(undefined, 1000, 30_000)).toBe(1000);
    expect(negativeTtl(undefined, 250, 30_000)).toBe(250);
  });

  it('backs off retries 1 s, 2 s, 4 s ... up to 30 s, each scaled into [0.5, 1)', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => retryDelay(n, 0.999999))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(retryDelay(1, 0)).toBe(500);
    expect(retryDelay(3, 0.5)).toBe(3000);
  });

  it('serves fresh until expiry, stale for maxStale more, then expired', () => {
    expect(freshness(999, 1000, 500)).toBe('fresh');
    expect(freshness(1000, 1000, 500)).toBe('stale');
    expect(freshness(1499, 1000, 500)).toBe('stale');
    expect(freshness(1500, 1000, 500)).toBe('expired');
    expect(freshness(1000, 1000, 0)).toBe('expired');
  });

  it('retries no later than the end of the stale window', () => {
    expect(nextRetryAt(10_000, 1, 0.999999, undefined)).toBe(11_000);
    expect(nextRetryAt(10_000, 1, 0.999999, 10_400)).toBe(10_400);
    expect(nextRetryAt(10_000, 5, 0.999999, 100_000)).toBe(26_000);
    // A window already over does not pull the retry into the past.
    expect(nextRetryAt(10_000, 1, 0.999999, 9000)).toBe(11_000);
  });
});
