/**
 * The circuit breaker's settings: their type, defaults and the check of settings built
 * in code. The DestinationRule annotation's JSON is parsed into them by
 * `src/config/settings/breaker.ts`.
 *
 * @module
 */
import * as z from 'zod';
import { MAX_TIMER_MS } from '../../core/duration.js';

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

/**
 * What counts as a failure, in {@link BreakerSettings.failOn}:
 *
 * - `5xx`: a response with status 500..599.
 * - `gateway-error`: a response with status 502, 503 or 504.
 * - `connect-failure`: no connection could be made (`ECONNREFUSED`, `EHOSTUNREACH`,
 *   `ENETUNREACH`, `EHOSTDOWN`, `ENETDOWN`, `ENOTFOUND`, `EAI_AGAIN`, a connect-time
 *   `ETIMEDOUT`, undici's connect timeout, a TLS handshake failure), or it broke before
 *   the request was written to it. These are the classifier's `connect-failure` and
 *   `reset-before-request` (see `src/core/classify-failure.ts`, shared with retries and
 *   outlier detection).
 * - `reset`: the connection broke after the request was written, before the response
 *   started (`ECONNRESET`, `EPIPE`, `ECONNABORTED`, undici's `UND_ERR_SOCKET` "other side
 *   closed", HTTP/2 stream errors including a refused stream, a malformed response).
 * - `timeout`: undici's headers or body timeout, or the mesh's route or per-try timeout
 *   (whichever layer raised it, even when it ended the request through its controller).
 *   A caller's own `AbortSignal.timeout()` is a caller abort, not this.
 * - `error`: any error before the response started, except those that never count (below).
 *
 * A status code 500..599 written as a number counts that status alone. 4xx responses
 * never count as failures: they are the caller's mistakes, not the service's health.
 * Statuses not listed count as successes; errors not listed count as neither.
 *
 * Never counted, whatever `failOn` says: a request the caller aborted (through its
 * controller or signal), a deadline that ran out before sending, the mesh closing, and
 * the mesh's own refusals (overload, an open circuit): none of them say anything about
 * the service.
 */
export type FailCondition = '5xx' | 'gateway-error' | 'connect-failure' | 'reset' | 'timeout' | 'error';

export const FAIL_CONDITIONS: readonly FailCondition[] = ['5xx', 'gateway-error', 'connect-failure', 'reset', 'timeout', 'error'];

/**
 * A service's breaker settings, validated and with every default filled in. Made by
 * {@link breakerSettings} from the annotation's JSON; the JSON field names are given
 * with each property.
 */
export interface BreakerSettings {
  /**
   * JSON `errorThresholdPercentage`, default **50**: the breaker opens when the failure
   * percentage in the rolling window exceeds this (strictly: 50 % does not open it at
   * 50). From 0 up to, not including, 100. As in opossum, the percentage is failures
   * over all requests in the window, refused ones and ones counted as neither included.
   */
  readonly errorThresholdPercentage: number;
  /**
   * JSON `volumeThreshold`, default **20**: how many requests the rolling window must
   * hold before the breaker may open at all (opossum's own default is 0).
   */
  readonly volumeThreshold: number;
  /** JSON `rollingWindow` (a duration such as `"10s"`), default **10 s**: how long outcomes count. */
  readonly rollingWindowMs: number;
  /**
   * JSON `rollingBuckets`, default **10**: the window moves in this many steps (10 s in
   * buckets of 1 s). It must divide the window into whole milliseconds.
   */
  readonly rollingBuckets: number;
  /** JSON `resetTimeout` (a duration), default **30 s**: how long the breaker stays open before it goes half-open. */
  readonly resetTimeoutMs: number;
  /**
   * JSON `halfOpenSuccesses`, default **1**: how many probe requests in a row must
   * succeed in half-open before the breaker closes. Half-open lets one probe through at
   * a time (opossum's rule); any failure reopens it. opossum itself closes on the first
   * success; {@link ServiceBreaker} counts the rest on top.
   */
  readonly halfOpenSuccesses: number;
  /**
   * JSON `failOn`, default **`["5xx", "connect-failure", "reset"]`**: which results count
   * as failures; see {@link FailCondition}. At least one.
   */
  readonly failOn: readonly (FailCondition | number)[];
}

/** The settings used when a service has the annotation with no fields set (`{}`). */
export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = Object.freeze({
  errorThresholdPercentage: 50,
  volumeThreshold: 20,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  resetTimeoutMs: 30_000,
  halfOpenSuccesses: 1,
  failOn: Object.freeze(['5xx', 'connect-failure', 'reset'] as const),
});


// The expected values named in errors, shared by the annotation's JSON and settings built in code.
export const PERCENT = 'a number from 0 up to, not including, 100 (the breaker opens when the failure percentage exceeds it)';
export const VOLUME = 'an integer >= 0 (requests in the window before the breaker may open)';
export const BUCKETS = 'an integer from 1 to 1000';
export const SUCCESSES = 'an integer from 1 to 1000 (probe successes in a row that close the breaker)';
export const FAIL_ON_ITEM = `one of ${FAIL_CONDITIONS.map((c) => JSON.stringify(c)).join(', ')} or a status code 500..599`;

/** Whether a `failOn` entry is a {@link FailCondition} or a status code 500..599. */
export function isFailOnItem(value: unknown): value is FailCondition | number {
  if (typeof value === 'string') return (FAIL_CONDITIONS as readonly string[]).includes(value);
  return Number.isInteger(value) && (value as number) >= 500 && (value as number) <= 599;
}

/** One `failOn` entry, with the expected values in its error. */
export const failOnItemSchema = z.custom<FailCondition | number>(isFailOnItem, {
  error: (issue) =>
    issue.input === '4xx' || (typeof issue.input === 'number' && issue.input >= 400 && issue.input <= 499)
      ? `${FAIL_ON_ITEM}; 4xx responses never count as failures (they are the caller's mistakes)`
      : FAIL_ON_ITEM,
});

/** The same ranges as the JSON, for settings built in code and passed to {@link ServiceBreaker}. */
export const breakerSettingsSchema = z.strictObject({
  errorThresholdPercentage: z.number({ error: PERCENT }).min(0, { error: PERCENT }).lt(100, { error: PERCENT }),
  volumeThreshold: z.int({ error: VOLUME }).min(0, { error: VOLUME }),
  rollingWindowMs: z.int({ error: 'an integer number of ms from 1 to 2^31-1' }).min(1).max(MAX_TIMER_MS),
  rollingBuckets: z.int({ error: BUCKETS }).min(1, { error: BUCKETS }).max(1000, { error: BUCKETS }),
  resetTimeoutMs: z.number({ error: 'a number of ms from 1 to 2^31-1' }).min(1).max(MAX_TIMER_MS),
  halfOpenSuccesses: z.int({ error: SUCCESSES }).min(1, { error: SUCCESSES }).max(1000, { error: SUCCESSES }),
  failOn: z.array(failOnItemSchema).min(1),
}).superRefine((s, ctx) => {
  if (!Number.isInteger(s.rollingWindowMs / s.rollingBuckets)) {
    ctx.addIssue({ code: 'custom', path: ['rollingBuckets'], input: s.rollingBuckets, message: 'a count that divides rollingWindowMs into buckets of whole milliseconds' });
  }
});
