import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMesh, InvalidConfigError } from 'proxyless';
import { durationField, formatDuration, MAX_TIMER_MS, parseDuration } from '../../../src/core/duration.js';

const ms = (text: string): number | string => {
  const parsed = parseDuration(text);
  return 'ms' in parsed ? parsed.ms : parsed.problem;
};

/** Go's grammar for durations as one regular expression: the oracle of the property below. */
const GO_SYNTAX = /^[+-]?(0|((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

describe('durations parse as Go time.ParseDuration does (Istio reads them so)', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['-0', 0],
    ['+0', 0],
    ['0s', 0],
    ['5s', 5000],
    ['+5s', 5000],
    ['-5s', -5000],
    ['1.5s', 1500],
    ['5.s', 5000],
    ['.5s', 500],
    ['1.004s', 1004],
    ['100.00100s', 100_001],
    ['10ns', 0.00001],
    ['11us', 0.011],
    ['12µs', 0.012],
    ['12μs', 0.012],
    ['13ms', 13],
    ['15m', 900_000],
    ['16h', 57_600_000],
    ['1h1m', 3_660_000],
    ['1m30s', 90_000],
    ['3h30m', 12_600_000],
    ['10.5s4m', 250_500],
    ['-2m3.4s', -123_400],
    ['1h2m3s4ms5us6ns', 3_723_004.005006],
    ['1s1s', 2000],
    ['0.3333333333333333333h', 1_199_999.999999],
    ['9223372036854775807ns', 9_223_372_036_854.775],
  ])('%s is %d ms', (text, expected) => {
    expect(ms(text)).toBeCloseTo(expected, 6);
  });

  it.each(['', '3', '-', '+', 's', '.', '-.', '.s', '+.s', '1d', '1.5 s', ' 1s', '1s ', '1sec', '1S', '1e3s', '1_000s', '9223372036854775808ns', '106751991167h', '--1s', '1s-1s'])(
    '%j is refused',
    (text) => {
      expect(typeof ms(text)).toBe('string');
    },
  );

  it('accepts exactly the texts Go’s grammar accepts, and never throws (property)', () => {
    const part = fc.oneof(
      fc.stringMatching(/^\d{0,4}(\.\d{0,3})?$/),
      fc.constantFrom('ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h', 'd', ' ', '.', '-', '+', '0', 'x'),
    );
    fc.assert(
      fc.property(fc.array(part, { maxLength: 8 }).map((parts) => parts.join('')), (text) => {
        const result = parseDuration(text);
        if (!GO_SYNTAX.test(text)) expect(result).toHaveProperty('problem');
        // Within the grammar, only a total beyond Go's int64 nanoseconds is refused.
        else if ('problem' in result) expect(result.problem).toBe('longer than Go allows (about 292 years)');
      }),
      { numRuns: 2000 },
    );
  });

  it('a sum of parts in any order is the sum of their lengths (property)', () => {
    // Nanoseconds per unit, exact.
    const units: Array<[string, bigint]> = [['h', 3_600_000_000_000n], ['m', 60_000_000_000n], ['s', 1_000_000_000n], ['ms', 1_000_000n], ['us', 1000n], ['ns', 1n]];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom(...units)), { minLength: 1, maxLength: 6 }), (parts) => {
        const text = parts.map(([n, [unit]]) => `${n}${unit}`).join('');
        const ns = parts.reduce((sum, [n, [, factor]]) => sum + BigInt(n) * factor, 0n);
        const parsed = ms(text) as number;
        // Whole milliseconds exactly; the rest as closely as a double holds it.
        expect(Math.floor(parsed)).toBe(Number(ns / 1_000_000n));
        expect(Math.abs(parsed - Number(ns) / 1e6)).toBeLessThanOrEqual(Math.max(1e-9, parsed * 1e-15));
      }),
    );
  });

  it('formatDuration writes what parseDuration reads back (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_TIMER_MS * 1000 }), (micros) => {
        const value = micros / 1000;
        expect(ms(formatDuration(value))).toBeCloseTo(value, 6);
      }),
    );
    expect(formatDuration(MAX_TIMER_MS)).toBe('596h31m23.647s');
    expect(formatDuration(1.5)).toBe('1.5ms');
    expect(formatDuration(3_600_000)).toBe('1h0m0s');
  });
});

