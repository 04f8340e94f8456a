/**
 * The health checker's public types: what it checks, what a check answers, its options
 * and the snapshot it reports.
 *
 * @module
 */
import type { buildConnector } from 'undici';
import type { HealthCheckSettings } from './settings.js';

/** What a health checker needs from an endpoint; it writes `healthy`. */
export interface HealthCheckedEndpoint {
  /** Identity, `address:port`; an endpoint given again with the same key keeps its state. */
  readonly key: string;
  /** IP address or host name checked. */
  readonly address: string;
  /** TCP port checked. */
  readonly port: number;
  /** Written by the checker: false once the endpoint failed its checks. */
  healthy: boolean;
}

/** A check's verdict with a short description (`status 500 (expected 200-399)`). */
export interface HealthCheckResult {
  /** Whether the check passed. */
  readonly healthy: boolean;
  /** What was seen, for {@link HealthChecker.status}. */
  readonly detail?: string | undefined;
}

/**
 * A check of one endpoint. Resolving `true` (or `{ healthy: true }`) is a pass;
 * `false`, `{ healthy: false }`, a rejection or a throw is a failure. `signal` aborts when
 * the timeout passes or the endpoint is removed; a check still pending at the timeout
 * counts as failed whether or not it honours the signal.
 */
export type HealthCheckFunction<E> = (endpoint: E, signal: AbortSignal) => Promise<boolean | HealthCheckResult>;

/** The timer functions a checker uses (tests inject fakes). Handles with an `unref()` method are unref'd. */
export interface HealthCheckTimers {
  /** Runs `callback` once after `ms`; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer set by `setTimeout` (a handle already fired or cleared is ignored). */
  clearTimeout(handle: unknown): void;
}

/**
 * Why a health check failed, as Envoy's health check event log names it (`failure_type`):
 * `ACTIVE`, the endpoint answered and the answer failed the check (a status outside
 * `expectedStatuses`, a custom check's `false`); `NETWORK`, no answer (connection refused
 * or reset, a TLS failure, a custom check that threw); `NETWORK_TIMEOUT`, no answer within
 * `timeoutMs`.
 */
export type HealthCheckFailureType = 'ACTIVE' | 'NETWORK' | 'NETWORK_TIMEOUT';

/** Options for {@link HealthChecker}. */
export interface HealthCheckerOptions<E extends HealthCheckedEndpoint> {
  /** Validated settings, from config's `healthCheckSettings` (or `DEFAULT_HEALTH_CHECK_SETTINGS`). */
  readonly settings: HealthCheckSettings;
  /** The service's logical host (`reviews`, `reviews.default.svc.cluster.local`): the Host header unless `settings.host` is set, and the name in warnings. */
  readonly service: string;
  /**
   * Called each time the checker changes an endpoint's `healthy` (after writing it), with
   * what the check that decided it saw (`detail`: `status 503 (expected 200-399)`,
   * `timed out after 1000 ms`, ...) and, when it failed, why (`failure`). Must not throw;
   * an exception is reported as a process warning.
   */
  readonly onChange?: ((endpoint: E, healthy: boolean, result: { readonly detail: string; readonly failure: HealthCheckFailureType | undefined }) => void) | undefined;
  /** Replaces the HTTP check (tests; other protocols). Default: an HTTP request per {@link HealthCheckSettings} on the checker's own undici Agent. */
  readonly check?: HealthCheckFunction<E> | undefined;
  /**
   * Check over TLS (`https://`) with this connector: give the one the service's traffic
   * uses (undici's `buildConnector(...)` with its trust, client certificate and SNI), so
   * the checks see the endpoint as the requests do. Default: plain HTTP.
   */
  readonly tls?:
    | {
        /** The connector of the service's traffic (undici `buildConnector(...)`). */
        readonly connect: buildConnector.connector;
      }
    | undefined;
  /** Timer functions. Default: the global `setTimeout` and `clearTimeout`, looked up at each call. */
  readonly timers?: HealthCheckTimers | undefined;
  /** Uniform random numbers in [0, 1) for jitter. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** Clock for {@link EndpointHealth.lastCheckedAt}, in ms. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** One endpoint's health as the checker sees it (a snapshot). */
export interface EndpointHealth {
  /** The endpoint's key, `address:port`. */
  readonly key: string;
  /** Whether the endpoint counts as healthy. */
  readonly healthy: boolean;
  /** Checks completed since the endpoint was added. */
  readonly checks: number;
  /** Passing checks in a row (0 after a failure). */
  readonly consecutivePasses: number;
  /** Failing checks in a row (0 after a pass). */
  readonly consecutiveFailures: number;
  /** When the last check completed (`now()`), or undefined before the first. */
  readonly lastCheckedAt: number | undefined;
  /** What the last check saw: `status 200`, `timed out after 1000 ms`, `connect ECONNREFUSED ...`. */
  readonly lastResult: string | undefined;
}
