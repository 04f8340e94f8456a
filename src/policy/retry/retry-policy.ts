import type { IncomingHttpHeaders } from 'node:http';
import type { FailureKind } from '../../core/classify-failure.js';
import { GRPC_CONDITIONS, type GrpcRetryCondition, type RetryPolicy } from './settings.js';

/** Methods safe to send twice (RFC 9110 idempotent methods). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** True for RFC 9110's idempotent methods. */
export function isIdempotent(method: string): boolean {
  // Methods nearly always arrive upper case: no string is made for them per request.
  return IDEMPOTENT.has(method) || IDEMPOTENT.has(method.toUpperCase());
}

export { isReplayable } from '../../core/replayable-body.js';

/**
 * What the retry policy says about one outcome: `retry`; `no` (the policy does not retry
 * it); or `not-idempotent` (the policy would, as Istio would, but the request may have
 * reached the application and its method is not idempotent: proxyless's one deviation).
 */
export type RetryVerdict = 'retry' | 'no' | 'not-idempotent';

function safely(policy: RetryPolicy, maySent: boolean, method: string): RetryVerdict {
  if (!maySent || policy.replayNonIdempotent || isIdempotent(method)) return 'retry';
  return 'not-idempotent';
}

/**
 * The verdict on a try that failed without a response, by the kind
 * {@link classifyFailure} gives (ignoring attempts left, budget and body). What provably
 * never reached the server (a connection failure, a reset before the request was
 * written, an HTTP/2 refused stream) is retried whatever the method; a reset or a
 * timeout after the request was written only for idempotent methods unless the route
 * opts in. A cancellation, the mesh's own refusals and unknown errors are never retried.
 *
 * | kind | retried under | methods |
 * | --- | --- | --- |
 * | `connect-failure` | `connect-failure`, `5xx`, `gateway-error` | any |
 * | `reset-before-request` | `reset-before-request`, `reset`, `connect-failure`, `5xx`, `gateway-error` | any |
 * | `refused-stream` | `refused-stream`, `5xx` | any |
 * | `reset` | `reset`, `5xx`, `gateway-error` | idempotent (or opted in) |
 * | `timeout` | `reset`, `5xx`, `gateway-error` | idempotent (or opted in) |
 */
export function failureVerdict(policy: RetryPolicy, kind: FailureKind, method: string): RetryVerdict {
  const on = policy.on;
  switch (kind) {
    case 'connect-failure':
      return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error') ? 'retry' : 'no';
    case 'reset-before-request':
      return on.has('reset-before-request') || on.has('reset') || on.has('connect-failure') || on.has('5xx') || on.has('gateway-error') ? 'retry' : 'no';
    case 'refused-stream':
      return on.has('refused-stream') || on.has('5xx') ? 'retry' : 'no';
    case 'reset':
    case 'timeout':
      return on.has('reset') || on.has('5xx') || on.has('gateway-error') ? safely(policy, true, method) : 'no';
    default:
      return 'no';
  }
}

/**
 * The verdict on a response: by its status (`5xx`, `gateway-error`, `retriable-4xx`,
 * `retriable-status-codes`), its `x-envoy-ratelimited` header (`envoy-ratelimited`) or the
 * gRPC status in its headers (`unavailable`, `cancelled`, `deadline-exceeded`,
 * `internal`, `resource-exhausted`, a trailers-only gRPC response). A response means the
 * request reached the application: only idempotent methods are replayed unless the
 * route opts in.
 */
export function statusVerdict(policy: RetryPolicy, status: number, headers: IncomingHttpHeaders | undefined, method: string): RetryVerdict {
  const on = policy.on;
  let matches =
    (on.has('5xx') && status >= 500 && status <= 599) ||
    (on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) ||
    (on.has('retriable-4xx') && status === 409) ||
    (on.has('retriable-status-codes') && policy.statusCodes.has(status)) ||
    (on.has('envoy-ratelimited') && headers?.['x-envoy-ratelimited'] !== undefined);
  if (!matches && headers !== undefined) {
    const grpc = headers['grpc-status'];
    if (grpc !== undefined) {
      for (const condition of Object.keys(GRPC_CONDITIONS) as GrpcRetryCondition[]) {
        if (on.has(condition) && grpc === GRPC_CONDITIONS[condition]) matches = true;
      }
    }
  }
  return matches ? safely(policy, true, method) : 'no';
}

/** True when {@link failureVerdict} says `retry`. */
export function retriableFailure(policy: RetryPolicy, kind: FailureKind, method: string): boolean {
  return failureVerdict(policy, kind, method) === 'retry';
}

/** True when {@link statusVerdict} says `retry` (headers unknown: no gRPC or rate-limit conditions). */
export function retriableStatus(policy: RetryPolicy, status: number, method: string, headers?: IncomingHttpHeaders): boolean {
  return statusVerdict(policy, status, headers, method) === 'retry';
}

/** Why a `not-idempotent` verdict stopped the retries, for errors and explain. */
export function notIdempotentReason(method: string): string {
  return (
    `the ${method} request may have reached the application, and proxyless replays such a request only for idempotent methods ` +
    '(GET, HEAD, OPTIONS, PUT, DELETE, TRACE) unless the route opts in with the proxyless.dev/retry-non-idempotent annotation; Istio would retry it'
  );
}

/**
 * The delay a `Retry-After` header asks for (on 429 and 503), in ms, or undefined.
 * Seconds or an HTTP date; a value over `capMs` returns Infinity (the caller then does
 * not retry: waiting that long is the caller's decision).
 */
export function retryAfterMs(status: number, headers: IncomingHttpHeaders, capMs: number, now = Date.now()): number | undefined {
  if (status !== 429 && status !== 503) return undefined;
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  let ms: number;
  if (/^\d+$/.test(value.trim())) ms = Number(value.trim()) * 1000;
  else {
    const date = Date.parse(value);
    if (Number.isNaN(date)) return undefined;
    ms = Math.max(0, date - now);
  }
  return ms > capMs ? Infinity : ms;
}
