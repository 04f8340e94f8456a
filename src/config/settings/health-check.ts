/**
 * Active health check settings as written: the JSON of the DestinationRule annotation
 * {@link HEALTH_CHECK_ANNOTATION} (or a typed {@link HealthCheckSpec} in code), validated
 * into the health checker's {@link HealthCheckSettings}.
 *
 * @module
 */
import * as z from 'zod';
import { MAX_MS, type HealthCheckSettings, type StatusRange } from '../../policy/health-check/settings.js';
import { durationField, durationToMs } from '../../core/duration.js';
import { checkAnnotation, type AnnotationSchema } from '../annotation-json.js';

/** The DestinationRule annotation that enables active health checks; its value is JSON ({@link HealthCheckSpec}). */
export const HEALTH_CHECK_ANNOTATION = 'proxyless.dev/health-check';

/**
 * Health check settings as written (the annotation's JSON, or a typed object in code).
 * Every field is optional. Envoy requires `interval`, `timeout` and both thresholds and
 * has no defaults for them; ours are below, each beside what Envoy does.
 */
export interface HealthCheckSpec {
  /**
   * Path requested, starting with `/` (a query string is allowed). Default `"/healthz"`.
   * Envoy: `http_health_check.path`, required.
   */
  path?: string;
  /**
   * Time between the end of one check and the start of the next, as an Istio duration
   * (`"10s"`, `"500ms"`), 1 ms to 24 h. Default `"10s"`. Envoy: `interval`, required;
   * its `unhealthy_interval` and edge intervals are not offered (they equal `interval`,
   * as in Envoy when unset).
   */
  interval?: string;
  /**
   * Random extra wait added to each interval, as a fraction of `interval` (0 to 1): each
   * wait is `interval × (1 + U·jitter)` with `U` uniform in [0, 1). A new endpoint's
   * first check runs after `interval × U·jitter`, so endpoints added together are not
   * checked in one burst. Default `0.1`. Envoy: `interval_jitter_percent` (as a percent,
   * default 0) for the added wait, `initial_jitter` (default 0) for the first check.
   */
  jitter?: number;
  /**
   * Time allowed for the whole check (connect, response headers and body); past it the
   * check is aborted and counts as a failure. 1 ms to 24 h. Default `"1s"`. Envoy:
   * `timeout`, required.
   */
  timeout?: string;
  /**
   * Consecutive passing checks that mark an unhealthy endpoint healthy again. Integer
   * ≥ 1. Default `2`. Envoy: `healthy_threshold`, required.
   */
  healthyThreshold?: number;
  /**
   * Consecutive failing checks (unexpected status, timeout, connection error) that mark
   * a healthy endpoint unhealthy. Integer ≥ 1. Default `3`. Envoy:
   * `unhealthy_threshold`, required. Unlike Envoy, every failure counts toward the
   * threshold: Envoy marks an endpoint unhealthy at once on a status outside both
   * `expected_statuses` and `retriable_statuses`, and counts only timeouts, connection
   * errors and retriable statuses.
   */
  unhealthyThreshold?: number;
  /**
   * Statuses that pass. Each entry is a code (`204`), an inclusive range string
   * (`"200-399"`), or Envoy's half-open `{ "start": 200, "end": 400 }`; codes 100 to 599.
   * Default 200 to 399 (`[{ start: 200, end: 400 }]`, the rule Kubernetes HTTP probes
   * use; redirects are not followed). Envoy: `expected_statuses`, default 200 only.
   */
  expectedStatuses?: Array<number | string | StatusRange>;
  /** `GET` or `HEAD`. Default `"GET"`. Envoy: `http_health_check.method`, default GET. */
  method?: 'GET' | 'HEAD';
  /**
   * Host header sent. Default: the service's logical host (the name callers use, as
   * given to {@link HealthChecker}). Envoy: `http_health_check.host`, default the
   * cluster's name.
   */
  host?: string;
}

const durationMs = (example: string) =>
  durationField({ min: 1, max: MAX_MS, expected: `a duration from 1ms to 24h such as "${example}"` }).transform(durationToMs);

const threshold = (example: number) => {
  const error = `a whole number >= 1, such as ${example}`;
  return z.number({ error }).int({ error }).min(1, { error });
};

