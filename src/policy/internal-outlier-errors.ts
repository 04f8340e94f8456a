/**
 * Which request errors say something about the endpoint, for outlier detection.
 *
 * Envoy counts as "locally originated" failures what stops it from getting a response
 * from the host: connect failures and timeouts, TLS handshake failures, resets, protocol
 * errors, response timeouts. Here the same events arrive as error codes from undici and
 * Node. The list is an allowlist on purpose: an error we do not recognise (a bug in the
 * caller's handler, an option undici refused, our own overload or closing errors with
 * `PROXYLESS_ERR_*` codes) is not the endpoint's fault, and counting it could eject
 * healthy endpoints; missing a rare transport error only delays an ejection.
 */

/** Exact codes of transport failures. */
const CODES: ReadonlySet<string> = new Set([
  // undici
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_HEADERS_OVERFLOW',
  // Node sockets and name resolution of the endpoint's address
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  // OpenSSL certificate verification (the TLS handshake failed)
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/** Code prefixes of transport failures: HTTP/1 parser errors, TLS, OpenSSL, HTTP/2. */
const PREFIXES: readonly string[] = ['HPE_', 'ERR_TLS_', 'ERR_SSL_', 'ERR_HTTP2_'];

function isTransportCode(code: unknown): boolean {
  if (typeof code !== 'string') return false;
  if (CODES.has(code)) return true;
  for (const prefix of PREFIXES) if (code.startsWith(prefix)) return true;
  return false;
}

/**
 * True when `error` (or one of its first causes) is a connection-level failure talking
 * to the endpoint: the request got no usable response because of the connection, a
 * timeout or a broken response. Called on the error path only.
 */
export function isLocalOriginFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if (isTransportCode((current as { code?: unknown }).code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * True when `error` is the reason a try was cancelled by a timeout the operator set: the
 * route's `perTryTimeout` (the retry layer's `PerTryTimeoutError`) or its `timeout`
 * (`RouteTimeoutError`), matched by code so this file imports no layer. Envoy records
 * both as `LocalOriginTimeout` for a request still awaiting headers. A passed deadline
 * inherited from the request being served is left out: it can be short through no
 * fault of the endpoint.
 */
export function isTimeoutOfTry(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === 'PROXYLESS_ERR_PER_TRY_TIMEOUT' || code === 'PROXYLESS_ERR_TIMEOUT';
}
