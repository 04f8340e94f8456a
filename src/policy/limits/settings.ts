/**
 * The limits layer's settings. Istio's `connectionPool` is read into them by
 * `src/config/settings/connection-pool.ts`.
 *
 * @module
 */

/**
 * A service's connection-pool limits, in numbers. Like Envoy's circuit-breaker
 * thresholds they count per service (cluster) within this process, except
 * `maxConnectionsPerEndpoint`, which bounds each endpoint's undici Pool.
 */
export interface ConnectionPoolLimits {
  /** `tcp.maxConnections`: connections per endpoint (undici Pool `connections`). */
  readonly maxConnectionsPerEndpoint: number | undefined;
  /** `http.http1MaxPendingRequests`: requests waiting for a connection, across the service. */
  readonly maxPendingRequests: number | undefined;
  /** `http.http2MaxRequests`: requests in flight, across the service. */
  readonly maxRequests: number | undefined;
  /** `http.maxRequestsPerConnection`: 0 means unlimited. */
  readonly maxRequestsPerConnection: number | undefined;
  /** `http.maxRetries`: retries in flight at once, across the service (Envoy's `max_retries`). */
  readonly maxRetries: number | undefined;
  /** `tcp.connectTimeout` in ms. */
  readonly connectTimeoutMs: number | undefined;
  /** `http.idleTimeout` (or `tcp.idleTimeout`) in ms: how long an idle connection is kept. */
  readonly idleTimeoutMs: number | undefined;
}
