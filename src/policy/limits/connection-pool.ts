import type { ConnectionPoolLimits } from './settings.js';

export type { ConnectionPoolLimits } from './settings.js';

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
