/**
 * Health check settings: their validated type and defaults. The DestinationRule
 * annotation's JSON ({@link HealthCheckSpec}) is parsed into them by
 * `src/config/settings/health-check.ts`.
 *
 * @module
 */
import type { StatusRange } from './internal-health-http-check.js';

export type { StatusRange } from './internal-health-http-check.js';

/** Validated health check settings, durations in milliseconds (see {@link HealthCheckSpec} for each field). */
export interface HealthCheckSettings {
  /** Path requested, starting with `/`. */
  readonly path: string;
  /** Wait between checks of one endpoint, in ms (before jitter). */
  readonly intervalMs: number;
  /** Jitter as a fraction of the interval, 0..1. */
  readonly jitter: number;
  /** Time allowed for one check, in ms. */
  readonly timeoutMs: number;
  /** Consecutive passes that mark an unhealthy endpoint healthy. */
  readonly healthyThreshold: number;
  /** Consecutive failures that mark a healthy endpoint unhealthy. */
  readonly unhealthyThreshold: number;
  /** Passing statuses, as half-open ranges. */
  readonly expectedStatuses: readonly StatusRange[];
  /** Request method. */
  readonly method: 'GET' | 'HEAD';
  /** Host header; undefined means the service's logical host. */
  readonly host: string | undefined;
}

/** 24 h: keeps `interval × (1 + jitter)` far below Node's timer limit (2^31 − 1 ms). */
export const MAX_MS = 86_400_000;

/** The settings an empty spec (`{}`) gives (see `HealthCheckSpec` for each default). */
export const DEFAULT_HEALTH_CHECK_SETTINGS: HealthCheckSettings = Object.freeze({
  path: '/healthz',
  intervalMs: 10_000,
  jitter: 0.1,
  timeoutMs: 1000,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  expectedStatuses: Object.freeze([Object.freeze({ start: 200, end: 400 })]),
  method: 'GET',
  host: undefined,
});
