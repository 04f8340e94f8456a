import type { IncomingHttpHeaders } from 'node:http';
import { durationToMs } from '../../config/istio/common.js';
import type { FailureKind } from '../../core/classify-failure.js';

/** Istio `HTTPRetry` as validated config gives it. */
export interface IstioRetry {
  attempts?: number | undefined;
  perTryTimeout?: string | undefined;
  retryOn?: string | undefined;
  retryRemoteLocalities?: boolean | undefined;
  retryIgnorePreviousHosts?: boolean | undefined;
  /** The base interval of the retry back-off (Envoy's maximum is 10 times it). */
  backoff?: string | undefined;
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
  /**
   * Istio leaves the previous-hosts predicate out when the route's one destination is
   * balanced by consistent hashing and the route does not set `retryIgnorePreviousHosts`
   * (retry.go: DefaultConsistentHashPolicy): a retry then stays on the hashed endpoint.
   */
  readonly keepHostWhenHashed: boolean;
  /** The back-off's base interval in ms (Envoy's default 25; the cap is 10 times it). */
  readonly backoffBaseMs: number;
  /** `retryRemoteLocalities`: a retry prefers a locality priority not tried yet. */
  readonly remoteLocalities: boolean;
  /**
   * Replay a non-idempotent request (POST, PATCH, ...) that may have reached the
   * application (a response status, a reset after sending). Off unless the route opts in
   * with the `proxyless.dev/retry-non-idempotent` annotation: our one deviation from
   * Istio, which replays them.
   */
  readonly replayNonIdempotent: boolean;
  /** The policy as written, for explain. */
  readonly source: string;
}

/** The `retryOn` conditions Istio accepts (validation.go: supportedRetryOnPolicies), as Envoy defines them. */
export type RetryCondition =
  | '5xx'
  | 'gateway-error'
  | 'reset'
  | 'reset-before-request'
  | 'connect-failure'
  | 'retriable-4xx'
  | 'refused-stream'
  | 'retriable-status-codes'
  | 'retriable-headers'
  | 'envoy-ratelimited'
  | 'http3-post-connect-failure'
  | GrpcRetryCondition;

/** `x-envoy-retry-grpc-on` conditions: a gRPC status in the response headers. */
type GrpcRetryCondition = 'cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable';

/** The gRPC status code each gRPC condition retries. */
const GRPC_CONDITIONS: Readonly<Record<GrpcRetryCondition, string>> = {
  cancelled: '1',
  'deadline-exceeded': '4',
  'resource-exhausted': '8',
  internal: '13',
  unavailable: '14',
};

const CONDITIONS = new Set<string>([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
  'http3-post-connect-failure',
  ...Object.keys(GRPC_CONDITIONS),
]);

/** Istio's default `retryOn` (retry.go: defaultRetryOn). */
export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
/** Envoy's host_selection_retry_max_attempts as Istio sets it: re-picks to find an untried endpoint. */
export const HOST_SELECTION_RETRY_MAX_ATTEMPTS = 5;
/** Envoy's default retry back-off base interval, in ms. */
export const DEFAULT_BACKOFF_BASE_MS = 25;

const SAFE_ONLY = 'a request that may have reached the application is replayed only for idempotent methods (proxyless.dev/retry-non-idempotent opts a route in)';

