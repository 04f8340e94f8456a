/**
 * One endpoint's checking state and the rule that moves it: thresholds of passes and
 * failures in a row, the first check deciding at once. No timers and no I/O here.
 *
 * @module
 */
import type { HealthCheckSettings } from './settings.js';
import type { EndpointHealth, HealthCheckedEndpoint, HealthCheckFailureType } from './types.js';
import type { Probe } from './internal-probe.js';

/** Per-endpoint checking state. */
export interface Tracked<E extends HealthCheckedEndpoint> {
  endpoint: E;
  healthy: boolean;
  checks: number;
  passes: number;
  failures: number;
  lastCheckedAt: number | undefined;
  lastResult: string | undefined;
  /** Why the last check failed (undefined after a pass). */
  lastFailure: HealthCheckFailureType | undefined;
  /** The timer for the next check, while waiting. */
  next: unknown;
  /** The check in flight. */
  inFlight: Probe | undefined;
  /** Set once the endpoint is removed or the checker closed: late results are dropped. */
  gone: boolean;
}

/** The state of an endpoint just added: healthy, nothing checked, nothing scheduled. */
export function newTracked<E extends HealthCheckedEndpoint>(endpoint: E): Tracked<E> {
  return {
    endpoint,
    healthy: true,
    checks: 0,
    passes: 0,
    failures: 0,
    lastCheckedAt: undefined,
    lastResult: undefined,
    lastFailure: undefined,
    next: undefined,
    inFlight: undefined,
    gone: false,
  };
}

/**
 * Counts a check's result into `tracked` and says whether `tracked.healthy` changed:
 * `healthyThreshold` passes in a row mark it healthy, `unhealthyThreshold` failures in a
 * row (or a failure of its first check) unhealthy.
 */
export function recordCheck(tracked: Tracked<HealthCheckedEndpoint>, settings: HealthCheckSettings, passed: boolean, detail: string, failure: HealthCheckFailureType | undefined, now: number): boolean {
  tracked.checks++;
  tracked.lastCheckedAt = now;
  tracked.lastResult = detail;
  tracked.lastFailure = passed ? undefined : failure;
  const first = tracked.checks === 1;
  if (passed) {
    tracked.failures = 0;
    tracked.passes++;
    if (tracked.healthy || tracked.passes < settings.healthyThreshold) return false;
    tracked.healthy = true;
    return true;
  }
  tracked.passes = 0;
  tracked.failures++;
  if (!tracked.healthy || !(first || tracked.failures >= settings.unhealthyThreshold)) return false;
  tracked.healthy = false;
  return true;
}

/** The snapshot {@link HealthChecker.status} reports for one endpoint. */
export function healthOf(t: Tracked<HealthCheckedEndpoint>): EndpointHealth {
  return {
    key: t.endpoint.key,
    healthy: t.healthy,
    checks: t.checks,
    consecutivePasses: t.passes,
    consecutiveFailures: t.failures,
    lastCheckedAt: t.lastCheckedAt,
    lastResult: t.lastResult,
  };
}