describe('duration fields are bounded', () => {
  const problems = (schema: ReturnType<typeof durationField>, text: unknown): string[] => {
    const result = schema.safeParse(text);
    return result.success ? [] : result.error.issues.map((i) => i.message);
  };

  it('by default from 0 to Node’s timer limit, naming the bound and why', () => {
    const field = durationField();
    expect(problems(field, '596h31m23.647s')).toEqual([]);
    expect(problems(field, '596h31m23.648s')).toEqual([
      'a duration of at most 596h31m23.647s (2^31-1 ms, the longest timer Node.js runs: a longer one would fire at once)',
    ]);
    expect(problems(field, '-1s')).toEqual(['a duration of at least 0s']);
    expect(problems(field, '1 s')).toEqual(['a duration such as "10s" or "100ms"']);
    expect(problems(field, 5)).toEqual(['a duration such as "10s" or "100ms"']);
  });

  it('a duration past Go’s limit (about 292 years) is refused by the bound, not as bad syntax', () => {
    const field = durationField();
    const atMost = 'a duration of at most 596h31m23.647s (2^31-1 ms, the longest timer Node.js runs: a longer one would fire at once)';
    expect(problems(field, '9999999h')).toEqual([atMost]);
    expect(problems(field, '1'.repeat(40) + 's')).toEqual([atMost]);
    expect(problems(field, '-9999999h')).toEqual(['a duration of at least 0s']);
    expect(problems(durationField({ max: Infinity }), '9999999h')).toEqual(['a duration of at most 2562047h47m16.854775807s (the longest Go allows)']);
  });

  // Regression: `timeout: 600h` passed validation, then Node clamped the timer to 1 ms and
  // every request on the route failed at once.
  it.each<[string, string, string]>([
    ['route timeout', 'spec.http[0].timeout', 'timeout: 600h'],
    ['per-try timeout', 'spec.http[0].retries.perTryTimeout', 'retries: { attempts: 2, perTryTimeout: 600h }'],
    ['fault delay', 'spec.http[0].fault.delay.fixedDelay', 'fault: { delay: { fixedDelay: 600h, percentage: { value: 1 } } }'],
  ])('a VirtualService %s of 600h is refused at load', (_name, field, yaml) => {
    const config = `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  hosts: [r]\n  http:\n  - ${yaml}\n    route: [{ destination: { host: r } }]\n`;
    expect(() => createMesh({ config })).toThrow(InvalidConfigError);
    try {
      createMesh({ config });
    } catch (error) {
      expect((error as InvalidConfigError).problems).toEqual([
        `VirtualService/r (config[0]#1): ${field}: "600h" (expected: a duration of at most 596h31m23.647s (2^31-1 ms, the longest timer Node.js runs: a longer one would fire at once))`,
      ]);
    }
  });

  it('an outlier interval above 24.8 days (a 1 ms interval under Node) and below 1 ms are refused', () => {
    const rule = (interval: string) => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'r' },
      spec: { host: 'r', trafficPolicy: { outlierDetection: { interval } } },
    });
    const problemsOf = (interval: string): readonly string[] => {
      try {
        void createMesh({ config: [rule(interval)] }).close();
        return [];
      } catch (error) {
        return (error as InvalidConfigError).problems;
      }
    };
    expect(problemsOf('600h')[0]).toContain('spec.trafficPolicy.outlierDetection.interval: "600h" (expected: a duration of at most 596h31m23.647s');
    expect(problemsOf('0.5ms')[0]).toContain('spec.trafficPolicy.outlierDetection.interval: "0.5ms" (expected: a duration of at least 1ms (Istio\'s minimum))');
    expect(problemsOf('1m30s')).toEqual([]);
  });

  it('the retry budget ttl is bounded to 1s..60s (Finagle’s bounds), with the reason', () => {
    const rule = (ttl: string) => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'r', annotations: { 'proxyless.dev/retry-budget': JSON.stringify({ ttl }) } },
      spec: { host: 'r' },
    });
    expect(() => createMesh({ config: [rule('600h')] })).toThrow(
      'metadata.annotations["proxyless.dev/retry-budget"].ttl: "600h" (expected: a duration of at most 1m0s (longer lets a retry storm build up for minutes))',
    );
    expect(() => createMesh({ config: [rule('500ms')] })).toThrow('(expected: a duration of at least 1s');
    void createMesh({ config: [rule('1m')] }).close();
  });

  it('compound durations load where a single unit did (1h1m, 1m30s)', async () => {
    const mesh = createMesh({
      config: `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  hosts: [r]\n  http:\n  - timeout: 1m30s\n    retries: { attempts: 1, perTryTimeout: 1h1m }\n    route: [{ destination: { host: r } }]\n`,
    });
    const explained = await mesh.explain('http://r/');
    expect(explained.policies).toContain('timeout 90000 ms over all tries');
    await mesh.close();
  });
});