/**
 * Istio's default when a route sets no `retries` (retry.go: DefaultPolicy, Istio 1.24 and
 * later): 2 retries on connect-failure, refused-stream, gRPC unavailable and cancelled,
 * and retriable-status-codes with no status code (Istio 1.23 and earlier also retried
 * 503); another endpoint per retry (not under consistent hashing); up to 5 re-picks.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  retries: 2,
  perTryTimeoutMs: undefined,
  on: parseRetryOn(DEFAULT_RETRY_ON).on,
  statusCodes: new Set<number>(),
  otherEndpoint: true,
  keepHostWhenHashed: true,
  backoffBaseMs: DEFAULT_BACKOFF_BASE_MS,
  remoteLocalities: false,
  replayNonIdempotent: false,
  source: `Istio's default: 2 retries on ${DEFAULT_RETRY_ON} (no status code is retriable); ${SAFE_ONLY}`,
});

/** No retries (`attempts: 0`, or `retries` without `attempts`). */
export const NO_RETRIES: RetryPolicy = Object.freeze({ ...DEFAULT_RETRY_POLICY, retries: 0, on: new Set<RetryCondition>(), source: 'no retries (attempts 0)' });

/** What the route around a `retries` block says. */
export interface RetryRouteContext {
  /** The route has one destination (Istio looks at its consistent hashing only then). */
  readonly singleDestination?: boolean;
  /** The route opted in to replaying non-idempotent requests. */
  readonly replayNonIdempotent?: boolean;
}

function parseRetryOn(list: string): { on: Set<RetryCondition>; statusCodes: Set<number> } {
  const on = new Set<RetryCondition>();
  const statusCodes = new Set<number>();
  for (const raw of list.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    // An integer item is a status code (Istio's parseRetryOn: http.StatusText decides).
    if (/^\d{3}$/.test(item)) {
      statusCodes.add(Number(item));
      on.add('retriable-status-codes');
    } else if (CONDITIONS.has(item)) {
      on.add(item as RetryCondition);
    }
  }
  return { on, statusCodes };
}

/**
 * Compiles Istio's `retries` as Istio hands it to Envoy (retry.go: ConvertPolicy):
 * unset, {@link DEFAULT_RETRY_POLICY}; `attempts` 0 or unset, no retries; otherwise
 * `attempts` retries with the default for every field not written (`retryOn` replaces
 * the default list: `retryOn: "503"` retries only a 503).
 */
export function retryPolicy(spec: IstioRetry | undefined, route: RetryRouteContext = {}): RetryPolicy {
  const keepHostWhenHashed = route.singleDestination !== false;
  const replayNonIdempotent = route.replayNonIdempotent === true;
  const optIn = replayNonIdempotent ? '; non-idempotent requests are replayed too (proxyless.dev/retry-non-idempotent)' : `; ${SAFE_ONLY}`;
  if (!spec) {
    if (keepHostWhenHashed && !replayNonIdempotent) return DEFAULT_RETRY_POLICY;
    return Object.freeze({ ...DEFAULT_RETRY_POLICY, keepHostWhenHashed, replayNonIdempotent, source: `Istio's default: 2 retries on ${DEFAULT_RETRY_ON} (no status code is retriable)${optIn}` });
  }
  if (spec.attempts === undefined || spec.attempts <= 0) return NO_RETRIES;
  const { on, statusCodes } = parseRetryOn(spec.retryOn ?? DEFAULT_RETRY_ON);
  return Object.freeze({
    retries: spec.attempts,
    perTryTimeoutMs: spec.perTryTimeout ? durationToMs(spec.perTryTimeout) : undefined,
    on,
    statusCodes,
    otherEndpoint: spec.retryIgnorePreviousHosts !== false,
    keepHostWhenHashed: keepHostWhenHashed && spec.retryIgnorePreviousHosts === undefined,
    backoffBaseMs: spec.backoff !== undefined ? Math.max(1, durationToMs(spec.backoff)) : DEFAULT_BACKOFF_BASE_MS,
    remoteLocalities: spec.retryRemoteLocalities === true,
    replayNonIdempotent,
    source:
      `${spec.attempts} retries on ${spec.retryOn ?? `${DEFAULT_RETRY_ON} (Istio's default)`}` +
      `${spec.perTryTimeout ? `, perTryTimeout ${spec.perTryTimeout}` : ''}${spec.backoff ? `, backoff ${spec.backoff}` : ''}${optIn}`,
  });
}

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
