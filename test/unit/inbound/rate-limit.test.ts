import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, inbound, createMesh, staticEndpoints, type RateLimitOptions } from 'proxyless';
import { LocalRateLimiter, TokenBucket } from 'proxyless/inbound';
import { checkRateLimit, rateLimitSettings } from '../../../src/config/settings/rate-limit.js';

const req = (method = 'GET', headers: Record<string, string> = {}) => ({ method, headers }) as unknown as IncomingMessage;

describe('TokenBucket (Envoy local rate limit semantics)', () => {
  it('starts full, takes one per request, fills tokensPerFill at each whole fillInterval, never above maxTokens', () => {
    const bucket = new TokenBucket({ maxTokens: 3, tokensPerFill: 2, fillIntervalMs: 1000 }, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.resetSeconds(0)).toBe(1);
    expect(bucket.take(999)).toBe(false); // not a whole interval yet
    expect(bucket.remaining(1000)).toBe(2);
    expect(bucket.remaining(10_000)).toBe(3); // capped
    expect(bucket.resetSeconds(10_000)).toBe(0);
  });

  it('admits at most maxTokens + fills × tokensPerFill over any run of requests (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 50, max: 1000 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 }),
        (maxTokens, tokensPerFill, fillIntervalMs, gaps) => {
          const bucket = new TokenBucket({ maxTokens, tokensPerFill, fillIntervalMs }, 0);
          let now = 0;
          let admitted = 0;
          for (const gap of gaps) {
            now += gap;
            if (bucket.take(now)) admitted++;
            expect(bucket.remaining(now)).toBeLessThanOrEqual(maxTokens);
          }
          expect(admitted).toBeLessThanOrEqual(maxTokens + Math.floor(now / fillIntervalMs) * tokensPerFill);
        },
      ),
    );
  });
});

describe('LocalRateLimiter', () => {
  const limiter = (options: RateLimitOptions) => new LocalRateLimiter(rateLimitSettings(options, 'test'), 0);

  it('the first covering descriptor decides; the workload bucket is consumed too unless alwaysConsumeDefaultTokenBucket is false', () => {
    const options: RateLimitOptions = {
      tokenBucket: { maxTokens: 2, fillInterval: 1000 },
      descriptors: [{ name: 'posts', methods: ['POST'], path: { exact: '/orders' }, tokenBucket: { maxTokens: 10, fillInterval: 1000 } }],
    };
    const both = limiter(options);
    expect([both.decide(req('POST'), '/orders', undefined, 0).allowed, both.decide(req('POST'), '/orders', undefined, 0).allowed, both.decide(req('POST'), '/orders', undefined, 0).allowed]).toEqual([true, true, false]);
    const descriptorOnly = limiter({ ...options, alwaysConsumeDefaultTokenBucket: false });
    for (let i = 0; i < 10; i++) expect(descriptorOnly.decide(req('POST'), '/orders', undefined, 0)).toMatchObject({ allowed: true, descriptor: 'posts' });
    expect(descriptorOnly.decide(req('POST'), '/orders', undefined, 0)).toMatchObject({ allowed: false, descriptor: 'posts' });
    expect(descriptorOnly.decide(req('GET'), '/orders', undefined, 0)).toMatchObject({ allowed: true, descriptor: undefined });
  });

  it('keyed descriptors keep at most maxKeys buckets, the least recently used dropped first, and long keys share their first 256 characters', () => {
    const l = limiter({ descriptors: [{ header: 'x-user', maxKeys: 3, tokenBucket: { maxTokens: 1, fillInterval: 60_000 } }] });
    for (const user of ['a', 'b', 'c']) expect(l.decide(req('GET', { 'x-user': user }), '/', undefined, 0).allowed).toBe(true);
    expect(l.decide(req('GET', { 'x-user': 'a' }), '/', undefined, 0).allowed).toBe(false); // a is now the most recent
    expect(l.decide(req('GET', { 'x-user': 'd' }), '/', undefined, 0).allowed).toBe(true); // evicts b
    expect(l.keyCounts()).toEqual([3]);
    expect(l.decide(req('GET', { 'x-user': 'a' }), '/', undefined, 0).allowed).toBe(false);
    expect(l.decide(req('GET', { 'x-user': 'b' }), '/', undefined, 0).allowed).toBe(true); // b forgotten: a full bucket again
    for (let i = 0; i < 10_000; i++) l.decide(req('GET', { 'x-user': `flood-${i}` }), '/', undefined, 0);
    expect(l.keyCounts()).toEqual([3]);
    const long = 'x'.repeat(256);
    const l2 = limiter({ descriptors: [{ header: 'x-user', tokenBucket: { maxTokens: 1, fillInterval: 60_000 } }] });
    expect(l2.decide(req('GET', { 'x-user': `${long}1` }), '/', undefined, 0).allowed).toBe(true);
    expect(l2.decide(req('GET', { 'x-user': `${long}2` }), '/', undefined, 0).allowed).toBe(false);
  });

  it('peer descriptors: one bucket per caller identity; callers without one are not covered', () => {
    const l = limiter({ descriptors: [{ peer: true, tokenBucket: { maxTokens: 1, fillInterval: 60_000 } }] });
    expect(l.decide(req(), '/', 'cluster.local/ns/a/sa/x', 0).allowed).toBe(true);
    expect(l.decide(req(), '/', 'cluster.local/ns/a/sa/x', 0).allowed).toBe(false);
    expect(l.decide(req(), '/', 'cluster.local/ns/a/sa/y', 0).allowed).toBe(true);
    expect(l.decide(req(), '/', undefined, 0).allowed).toBe(true);
    expect(l.decide(req(), '/', undefined, 0).allowed).toBe(true);
  });
});

