import { describe, expect, it } from 'vitest';
import { redact, REDACTED } from '../../src/admin/config-dump.js';
import { LatencyHistogram } from '../../src/balance/latency-histogram.js';
import { resolveAdminOptions, isLoopback } from '../../src/admin/options.js';
import { tokenMatches } from '../../src/admin/auth.js';

describe('admin: redaction of secrets in /config_dump', () => {
  it('hides fields named like keys, tokens and credentials, and any PEM private key', () => {
    const pem = '-----BEGIN EC PRIVATE KEY-----\nMHc...\n-----END EC PRIVATE KEY-----';
    const out = redact({
      spec: { tls: { privateKey: '/k.pem', caCertificates: '/ca.pem', credentialName: 'x' }, list: [{ token: 't', note: pem }, 'ok'], headers: { Authorization: 'Bearer x', cookie: 'c' } },
      password: '',
    });
    expect(out).toEqual({
      spec: { tls: { privateKey: REDACTED, caCertificates: '/ca.pem', credentialName: REDACTED }, list: [{ token: REDACTED, note: REDACTED }, 'ok'], headers: { Authorization: REDACTED, cookie: REDACTED } },
      password: '',
    });
  });

  it('stops at a depth a hostile config could reach', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(JSON.stringify(redact(deep))).toContain('[too deep]');
  });
});

describe('admin: latency histogram', () => {
  it('puts each latency in a bucket whose upper bound is within 19 % above it', () => {
    for (const ms of [0.05, 0.3, 1, 7.5, 42, 999, 60_000]) {
      const bound = LatencyHistogram.upperBoundMs(LatencyHistogram.bucketOf(ms));
      expect(bound).toBeGreaterThanOrEqual(ms);
      expect(bound).toBeLessThan(ms * 1.19);
    }
  });

  it('takes quantiles of a window of counts, NaN for an empty one', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) h.record(i);
    const p50 = LatencyHistogram.quantile(h.counts, 0.5);
    const p99 = LatencyHistogram.quantile(h.counts, 0.99);
    expect(p50).toBeGreaterThanOrEqual(50);
    expect(p50).toBeLessThan(50 * 1.19);
    expect(p99).toBeGreaterThanOrEqual(99);
    expect(p99).toBeLessThan(99 * 1.19);
    expect(LatencyHistogram.quantile(new Uint32Array(8), 0.5)).toBeNaN();
  });
});

describe('admin: options', () => {
  it('refuses a non-loopback host without a token, naming the field', () => {
    expect(() => resolveAdminOptions({ host: '0.0.0.0' })).toThrow(/host: "0\.0\.0\.0" is not a loopback address, and no token is set/);
    expect(resolveAdminOptions({ host: '0.0.0.0', token: 'a'.repeat(32) }).protectReads).toBe(true);
    expect(resolveAdminOptions({ token: 'a'.repeat(32) }).protectReads).toBe(false);
  });

  it('names every bad field, and never prints the token', () => {
    let message = '';
    try {
      resolveAdminOptions({ port: 70_000, token: 'short secret', intervalMs: 5, maxStreams: 0, logger: {} as never, bogus: 1 } as never);
    } catch (error) {
      message = (error as Error).message;
    }
    for (const field of ['port: 70000', 'token: a string of 12 characters', 'intervalMs: 5', 'maxStreams: 0', 'logger:', 'bogus: unknown option']) expect(message).toContain(field);
    expect(message).not.toContain('short secret');
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', 'example.com']) expect(isLoopback(h)).toBe(false);
  });

  it('compares tokens whole, whatever their lengths', () => {
    expect(tokenMatches('a'.repeat(32), 'a'.repeat(32))).toBe(true);
    expect(tokenMatches('a'.repeat(31), 'a'.repeat(32))).toBe(false);
    expect(tokenMatches(undefined, 'a'.repeat(32))).toBe(false);
  });
});
