import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currentDeadline, deadlineFromHeader, InvalidOptionError, MAX_DEADLINE_MS, withDeadline } from 'proxyless';
import { parseGrpcTimeout, requestDeadline } from 'proxyless/inbound';

const NOW = 1_700_000_000_000;

describe('requestDeadline', () => {
  it('reads x-envoy-expected-rq-timeout-ms and grpc-timeout, the earlier winning', () => {
    expect(requestDeadline({}, NOW)).toBeUndefined();
    expect(requestDeadline({ 'x-envoy-expected-rq-timeout-ms': '250' }, NOW)).toBe(NOW + 250);
    expect(requestDeadline({ 'grpc-timeout': '3S' }, NOW)).toBe(NOW + 3000);
    expect(requestDeadline({ 'grpc-timeout': '2M', 'x-envoy-expected-rq-timeout-ms': '250' }, NOW)).toBe(NOW + 250);
    expect(requestDeadline({ 'grpc-timeout': '100m', 'x-envoy-expected-rq-timeout-ms': '250' }, NOW)).toBe(NOW + 100);
    expect(requestDeadline({ 'grpc-timeout': 'bad', 'x-envoy-expected-rq-timeout-ms': '250' }, NOW)).toBe(NOW + 250);
    expect(requestDeadline({ 'x-envoy-expected-rq-timeout-ms': '0' }, NOW)).toBe(NOW);
  });

  it('grpc-timeout units per the gRPC spec, 1 to 8 digits', () => {
    expect([parseGrpcTimeout('1H'), parseGrpcTimeout('1M'), parseGrpcTimeout('1S'), parseGrpcTimeout('1m'), parseGrpcTimeout('1000u'), parseGrpcTimeout('1000000n')]).toEqual([
      3_600_000, 60_000, 1000, 1, 1, 1,
    ]);
    expect(parseGrpcTimeout('99999999H')).toBe(MAX_DEADLINE_MS);
    for (const bad of ['', 'S', '123456789S', '1s', '-1S', '1.5S', ' 1S', '1 S', '1X']) expect(parseGrpcTimeout(bad), bad).toBeUndefined();
  });

  it('never throws, and any deadline it gives lies within [now, now + MAX_DEADLINE_MS] (property)', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 64 })), fc.option(fc.string({ maxLength: 16 })), (envoy, grpc) => {
        const headers: Record<string, string> = {};
        if (envoy !== null) headers['x-envoy-expected-rq-timeout-ms'] = envoy;
        if (grpc !== null) headers['grpc-timeout'] = grpc;
        const at = requestDeadline(headers, NOW);
        if (at !== undefined) {
          expect(at).toBeGreaterThanOrEqual(NOW);
          expect(at).toBeLessThanOrEqual(NOW + MAX_DEADLINE_MS);
        }
      }),
    );
  });

  it('a header of any length is read in linear time (a 1 MB run of digits is clamped, not parsed into Infinity)', () => {
    expect(deadlineFromHeader('9'.repeat(1_000_000), NOW)).toBe(NOW + MAX_DEADLINE_MS);
    expect(deadlineFromHeader(['7', '9'], NOW)).toBe(NOW + 7);
  });
});

describe('withDeadline bounds', () => {
  it('clamps a far deadline to MAX_DEADLINE_MS (a longer timer would fire at once) and refuses NaN and invalid dates', () => {
    const far = withDeadline(1e20, () => currentDeadline()!);
    expect(far - Date.now()).toBeLessThanOrEqual(MAX_DEADLINE_MS);
    expect(far - Date.now()).toBeGreaterThan(MAX_DEADLINE_MS - 1000);
    expect(withDeadline(new Date(8.64e15), () => currentDeadline()! - Date.now())).toBeLessThanOrEqual(MAX_DEADLINE_MS);
    expect(() => withDeadline(Number.NaN, () => 1)).toThrow(InvalidOptionError);
    expect(() => withDeadline(new Date('nope'), () => 1)).toThrow(/deadline: an invalid Date/);
    // Nested: the earlier still wins.
    expect(withDeadline(1000, () => withDeadline(1e20, () => currentDeadline()! - Date.now()))).toBeLessThanOrEqual(1000);
  });
});
