import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/core/errors/index.js';
import { annotationValue, ANNOTATIONS, hedgingSettings, retryBudgetSettings, retryNonIdempotentRoutes } from '../../../src/config/extensions.js';
import { MAX_ANNOTATION_BYTES, parseAnnotationJson } from '../../../src/config/annotation-json.js';
import { MAX_CONFIG_DEPTH } from '../../../src/config/limits.js';
import { breakerSettings, healthCheckSettings } from '../../../src/config/settings/index.js';

const WHERE = 'DestinationRule/app (config[0])';

/** Every reader of a JSON-valued annotation, each given the annotation's raw value. */
const READERS: ReadonlyArray<readonly [key: string, read: (raw: unknown) => unknown]> = [
  [ANNOTATIONS.circuitBreaker, (raw) => breakerSettings(raw, WHERE)],
  [ANNOTATIONS.healthCheck, (raw) => healthCheckSettings(raw, WHERE)],
  [ANNOTATIONS.retryBudget, (raw) => retryBudgetSettings({ [ANNOTATIONS.retryBudget]: raw }, WHERE)],
  [ANNOTATIONS.hedging, (raw) => hedgingSettings({ [ANNOTATIONS.hedging]: raw }, WHERE)],
  [ANNOTATIONS.retryNonIdempotent, (raw) => retryNonIdempotentRoutes({ [ANNOTATIONS.retryNonIdempotent]: raw }, WHERE)],
];

/**
 * Reads `raw` with `read`: either a value, or an InvalidConfigError whose every line
 * names where and the annotation's key and stays short enough to read; any other
 * exception (a RangeError from recursion, a TypeError) fails the test.
 */
function outcome(key: string, read: (raw: unknown) => unknown, raw: unknown): 'accepted' | readonly string[] {
  try {
    read(raw);
    return 'accepted';
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    expect(error.problems.length).toBeGreaterThan(0);
    for (const line of error.problems) {
      expect(line.startsWith(`${WHERE}: metadata.annotations["${key}"]`), line).toBe(true);
      // The value and any field name are cut to 80 characters, whatever their size.
      expect(line.length, line.slice(0, 300)).toBeLessThan(1000);
    }
    return error.problems;
  }
}

/** Keys that would reach Object.prototype through a careless merge or `obj[key] = ...`. */
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];
const hostileKey = fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 12 }), fc.string({ minLength: 1200, maxLength: 1600 }));
const hostileJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1e308, 'x', '10s', '-1s', '9999999999999h', ''),
    fc.double(),
    fc.string({ maxLength: 20 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 5 }),
  ),
})).value;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

afterEach(() => {
  // Nothing above may have written to Object.prototype.
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
});

describe('the one annotation-JSON parser, under hostile input', () => {
  it('any JSON value, as text or as an object, gives settings or an InvalidConfigError naming where and the key (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...READERS), hostileJson, fc.boolean(), ([key, read], value, asText) => {
        outcome(key, read, asText ? JSON.stringify(value) : value);
      }),
      { numRuns: 300 },
    );
  });

  it('any text gives settings or an InvalidConfigError naming where and the key (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...READERS), fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json()), ([key, read], text) => {
        outcome(key, read, text);
      }),
      { numRuns: 300 },
    );
  });

  it('nesting past the config limit is refused before a schema recurses into it, as text and as an object (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...READERS),
        fc.integer({ min: MAX_CONFIG_DEPTH + 1, max: 20_000 }),
        fc.constantFrom('[', '{"a":'),
        ([key, read], depth, open) => {
          const close = open === '[' ? ']' : '}';
          const text = `${open.repeat(depth)}1${close.repeat(depth)}`;
          const lines = outcome(key, read, text);
          expect(lines).not.toBe('accepted');
          expect(lines[0]).toContain(`nested more than ${MAX_CONFIG_DEPTH} levels`);
          expect(outcome(key, read, JSON.parse(text))).toEqual(lines);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('text over the size limit is refused before it is parsed, naming the limit and the size, the value cut short', () => {
    // Valid JSON: were it parsed, the unknown field would be the complaint instead.
    const huge = JSON.stringify({ padding: 'x'.repeat(MAX_ANNOTATION_BYTES) });
    for (const [key, read] of READERS) {
      const lines = outcome(key, read, huge);
      expect(lines).toEqual([
        `${WHERE}: metadata.annotations["${key}"]: ${JSON.stringify(huge).slice(0, 77)}... (expected: at most ${MAX_ANNOTATION_BYTES} bytes of JSON, what Kubernetes allows for all of an object's annotations; this value has ${huge.length})`,
      ]);
    }
    // The bound counts UTF-8 bytes, not UTF-16 units: 100,000 three-byte characters are over it.
    expect(() => parseAnnotationJson(JSON.stringify('€'.repeat(100_000)), 'k', WHERE)).toThrow(/this value has 300002\)$/);
    // Just under the bound is parsed.
    expect(parseAnnotationJson(JSON.stringify('x'.repeat(MAX_ANNOTATION_BYTES - 2)), 'k', WHERE)).toHaveLength(MAX_ANNOTATION_BYTES - 2);
  });

  it('__proto__, constructor and prototype keys are refused as unknown fields and reach no prototype', () => {
    for (const [key, read] of READERS) {
      for (const proto of PROTO_KEYS) {
        const lines = outcome(key, read, `{"${proto}": {"polluted": true}}`);
        // (hedging also says its value lacks both delay and percentile)
        expect(lines[0]).toMatch(new RegExp(`^${escape(`${WHERE}: metadata.annotations["${key}"].${proto}: unknown field (expected one of: `)}`));
      }
    }
    // The annotations object itself: a key inherited from the prototype is not an annotation.
    expect(annotationValue(Object.create({ [ANNOTATIONS.hedging]: '{"delay": "1s"}' }), ANNOTATIONS.hedging, WHERE)).toBeUndefined();
    expect(hedgingSettings(JSON.parse(`{"__proto__": {"${ANNOTATIONS.hedging}": "{\\"delay\\": \\"1s\\"}"}}`), WHERE)).toBeUndefined();
  });

  it('wrong types name the field, the value and what was expected', () => {
    expect(outcome(ANNOTATIONS.circuitBreaker, READERS[0]![1], '{"volumeThreshold": "20"}')).toEqual([
      `${WHERE}: metadata.annotations["proxyless.dev/circuit-breaker"].volumeThreshold: "20" (expected: an integer >= 0 (requests in the window before the breaker may open))`,
    ]);
    expect(outcome(ANNOTATIONS.retryBudget, READERS[2]![1], '"20%"')).toEqual([`${WHERE}: metadata.annotations["proxyless.dev/retry-budget"]: "20%" (expected: an object)`]);
    expect(outcome(ANNOTATIONS.hedging, READERS[3]![1], '{"delay": 5}')).toEqual([
      `${WHERE}: metadata.annotations["proxyless.dev/hedging"].delay: 5 (expected: a duration such as "10s" or "100ms")`,
    ]);
    expect(outcome(ANNOTATIONS.healthCheck, READERS[1]![1], '{"delay": 5,}')[0]).toMatch(
      /^DestinationRule\/app \(config\[0\]\): metadata\.annotations\["proxyless\.dev\/health-check"\]: "\{\\"delay\\": 5,\}" \(expected: a JSON object such as \{"path": "\/healthz", "interval": "10s"\}; .+\)$/,
    );
  });
});