describe('rate limit options: bad values get errors naming the field', () => {
  const problems = (options: unknown) => {
    const checked = checkRateLimit(options, 'rateLimit');
    return checked.ok ? [] : checked.problems;
  };

  it.each([
    [{}, ['rateLimit: {} (expected: a tokenBucket, descriptors, or both (a rate limit with neither limits nothing))']],
    [{ tokenBucket: { maxTokens: 0, fillInterval: 1000 } }, ['rateLimit.tokenBucket.maxTokens: 0 (expected: >= 1)']],
    [{ tokenBucket: { maxTokens: 1.5, fillInterval: 1000 } }, ['rateLimit.tokenBucket.maxTokens: 1.5 (expected: a whole number of tokens)']],
    [{ tokenBucket: { maxTokens: 10, fillInterval: 10 } }, ['rateLimit.tokenBucket.fillInterval: 10 (expected: a fill interval from 50 ms (Envoy\'s minimum) to 596h31m23.647s)']],
    [{ tokenBucket: { maxTokens: 10, fillInterval: 'soon' } }, [expect.stringMatching(/^rateLimit\.tokenBucket\.fillInterval: "soon" \(expected: milliseconds, or a duration such as "1s"/)]],
    [{ tokenBucket: { maxTokens: 10, fillInterval: Number.NaN } }, [expect.stringMatching(/^rateLimit\.tokenBucket\.fillInterval: NaN \(expected: /)]],
    [{ tokenBucket: { maxTokens: 10, fillInterval: 1e20 } }, [expect.stringMatching(/^rateLimit\.tokenBucket\.fillInterval: 100000000000000000000 \(expected: a fill interval/)]],
    [{ tokenBucket: { maxTokens: 10, fillInterval: 1000, burst: 3 } }, ['rateLimit.tokenBucket.burst: unknown field']],
    [{ descriptors: [{ header: 'X-User', tokenBucket: { maxTokens: 1, fillInterval: 1000 } }] }, ['rateLimit.descriptors[0].header: "X-User" (expected: a lower-case header name such as "x-user")']],
    [{ descriptors: [{ header: 'x-user', peer: true, tokenBucket: { maxTokens: 1, fillInterval: 1000 } }] }, [expect.stringMatching(/^rateLimit\.descriptors\[0\]: .* \(expected: at most one of header, peer, key\)$/)]],
    [{ tokenBucket: { maxTokens: 1, fillInterval: 1000 }, status: 200 }, ['rateLimit.status: 200 (expected: >= 400)']],
  ])('%j', (options, expected) => {
    expect(problems(options)).toEqual(expected);
  });

  it('inbound() throws InvalidOptionError with every problem at once', () => {
    const mesh = createMesh({ discovery: [staticEndpoints({})] });
    expect(() => inbound(mesh, { rateLimit: { tokenBucket: { maxTokens: -1, fillInterval: 5 } } })).toThrow(InvalidOptionError);
    try {
      inbound(mesh, { rateLimit: { tokenBucket: { maxTokens: -1, fillInterval: 5 } } });
    } catch (error) {
      expect((error as InvalidOptionError).message).toMatch(/^inbound: invalid options:\n {2}rateLimit\.tokenBucket\.maxTokens: -1 \(expected: >= 1\)\n {2}rateLimit\.tokenBucket\.fillInterval: 5/);
    }
    void mesh.close();
  });
});
