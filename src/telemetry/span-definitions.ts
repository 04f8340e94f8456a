/**
 * The spans the mesh makes, by name and attribute, so the layers that make them and the
 * documentation (docs/telemetry.md) share one list.
 *
 * Per logical call, an INTERNAL span named `mesh {method}` carries what only the mesh
 * knows (service, route, subset, balancer, tries, hedging, retry budget, circuit state,
 * response flags); under it one CLIENT span per try (first, each retry, each hedge,
 * each mirror) follows OpenTelemetry's stable HTTP client conventions. Only the CLIENT
 * span's context goes on the wire, so a server sees one parent per request it receives.
 */
import { KNOWN_METHODS } from './metric-definitions.js';

/** Attribute keys of the CLIENT span of each try (OpenTelemetry's HTTP client conventions). */
export const CLIENT_SPAN_ATTRIBUTES = {
  /** The request method (`_OTHER` for a method the conventions do not know, the method then in `http.request.method_original`). */
  method: 'http.request.method',
  /** The method as sent, when `http.request.method` is `_OTHER`. */
  methodOriginal: 'http.request.method_original',
  /** The URL as the caller wrote it, without credentials. */
  urlFull: 'url.full',
  /** The logical service's host as written in the URL. */
  serverAddress: 'server.address',
  /** The port of the URL (the scheme's default when none is written). */
  serverPort: 'server.port',
  /** The endpoint picked for this try. */
  peerAddress: 'network.peer.address',
  /** The endpoint's port. */
  peerPort: 'network.peer.port',
  /** The status received. */
  statusCode: 'http.response.status_code',
  /** What a failed try ended with: an error code, or the status code as text for 4xx and 5xx. */
  errorType: 'error.type',
  /** On every try after the first: how many tries were sent before it. */
  resendCount: 'http.request.resend_count',
} as const;

/** Attribute keys of the mesh's INTERNAL span of each logical call. */
export const CALL_SPAN_ATTRIBUTES = {
  /** The destination service FQDN (absent for passthrough). */
  service: 'proxyless.service',
  /** The VirtualService that routed the call (`namespace/name`). */
  virtualService: 'proxyless.virtual_service',
  /** The route within it (its name, or its index). */
  route: 'proxyless.route',
  /** The DestinationRule subset of the destination picked. */
  subset: 'proxyless.subset',
  /** The balancer, e.g. `p2c-peak-ewma`. */
  balancer: 'proxyless.balancer',
  /** Tries sent (first, retries, hedges; mirrors not counted). */
  attempts: 'proxyless.attempts',
  /** Whether a hedged try was sent. */
  hedged: 'proxyless.hedged',
  /** True when the retry budget refused a retry this call wanted. */
  retryBudgetExhausted: 'proxyless.retry_budget.exhausted',
  /** The circuit breaker's state when the call began: closed, open, half_open. */
  circuitState: 'proxyless.circuit_breaker.state',
  /** Envoy's response flags of the call, `-` for none (set only when not `-`). */
  responseFlags: 'proxyless.response_flags',
  /** True on the span of a mirrored (shadow) request. */
  mirror: 'proxyless.mirror',
  /** True when the host is not a mesh service and passed through (ALLOW_ANY). */
  passthrough: 'proxyless.passthrough',
} as const;

/** Event names on the call span. */
export const CALL_SPAN_EVENTS = {
  /** A retry was scheduled; attributes: `proxyless.retry.attempt`, `proxyless.retry.reason`, `proxyless.retry.backoff_ms`. */
  retryBackoff: 'proxyless.retry.backoff',
  /** A hedged try was sent; attributes: `proxyless.hedge.attempt`, `proxyless.hedge.after_ms`. */
  hedgeFired: 'proxyless.hedge.fired',
  /** The endpoint of a try in flight was ejected by outlier detection; attribute: `network.peer.address`. */
  endpointEjected: 'proxyless.endpoint.ejected',
} as const;

// Made once: span names are set per call, and a template string would allocate each time.
const CALL_NAMES: ReadonlyMap<string, string> = new Map([...KNOWN_METHODS].map((m) => [m, `mesh ${m}`]));

/** The CLIENT span's name for a method: the method itself, or `HTTP` for one the conventions do not know. */
export function clientSpanName(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'HTTP';
}

/** The call span's name for a method: `mesh GET`, `mesh HTTP`. */
export function callSpanName(method: string): string {
  return CALL_NAMES.get(method) ?? 'mesh HTTP';
}

/** Query parameters whose values the conventions ask to redact in `url.full`. */
const SENSITIVE_QUERY = /([?&](?:AWSAccessKeyId|Signature|sig|X-Goog-Signature)=)[^&#]*/g;

/**
 * `url.full` as the conventions want it: credentials (`user:password@`) replaced by
 * `REDACTED:REDACTED@`, and the values of the signing query parameters they name
 * (`AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`) by `REDACTED`. Returns the
 * input itself when there is nothing to redact.
 */
export function redactUrl(url: string): string {
  let out = url;
  const scheme = out.indexOf('://');
  if (scheme !== -1) {
    const start = scheme + 3;
    let end = start;
    while (end < out.length && out[end] !== '/' && out[end] !== '?' && out[end] !== '#') end++;
    const at = out.lastIndexOf('@', end - 1);
    if (at >= start) out = `${out.slice(0, start)}REDACTED:REDACTED${out.slice(at)}`;
  }
  if (out.includes('?')) out = out.replace(SENSITIVE_QUERY, '$1REDACTED');
  return out;
}
