/**
 * Istio's `connectionPool` (from a DestinationRule's traffic policy) read into the
 * limits layer's {@link ConnectionPoolLimits}.
 *
 * @module
 */
import type { ConnectionPoolLimits } from '../../policy/limits/settings.js';
import { durationToMs } from '../istio/common.js';

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
