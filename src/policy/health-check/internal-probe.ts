/**
 * One probe of one endpoint: the check run under a deadline, its answer read as a pass
 * or a failure with a short description, settled exactly once. What runs the check (the
 * HTTP request of `internal-health-http-check.ts`, or the user's function) and when the
 * next probe runs are not its concern.
 *
 * @module
 */
import { formatValue } from '../../core/validate.js';
import type { HealthCheckFailureType, HealthCheckFunction, HealthCheckResult, HealthCheckTimers } from './types.js';

/** The longest `detail` of a check's answer kept (it goes to events, channels and the admin pages). */
const MAX_DETAIL = 1024;

/** A probe in flight. */
export interface Probe {
  /** Aborts the check with `reason` and drops its result: `done` is not called after this. */
  stop(reason: Error): void;
}

/**
 * Starts `check` on `endpoint` and calls `done` once with its verdict: its own answer
 * (a failure of type `ACTIVE`), a failure when it rejects or throws (`NETWORK`), or a
 * failure `timed out after <timeoutMs> ms` (`NETWORK_TIMEOUT`; the check's signal aborted)
 * when it has not answered by then. `failure` is undefined when the check passed.
 *
 * @param name names the probe in the abort reason, e.g. `10.0.0.1:80 (reviews)`
 */
export function startProbe<E>(
  check: HealthCheckFunction<E>,
  endpoint: E,
  timeoutMs: number,
  timers: HealthCheckTimers,
  name: string,
  done: (healthy: boolean, detail: string, failure: HealthCheckFailureType | undefined) => void,
): Probe {
  const controller = new AbortController();
  let settled = false;
  let deadline: unknown;
  const finish = (healthy: boolean, detail: string, failure: HealthCheckFailureType): void => {
    if (settled) return;
    settled = true;
    timers.clearTimeout(deadline);
    done(healthy, detail, healthy ? undefined : failure);
  };
  deadline = timers.setTimeout(() => {
    const detail = `timed out after ${timeoutMs} ms`;
    controller.abort(new Error(`health check of ${name} ${detail}`));
    finish(false, detail, 'NETWORK_TIMEOUT');
  }, timeoutMs);
  let pending: Promise<boolean | HealthCheckResult>;
  try {
    pending = Promise.resolve(check(endpoint, controller.signal));
  } catch (error) {
    pending = Promise.reject(error as Error);
  }
  pending.then(
    (result: unknown) => {
      if (typeof result === 'boolean') finish(result, result ? 'passed' : 'failed', 'ACTIVE');
      // A check written in JavaScript may answer anything: reading `healthy` of undefined
      // would throw here, an unhandled rejection, and the probe would never settle.
      else if (result === null || typeof result !== 'object') finish(false, `the check answered ${formatValue(result)} (expected: true, false or { healthy, detail })`, 'ACTIVE');
      else {
        const { healthy, detail } = result as HealthCheckResult;
        finish(healthy === true, typeof detail === 'string' ? detail.slice(0, MAX_DETAIL) : healthy === true ? 'passed' : 'failed', 'ACTIVE');
      }
    },
    (error: unknown) => finish(false, describeError(error), 'NETWORK'),
  );
  return {
    stop(reason) {
      if (settled) return;
      settled = true;
      timers.clearTimeout(deadline);
      controller.abort(reason);
    },
  };
}

/** An error in a few words: its code and message (or the messages of an AggregateError's errors). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message || (error instanceof AggregateError ? error.errors.map((e: unknown) => describeError(e)).join('; ') : '');
    if (message) return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
    return typeof code === 'string' ? code : error.name;
  }
  return String(error);
}
