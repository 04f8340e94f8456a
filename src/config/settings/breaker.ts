/**
 * The circuit breaker's settings as written: the JSON of the DestinationRule annotation
 * {@link CIRCUIT_BREAKER_ANNOTATION}, validated into the breaker's {@link BreakerSettings}.
 *
 * @module
 */
import * as z from 'zod';
import {
  DEFAULT_BREAKER_SETTINGS,
  failOnItemSchema,
  BUCKETS,
  FAIL_ON_ITEM,
  PERCENT,
  SUCCESSES,
  VOLUME,
  type BreakerSettings,
} from '../../policy/breaker/settings.js';
import { durationField, durationToMs } from '../../core/duration.js';
import { checkAnnotation, type AnnotationSchema } from '../annotation-json.js';

/** The DestinationRule annotation that holds a service's breaker settings, as JSON. */
export const CIRCUIT_BREAKER_ANNOTATION = 'proxyless.dev/circuit-breaker';

/** A timer's duration: 1 ms to Node's timer limit (about 24.8 days). */
const timer = durationField({ min: 1 });

/** The breaker annotation's JSON fields, before the checks across fields (the input type of `CircuitBreakerOptions`). 
 * @hidden
 */
export const breakerAnnotationObject = z.strictObject({
  errorThresholdPercentage: z.number({ error: PERCENT }).min(0, { error: PERCENT }).lt(100, { error: PERCENT }).default(50),
  volumeThreshold: z.int({ error: VOLUME }).min(0, { error: VOLUME }).max(1_000_000_000, { error: VOLUME }).default(20),
  rollingWindow: timer.default('10s'),
  rollingBuckets: z.int({ error: BUCKETS }).min(1, { error: BUCKETS }).max(1000, { error: BUCKETS }).default(10),
  resetTimeout: timer.default('30s'),
  halfOpenSuccesses: z.int({ error: SUCCESSES }).min(1, { error: SUCCESSES }).max(1000, { error: SUCCESSES }).default(1),
  failOn: z
    .array(failOnItemSchema, { error: `a list of ${FAIL_ON_ITEM}` })
    .min(1, { error: 'at least one condition (to turn the breaker off, remove the annotation)' })
    .default(['5xx', 'connect-failure', 'reset']),
});

const specSchema = breakerAnnotationObject
  .superRefine((spec, ctx) => {
    const windowMs = durationToMs(spec.rollingWindow);
    if (!Number.isInteger(windowMs / spec.rollingBuckets)) {
      ctx.addIssue({
        code: 'custom',
        path: ['rollingBuckets'],
        input: spec.rollingBuckets,
        message: `a count that divides rollingWindow ${JSON.stringify(spec.rollingWindow)} (${windowMs} ms) into buckets of whole milliseconds`,
      });
    }
  })
  .transform(
    (s): BreakerSettings =>
      Object.freeze({
        errorThresholdPercentage: s.errorThresholdPercentage,
        volumeThreshold: s.volumeThreshold,
        rollingWindowMs: durationToMs(s.rollingWindow),
        rollingBuckets: s.rollingBuckets,
        resetTimeoutMs: durationToMs(s.resetTimeout),
        halfOpenSuccesses: s.halfOpenSuccesses,
        failOn: Object.freeze([...new Set(s.failOn)]),
      }),
  );

const BREAKER: AnnotationSchema<BreakerSettings> = {
  key: CIRCUIT_BREAKER_ANNOTATION,
  schema: specSchema,
  example: '{"volumeThreshold": 20, "resetTimeout": "30s"}',
  fields: Object.keys(breakerAnnotationObject.shape),
};

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
 * @param where who holds the settings, starting every problem line, e.g. `DestinationRule/reviews (config[0])`
 * @throws `InvalidConfigError` listing every problem as
 *   `where: metadata.annotations["proxyless.dev/circuit-breaker"].field: value (expected: ...)`
 */
export function breakerSettings(spec: unknown, where: string): BreakerSettings {
  return spec === undefined ? DEFAULT_BREAKER_SETTINGS : checkAnnotation(spec, BREAKER, where);
}
