/**
 * Which request errors say something about the endpoint, for outlier detection, read
 * through the mesh's one failure classifier (`src/core/classify-failure.ts`, shared
 * with retries and the circuit breaker).
 *
 * Envoy counts as "locally originated" failures what stops it from getting a response
 * from the host: connect failures and timeouts, TLS handshake failures, resets, protocol
 * errors, response timeouts. An error that is not about the connection (a bug in the
 * caller's handler, an option undici refused, the mesh's own overload or closing errors,
 * a cancellation) is not the endpoint's fault: counting it could eject healthy endpoints.
 */
import { classifyFailure, isEndpointFailure } from '../../core/classify-failure.js';

/**
 * True when `error` (or one of its first causes) is a connection-level failure talking
 * to the endpoint: the request got no usable response because of the connection, a
 * timeout or a broken response. Called on the error path only.
 */
export function isLocalOriginFailure(error: unknown): boolean {
  return isEndpointFailure(classifyFailure(error));
}

/**
 * True when `error` is the reason a try was cancelled by a timeout the operator set: the
 * route's `perTryTimeout` or its `timeout` (or undici's own response timeouts). Envoy
 * records these as `LocalOriginTimeout` for a request still awaiting headers. A passed
 * deadline inherited from the request being served is a cancellation, left out: it can
 * be short through no fault of the endpoint.
 */
export function isTimeoutOfTry(error: unknown): boolean {
  return classifyFailure(error) === 'timeout';
}
