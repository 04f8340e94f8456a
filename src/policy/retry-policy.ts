import type { IncomingHttpHeaders } from 'node:http';
import { durationToMs } from '../config/istio/common.js';
import type { FailureKind } from '../core/classify-failure.js';

/** Istio `HTTPRetry` as validated config gives it. */
export interface IstioRetry {
  attempts?: number | undefined;
  perTryTimeout?: string | undefined;
  retryOn?: string | undefined;
  retryRemoteLocalities?: boolean | undefined;
  retryIgnorePreviousHosts?: boolean | undefined;
}

/** A compiled retry policy (Envoy's semantics, Istio's field names). */
export interface RetryPolicy {
  /** Retries after the first try (Istio's `attempts` counts retries). */
  readonly retries: number;
  /** Each try's own timeout in ms, or undefined. */
  readonly perTryTimeoutMs: number | undefined;
  /** `retryOn` conditions. */
  readonly on: ReadonlySet<RetryCondition>;
  /** Status codes from `retriable-status-codes` and bare codes in `retryOn`. */
  readonly statusCodes: ReadonlySet<number>;
  /** Prefer an endpoint not tried before (Envoy's previous_hosts predicate; on unless `retryIgnorePreviousHosts: false`). */
  readonly otherEndpoint: boolean;
  /** The policy as written, for explain. */
  readonly source: string;
}

/** The `retryOn` conditions we implement, as Envoy defines them. */
export type RetryCondition = '5xx' | 'gateway-error' | 'reset' | 'connect-failure' | 'retriable-4xx' | 'refused-stream' | 'retriable-status-codes';

const CONDITIONS = new Set<RetryCondition>(['5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes']);

/** Istio's default when a route sets no `retries`: 2 retries on connect-failure, refused-stream and reset; never on 503. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  retries: 2,
  perTryTimeoutMs: undefined,
  on: new Set<RetryCondition>(['connect-failure', 'refused-stream', 'reset']),
  statusCodes: new Set<number>(),
  otherEndpoint: true,
  source: 'default: 2 retries on connect-failure, refused-stream, reset',
});

/** No retries (`attempts: 0`). */
export const NO_RETRIES: RetryPolicy = Object.freeze({ ...DEFAULT_RETRY_POLICY, retries: 0, on: new Set<RetryCondition>(), source: 'attempts: 0' });

/**
 * Compiles Istio's `retries`. Unset: {@link DEFAULT_RETRY_POLICY}. `retryOn` unset with
 * `attempts` set: Istio's default conditions (`connect-failure,refused-stream,unavailable,
 * cancelled,retriable-status-codes`, of which the HTTP ones apply here). Unknown
 * conditions (gRPC ones such as `cancelled`) are ignored, documented in the README.
 */
export function retryPolicy(spec: IstioRetry | undefined): RetryPolicy {
  if (!spec) return DEFAULT_RETRY_POLICY;
  if (spec.attempts === 0) return NO_RETRIES;
  const on = new Set<RetryCondition>();
  const statusCodes = new Set<number>();
  const list = (spec.retryOn ?? 'connect-failure,refused-stream,retriable-status-codes').split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of list) {
    if (/^\d{3}$/.test(item)) {
      statusCodes.add(Number(item));
      on.add('retriable-status-codes');
    } else if (CONDITIONS.has(item as RetryCondition)) {
      on.add(item as RetryCondition);
    }
  }
  return {
    retries: spec.attempts ?? 2,
    perTryTimeoutMs: spec.perTryTimeout ? durationToMs(spec.perTryTimeout) : undefined,
    on,
    statusCodes,
    otherEndpoint: spec.retryIgnorePreviousHosts !== false,
    source: `attempts ${spec.attempts ?? 2}, retryOn ${spec.retryOn ?? '(Istio default)'}${spec.perTryTimeout ? `, perTryTimeout ${spec.perTryTimeout}` : ''}`,
  };
}

/** Methods safe to send twice (RFC 9110 idempotent methods). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** True for RFC 9110's idempotent methods. */
export function isIdempotent(method: string): boolean {
  // Methods nearly always arrive upper case: no string is made for them per request.
  return IDEMPOTENT.has(method) || IDEMPOTENT.has(method.toUpperCase());
}

export { isReplayable } from '../core/replayable-body.js';

/**
 * Whether a try that failed without a response may be retried under `policy`
 * (ignoring attempts left, budget and body), by the kind {@link classifyFailure} gives.
 * What provably never reached the server (a connection failure, a reset before the
 * request was written, an HTTP/2 refused stream) is retried whatever the method; a
 * reset or a timeout after the request was written only for idempotent methods. A
 * cancellation, the mesh's own refusals and unknown errors are never retried.
 *
 * | kind | retried under | methods |
 * | --- | --- | --- |
 * | `connect-failure` | `connect-failure`, `5xx`, `gateway-error` | any |
 * | `reset-before-request` | `reset`, `connect-failure`, `5xx`, `gateway-error` | any |
 * | `refused-stream` | `refused-stream`, `5xx` | any |
 * | `reset` | `reset`, `5xx` | idempotent |
 * | `timeout` | `reset`, `5xx`, `gateway-error` | idempotent |
 */
export function retriableFailure(policy: RetryPolicy, kind: FailureKind, method: string): boolean {
  const on = policy.on;
  switch (kind) {
    case 'connect-failure':
      return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error');
    case 'reset-before-request':
      return on.has('reset') || on.has('connect-failure') || on.has('5xx') || on.has('gateway-error');
    case 'refused-stream':
      return on.has('refused-stream') || on.has('5xx');
    case 'reset':
      return isIdempotent(method) && (on.has('reset') || on.has('5xx'));
    case 'timeout':
      return isIdempotent(method) && (on.has('reset') || on.has('5xx') || on.has('gateway-error'));
    default:
      return false;
  }
}

/** Whether a response status may be retried under `policy` (idempotent methods only). */
export function retriableStatus(policy: RetryPolicy, status: number, method: string): boolean {
  if (!isIdempotent(method)) return false;
  const on = policy.on;
  if (on.has('5xx') && status >= 500 && status <= 599) return true;
  if (on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
  if (on.has('retriable-4xx') && status === 409) return true;
  return on.has('retriable-status-codes') && policy.statusCodes.has(status);
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
