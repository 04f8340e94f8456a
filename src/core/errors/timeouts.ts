/**
 * Errors of a call's time: the route timeout, a try's per-try timeout, and the deadline
 * of the request being served.
 *
 * @module
 */
import { ProxylessError } from './base.js';

/**
 * The route's timeout (VirtualService `timeout`) ran out: the call, retries included,
 * is over (Envoy answers 504 and does not retry it).
 */
export class RouteTimeoutError extends ProxylessError {
  /** The HTTP status a sidecar would answer with. */
  declare readonly statusCode: 504;
  /** The destination service. */
  declare readonly service: string;

  /** @param service the destination; @param ms the timeout; @param where the route that set it */
  constructor(service: string, ms: number, where: string) {
    super(
      'PROXYLESS_ERR_TIMEOUT',
      `the call to service "${service}" took longer than its route timeout of ${ms} ms (${where}), retries included; ` +
        `it was cancelled and not retried. Raise the VirtualService route's timeout, or look at why the service is slow.`,
      { service, statusCode: 504 },
    );
  }
}

/**
 * The deadline of the request being served (from `withDeadline`, or the caller's
 * `x-envoy-expected-rq-timeout-ms`) left a call no time, or ran out during it. The
 * message says which, in the call's terms: not made at all, ran out while a try waited
 * for an endpoint or a connection (that try was not sent), while waiting to retry, or
 * while a try was in flight (the service may have done the work).
 */
export class DeadlineExceededError extends ProxylessError {
  /** The HTTP status a sidecar would answer with. */
  declare readonly statusCode: 504;
  /** The destination service. */
  declare readonly service: string;
  /**
   * Where the call was when the deadline ran out: `before` (it had passed already: the
   * call was not made), `waiting` (a try waited for an endpoint or a connection),
   * `backoff` (waiting to retry), `try` (a try was in flight).
   */
  readonly stage: 'before' | 'waiting' | 'backoff' | 'try';
  /** The time the deadline left the call when it started, in whole ms (0 for `before`). */
  readonly budgetMs: number;

  /**
   * @param service the destination
   * @param stage where the call was (see {@link DeadlineExceededError.stage})
   * @param ms for `before`, how long ago the deadline passed; otherwise the call's budget
   * @param attempt the try in force (or, in `backoff`, the last one sent)
   */
  constructor(service: string, stage: 'before' | 'waiting' | 'backoff' | 'try', ms: number, attempt = 1) {
    super('PROXYLESS_ERR_DEADLINE_EXCEEDED', deadlineMessage(service, stage, Math.round(ms), attempt), { service, statusCode: 504 });
    this.stage = stage;
    this.budgetMs = stage === 'before' ? 0 : Math.round(ms);
  }
}

function deadlineMessage(service: string, stage: DeadlineExceededError['stage'], ms: number, attempt: number): string {
  const source = " (set by withDeadline or the caller's x-envoy-expected-rq-timeout-ms). ";
  const advice = 'Give the incoming request more time or do less before this call.';
  if (stage === 'before') {
    return `the call to service "${service}" was not made: the deadline of the request being handled had passed ${ms} ms before it, leaving it no time${source}${advice}`;
  }
  const ranOut = `the call to service "${service}" had ${ms} ms left of the deadline of the request being handled, and they ran out`;
  if (stage === 'waiting') {
    const before = attempt === 2 ? ' (1 try was sent before it)' : attempt > 2 ? ` (${attempt - 1} tries were sent before it)` : '';
    return `${ranOut} while try ${attempt} waited for an endpoint or a connection; that try was not sent${before}${source}${advice}`;
  }
  if (stage === 'backoff') {
    return `${ranOut} while it waited to retry after try ${attempt}; no try was in flight${source}${advice}`;
  }
  return `${ranOut} while try ${attempt} was in flight to an endpoint; the try was cancelled, and the service may have done the work${source}${advice} Or look at why the service is slow.`;
}

/** One try exceeded the route's `perTryTimeout`. */
export class PerTryTimeoutError extends ProxylessError {
  /** 504, as Envoy answers a try that timed out (`UT`) when no retry is left. */
  declare readonly statusCode: 504;
  /** The destination service. */
  declare readonly service: string;

  /** @param service the destination; @param ms the route's perTryTimeout */
  constructor(service: string, ms: number) {
    super(
      'PROXYLESS_ERR_PER_TRY_TIMEOUT',
      `a try to service "${service}" got no response within perTryTimeout ${ms} ms (it is retried when the route's retryOn ` +
        'names reset, 5xx or gateway-error and retries are left). Raise the VirtualService route\'s retries.perTryTimeout, or look at why the service is slow.',
      { service, statusCode: 504 },
    );
  }
}
