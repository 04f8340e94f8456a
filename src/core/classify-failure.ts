/**
 * The one classifier of request failures, shared by the retry layer, outlier detection
 * and the circuit breaker, so the three never disagree on what an error means.
 *
 * | kind | what happened | Envoy's name | sent? |
 * | --- | --- | --- | --- |
 * | `connect-failure` | no connection: refused, unreachable, name not resolved, connect timeout, TLS handshake or certificate failure | `connect-failure` (flag UF) | no |
 * | `reset-before-request` | the connection broke before the request was written to it | `reset-before-request` | no |
 * | `refused-stream` | HTTP/2 `REFUSED_STREAM` (code 7): the server did not process the stream | `refused-stream` | no |
 * | `reset` | the connection or stream broke, or the response was malformed, after the request was written | `reset` (UR, UC, UPE) | maybe |
 * | `timeout` | no response in time: undici's headers or body timeout, `perTryTimeout`, the route `timeout` | UT | maybe |
 * | `cancelled` | ended on this side: the caller's abort, a lost hedge, a passed deadline, the mesh closing | DC, local reset | maybe |
 * | `refused` | the mesh refused before sending: overload, open circuit, no (healthy) endpoint, closed mesh | UO, UH, NR | no |
 * | `other` | anything else (a bug in a handler, an option undici refused) | | unknown |
 *
 * "Sent" is decided by what the handler saw, not by guessing from codes: undici calls
 * `onRequestStart` just before writing a request, so a connection-level error that
 * arrives before it is `reset-before-request`, whatever its code. Pass `started` when
 * known. Every consumer documents how it maps these kinds (retry: which `retryOn`
 * conditions and which methods; outlier detection: local-origin failures; breaker:
 * `failOn`).
 */

/** What a failed try means; see the module's table. */
export type FailureKind =
  | 'connect-failure'
  | 'reset-before-request'
  | 'refused-stream'
  | 'reset'
  | 'timeout'
  | 'cancelled'
  | 'refused'
  | 'other';

/** HTTP/2's REFUSED_STREAM error code (RFC 9113 §7). */
const REFUSED_STREAM = 7;

/**
 * Node's socket and name-resolution codes that mean no connection was made (Envoy's
 * `connect-failure`, flag UF): shared with the access log's response flags.
 */
export const NO_CONNECTION_CODES: readonly string[] = [
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
];

/**
 * OpenSSL's certificate verification codes: the TLS handshake failed, so nothing was
 * written (a connect failure, flag UF). Shared with the access log's response flags.
 */
export const CERTIFICATE_FAILURE_CODES: readonly string[] = [
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'HOSTNAME_MISMATCH',
];

/** Codes of errors that mean no connection could be made (never sent). */
const CONNECT_FAILURE: ReadonlySet<string> = new Set([
  ...NO_CONNECTION_CODES,
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
  ...CERTIFICATE_FAILURE_CODES,
]);

/** Codes of a broken connection or a malformed response (maybe sent). */
const RESET: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_INFO',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
  'UND_ERR_HEADERS_OVERFLOW',
]);

const TIMEOUT: ReadonlySet<string> = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'PROXYLESS_ERR_PER_TRY_TIMEOUT',
  'PROXYLESS_ERR_TIMEOUT',
]);

const CANCELLED: ReadonlySet<string> = new Set([
  'UND_ERR_ABORTED',
  'UND_ERR_ABORT',
  'ABORT_ERR',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'ERR_HTTP2_STREAM_CANCEL',
  'PROXYLESS_ERR_DEADLINE_EXCEEDED',
  'PROXYLESS_ERR_CLOSE_TIMEOUT',
  'PROXYLESS_ERR_BODY_NOT_REPLAYABLE',
]);

const REFUSED: ReadonlySet<string> = new Set([
  'PROXYLESS_ERR_MESH_CLOSED',
  'PROXYLESS_ERR_OVERLOADED',
  'PROXYLESS_ERR_CIRCUIT_OPEN',
  'PROXYLESS_ERR_NO_ENDPOINTS',
  'PROXYLESS_ERR_NO_HEALTHY_UPSTREAM',
  'PROXYLESS_ERR_DISCOVERY_TIMEOUT',
  'PROXYLESS_ERR_UNKNOWN_SERVICE',
  'PROXYLESS_ERR_INVALID_REQUEST',
]);

/** Syscalls whose failure means the connection was never made (shared with the access log's response flags). */
export const CONNECT_SYSCALLS: ReadonlySet<string> = new Set(['connect', 'getaddrinfo', 'lookup']);

/** The kind one error object's own fields say, or undefined when they say nothing. */
function kindOfOne(error: object): FailureKind | undefined {
  const e = error as { code?: unknown; syscall?: unknown; http2ErrorCode?: unknown; name?: unknown; message?: unknown };
  if (e.http2ErrorCode === REFUSED_STREAM) return 'refused-stream';
  const code = e.code;
  if (typeof code === 'string') {
    if (typeof e.syscall === 'string' && CONNECT_SYSCALLS.has(e.syscall)) return 'connect-failure';
    if (CONNECT_FAILURE.has(code)) return 'connect-failure';
    if (TIMEOUT.has(code)) return 'timeout';
    if (CANCELLED.has(code)) return 'cancelled';
    if (REFUSED.has(code)) return 'refused';
    if (RESET.has(code)) return 'reset';
    if (code === 'ERR_HTTP2_STREAM_ERROR') {
      // Node names the stream's error code in the message when it did not attach it.
      return typeof e.message === 'string' && e.message.includes('REFUSED_STREAM') ? 'refused-stream' : 'reset';
    }
    if (code.startsWith('HPE_') || code.startsWith('ERR_HTTP2_')) return 'reset';
    if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) return 'reset';
  }
  // DOMExceptions from the caller's AbortSignal (`abort()`, `AbortSignal.timeout()`).
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'cancelled';
  return undefined;
}

/**
 * Classifies why a try failed; see the module's table.
 *
 * @param error the error the try ended with (its `cause` chain is read too, 4 deep)
 * @param started whether the try's handler had seen `onRequestStart` (the request was
 *   handed to a connection); `false` turns a connection-level `reset` into
 *   `reset-before-request`. Leave undefined when unknown.
 */
export function classifyFailure(error: unknown, started?: boolean): FailureKind {
  let kind: FailureKind = 'other';
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const found = kindOfOne(current);
    if (found !== undefined) {
      kind = found;
      break;
    }
    current = (current as { cause?: unknown }).cause;
  }
  if (kind === 'reset' && started === false) return 'reset-before-request';
  return kind;
}

/** True for kinds that prove the server never saw the request (safe to send again, any method). */
export function neverSent(kind: FailureKind): boolean {
  return kind === 'connect-failure' || kind === 'reset-before-request' || kind === 'refused-stream' || kind === 'refused';
}

/**
 * True for kinds that say something about the endpoint's health (outlier detection's
 * local-origin failures): connection failures, resets and response timeouts. Ends on
 * this side (`cancelled`) and the mesh's own refusals say nothing about it.
 */
export function isEndpointFailure(kind: FailureKind): boolean {
  return kind === 'connect-failure' || kind === 'reset-before-request' || kind === 'refused-stream' || kind === 'reset' || kind === 'timeout';
}
