/**
 * The circuit breaker's settings as written: the JSON of the DestinationRule annotation
 * {@link CIRCUIT_BREAKER_ANNOTATION}, validated into the breaker's {@link BreakerSettings}.
 *
 * @module
 */
import * as z from 'zod';
import { InvalidConfigError } from '../../core/errors/index.js';
import { formatIssues, formatValue } from '../../core/validate.js';
import {
  DEFAULT_BREAKER_SETTINGS,
  failOnItemSchema,
  BUCKETS,
  FAIL_ON_ITEM,
  MAX_TIMER_MS,
  PERCENT,
  SUCCESSES,
  VOLUME,
  type BreakerSettings,
} from '../../policy/breaker/settings.js';
import { durationSchema, durationToMs } from '../istio/common.js';

/** The DestinationRule annotation that holds a service's breaker settings, as JSON. */
export const CIRCUIT_BREAKER_ANNOTATION = 'proxyless.dev/circuit-breaker';

/** The breaker annotation's JSON fields, before the checks across fields (the input type of `CircuitBreakerOptions`). 
 * @hidden
 */
export const breakerAnnotationObject = z.strictObject({
  errorThresholdPercentage: z.number({ error: PERCENT }).min(0, { error: PERCENT }).lt(100, { error: PERCENT }).default(50),
  volumeThreshold: z.int({ error: VOLUME }).min(0, { error: VOLUME }).max(1_000_000_000, { error: VOLUME }).default(20),
  rollingWindow: durationSchema.default('10s'),
  rollingBuckets: z.int({ error: BUCKETS }).min(1, { error: BUCKETS }).max(1000, { error: BUCKETS }).default(10),
  resetTimeout: durationSchema.default('30s'),
  halfOpenSuccesses: z.int({ error: SUCCESSES }).min(1, { error: SUCCESSES }).max(1000, { error: SUCCESSES }).default(1),
  failOn: z
    .array(failOnItemSchema, { error: `a list of ${FAIL_ON_ITEM}` })
    .min(1, { error: 'at least one condition (to turn the breaker off, remove the annotation)' })
    .default(['5xx', 'connect-failure', 'reset']),
});

const specSchema = breakerAnnotationObject.superRefine((spec, ctx) => {
  const windowMs = durationToMs(spec.rollingWindow);
  const resetMs = durationToMs(spec.resetTimeout);
  if (windowMs < 1 || windowMs > MAX_TIMER_MS) {
    ctx.addIssue({ code: 'custom', path: ['rollingWindow'], input: spec.rollingWindow, message: 'a duration from 1ms to 24d' });
  } else if (!Number.isInteger(windowMs / spec.rollingBuckets)) {
    ctx.addIssue({
      code: 'custom',
      path: ['rollingBuckets'],
      input: spec.rollingBuckets,
      message: `a count that divides rollingWindow ${JSON.stringify(spec.rollingWindow)} (${windowMs} ms) into buckets of whole milliseconds`,
    });
  }
  if (resetMs < 1 || resetMs > MAX_TIMER_MS) {
    ctx.addIssue({ code: 'custom', path: ['resetTimeout'], input: spec.resetTimeout, message: 'a duration from 1ms to 24d' });
  }
});

const SPEC_KEYS = Object.keys(breakerAnnotationObject.shape);

/**
 * Validates a service's circuit-breaker settings (the JSON of the DestinationRule
 * annotation {@link CIRCUIT_BREAKER_ANNOTATION}, as text or already parsed) and fills in
 * the defaults documented on {@link BreakerSettings}. `undefined` gives the defaults.
 *
 * ```json
 * { "errorThresholdPercentage": 50, "volumeThreshold": 20, "rollingWindow": "10s",
 *   "rollingBuckets": 10, "resetTimeout": "30s", "halfOpenSuccesses": 1,
 *   "failOn": ["5xx", "connect-failure", "reset"] }
 * ```
 *
 * @param spec the annotation's value: JSON text, or the parsed object
 * @param where what to name in errors, e.g. `DestinationRule/reviews: metadata.annotations["proxyless.dev/circuit-breaker"]`
 * @throws `InvalidConfigError` listing every problem as `where: field: value (expected: ...)`
 */
export function breakerSettings(spec: unknown, where: string): BreakerSettings {
  let value = spec;
  if (typeof spec === 'string') {
    try {
      value = JSON.parse(spec) as unknown;
    } catch (error) {
      throw new InvalidConfigError([
        `${where}: ${formatValue(spec)} is not JSON: ${(error as Error).message} (expected: a JSON object such as {"volumeThreshold": 20, "resetTimeout": "30s"})`,
      ]);
    }
  }
  if (value === undefined) return DEFAULT_BREAKER_SETTINGS;
  const result = specSchema.safeParse(value, { reportInput: true });
  if (!result.success) {
    const lines = formatIssues(result.error.issues, '', (path) => (path.length === 0 ? SPEC_KEYS : undefined));
    throw new InvalidConfigError(lines.map((line) => `${where}: ${line}`));
  }
  const s = result.data;
  return Object.freeze({
    errorThresholdPercentage: s.errorThresholdPercentage,
    volumeThreshold: s.volumeThreshold,
    rollingWindowMs: durationToMs(s.rollingWindow),
    rollingBuckets: s.rollingBuckets,
    resetTimeoutMs: durationToMs(s.resetTimeout),
    halfOpenSuccesses: s.halfOpenSuccesses,
    failOn: Object.freeze([...new Set(s.failOn)]),
  });
}
