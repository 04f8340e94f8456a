import { durationToMs } from '../../config/istio/common.js';

/** Istio `ConnectionPoolSettings` as validated config gives it. */
export interface IstioConnectionPool {
  tcp?: { maxConnections?: number | undefined; connectTimeout?: string | undefined; idleTimeout?: string | undefined } | undefined;
  http?:
    | {
        http1MaxPendingRequests?: number | undefined;
        http2MaxRequests?: number | undefined;
        maxRequestsPerConnection?: number | undefined;
        maxRetries?: number | undefined;
        idleTimeout?: string | undefined;
      }
    | undefined;
}

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

/** Reads Istio's `connectionPool` into numbers; undefined when unset. */
export function connectionPoolLimits(spec: IstioConnectionPool | undefined): ConnectionPoolLimits | undefined {
  if (!spec) return undefined;
  const idle = spec.http?.idleTimeout ?? spec.tcp?.idleTimeout;
  return {
    maxConnectionsPerEndpoint: spec.tcp?.maxConnections,
    maxPendingRequests: spec.http?.http1MaxPendingRequests,
    maxRequests: spec.http?.http2MaxRequests,
    maxRequestsPerConnection: spec.http?.maxRequestsPerConnection === 0 ? undefined : spec.http?.maxRequestsPerConnection,
    maxRetries: spec.http?.maxRetries,
    connectTimeoutMs: spec.tcp?.connectTimeout ? durationToMs(spec.tcp.connectTimeout) : undefined,
    idleTimeoutMs: idle ? durationToMs(idle) : undefined,
  };
}

/**
 * Envoy's overflow decision for one new request: refused when the service already has
 * `maxRequests` in flight, or when `maxPendingRequests` are already waiting for a
 * connection (in flight beyond what the endpoints' connections can carry).
 * Returns the limit that refuses it, or undefined to admit it.
 */
export function overflowReason(
  limits: ConnectionPoolLimits,
  inFlight: number,
  connectionCapacity: number,
): 'http2MaxRequests' | 'http1MaxPendingRequests' | undefined {
  if (limits.maxRequests !== undefined && inFlight >= limits.maxRequests) return 'http2MaxRequests';
  if (limits.maxPendingRequests !== undefined && inFlight - connectionCapacity >= limits.maxPendingRequests) return 'http1MaxPendingRequests';
  return undefined;
}
