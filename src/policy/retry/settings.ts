/**
 * The compiled retry policy (its type, conditions and defaults). Istio's `retries` is
 * compiled into it by `src/config/settings/retry.ts`.
 *
 * @module
 */

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
export type GrpcRetryCondition = 'cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable';

/** The gRPC status code each gRPC condition retries. */
export const GRPC_CONDITIONS: Readonly<Record<GrpcRetryCondition, string>> = {
  cancelled: '1',
  'deadline-exceeded': '4',
  'resource-exhausted': '8',
  internal: '13',
  unavailable: '14',
};

/** Every `retryOn` condition by name. */
export const RETRY_CONDITIONS: ReadonlySet<string> = new Set<string>([
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

/** The explain text for the default: which requests are replayed. */
export const SAFE_ONLY = 'a request that may have reached the application is replayed only for idempotent methods (proxyless.dev/retry-non-idempotent opts a route in)';

/**
 * Istio's default when a route sets no `retries` (retry.go: DefaultPolicy, Istio 1.24 and
 * later): 2 retries on connect-failure, refused-stream, gRPC unavailable and cancelled,
 * and retriable-status-codes with no status code (Istio 1.23 and earlier also retried
 * 503); another endpoint per retry (not under consistent hashing); up to 5 re-picks.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  retries: 2,
  perTryTimeoutMs: undefined,
  on: new Set<RetryCondition>(['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']),
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