const STATUS_WORDS =
  'a status code such as 204, an inclusive range such as "200-399", or a half-open range such as {"start": 200, "end": 400}, with codes from 100 to 599';

/** One `expectedStatuses` entry, in any of its three spellings, as a half-open range. */
const statusEntry = z.unknown().transform((value, ctx): StatusRange => {
  const range = readStatusEntry(value);
  if (range) return range;
  ctx.issues.push({ code: 'custom', message: STATUS_WORDS, input: value });
  return z.NEVER;
});

function readStatusEntry(value: unknown): StatusRange | undefined {
  const code = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 100 && n <= 599;
  if (code(value)) return { start: value, end: value + 1 };
  if (typeof value === 'string') {
    const match = /^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$/.exec(value);
    if (!match) return undefined;
    const start = Number(match[1]);
    const last = match[2] === undefined ? start : Number(match[2]);
    return code(start) && code(last) && start <= last ? { start, end: last + 1 } : undefined;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const { start, end } = value as { start?: unknown; end?: unknown };
    if (keys.length !== 2 || !code(start) || typeof end !== 'number' || !Number.isInteger(end) || end > 600 || end <= start) return undefined;
    return { start, end };
  }
  return undefined;
}

/** The health-check annotation's JSON, validated into health check settings (the input type of `HealthCheckOptions`). 
 * @hidden
 */
export const healthCheckAnnotationSchema = z
  .strictObject(
    {
      path: z
        .string({ error: 'a path starting with "/", such as "/healthz"' })
        .regex(/^\/[\x21-\x7e]*$/, { error: 'a path starting with "/" without spaces, such as "/healthz"' })
        .default('/healthz'),
      interval: durationMs('10s').default(10_000),
      jitter: z
        .number({ error: 'a fraction of interval from 0 to 1, such as 0.1' })
        .min(0, { error: 'a fraction of interval from 0 to 1, such as 0.1' })
        .max(1, { error: 'a fraction of interval from 0 to 1, such as 0.1' })
        .default(0.1),
      timeout: durationMs('1s').default(1000),
      healthyThreshold: threshold(2).default(2),
      unhealthyThreshold: threshold(3).default(3),
      expectedStatuses: z
        .array(statusEntry, { error: 'a list of status codes and ranges, such as [200, "300-399"]' })
        .min(1, { error: 'at least one status code or range, such as [200]' })
        .default([{ start: 200, end: 400 }]),
      method: z.enum(['GET', 'HEAD']).default('GET'),
      host: z
        .string({ error: 'a Host header value such as "reviews" or "reviews.default.svc.cluster.local:9080"' })
        .regex(/^[\x21-\x7e]+$/, { error: 'a Host header value without spaces, such as "reviews" or "reviews.default.svc.cluster.local:9080"' })
        .optional(),
    },
    { error: 'a JSON object of health check settings, such as {"path": "/healthz", "interval": "10s"}' },
  )
  .transform(
    (s): HealthCheckSettings => ({
      path: s.path,
      intervalMs: s.interval,
      jitter: s.jitter,
      timeoutMs: s.timeout,
      healthyThreshold: s.healthyThreshold,
      unhealthyThreshold: s.unhealthyThreshold,
      expectedStatuses: s.expectedStatuses,
      method: s.method,
      host: s.host,
    }),
  );

const HEALTH_CHECK: AnnotationSchema<HealthCheckSettings> = {
  key: HEALTH_CHECK_ANNOTATION,
  schema: healthCheckAnnotationSchema,
  example: '{"path": "/healthz", "interval": "10s"}',
  fields: Object.keys(healthCheckAnnotationSchema.in.shape),
};

/**
 * Validates health check settings and fills in the defaults (see {@link HealthCheckSpec}).
 *
 * @param spec the annotation's value: a JSON string, or the object it parses to
 * @param where who holds the settings, starting every problem line, e.g. `DestinationRule/reviews (config[0])`
 * @throws InvalidConfigError with one line per problem:
 *   `where: metadata.annotations["proxyless.dev/health-check"].field: value (expected: ...)`
 */
export function healthCheckSettings(spec: unknown, where: string): HealthCheckSettings {
  return checkAnnotation(spec, HEALTH_CHECK, where);
}
