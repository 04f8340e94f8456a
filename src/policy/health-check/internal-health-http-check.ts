import { Agent, request, type buildConnector, type Dispatcher } from 'undici';

/** The `user-agent` every health check request carries (Envoy sends `Envoy/HC`). */
export const HEALTH_CHECK_USER_AGENT = 'proxyless-health-check';

/** How much of a health check response body is read before the connection is dropped. */
const BODY_LIMIT = 64 * 1024;

/** A half-open range of HTTP status codes, `[start, end)`, as Envoy's `Int64Range`. */
export interface StatusRange {
  /** First status in the range. */
  readonly start: number;
  /** First status after the range (exclusive). */
  readonly end: number;
}

/** What the HTTP check needs from the settings. */
export interface HttpCheckRequest {
  /** Path requested, starting with `/`. */
  readonly path: string;
  /** Request method. */
  readonly method: 'GET' | 'HEAD';
  /** Statuses that pass, as half-open ranges. */
  readonly expectedStatuses: readonly StatusRange[];
}

/**
 * The dispatcher health checks use: its own undici Agent, never the mesh's endpoint
 * pools or the global dispatcher, so checks see the endpoint as it is (no retries, no
 * balancer, no outlier ejection) and traffic limits never delay them. One connection
 * per endpoint and no pipelining: a check is one small request every few seconds.
 *
 * @param connect the connector of the service's traffic, for https:// services: the
 *   checks then make the same TLS (trust, client certificate, SNI) as the requests
 */
export function healthCheckAgent(connect?: buildConnector.connector): Agent {
  return new Agent({ connections: 1, pipelining: 1, ...(connect ? { connect } : {}) });
}

/** True when `status` falls in one of the half-open `ranges`. */
export function statusExpected(status: number, ranges: readonly StatusRange[]): boolean {
  for (const range of ranges) if (status >= range.start && status < range.end) return true;
  return false;
}

/** Renders ranges the way users write them: `200-399, 404`. */
export function formatStatusRanges(ranges: readonly StatusRange[]): string {
  return ranges.map((r) => (r.end - r.start === 1 ? String(r.start) : `${r.start}-${r.end - 1}`)).join(', ');
}

/**
 * One HTTP health check: `method http://address:port/path` (`https://` when `secure`,
 * through a dispatcher that makes the service's TLS) with the given Host header.
 * Resolves with the verdict and a short description (`status 200`,
 * `status 500 (expected 200-399)`); rejects on connection and TLS errors and when
 * `signal` aborts (the caller's timeout or the endpoint's removal).
 */
export async function httpHealthCheck(
  dispatcher: Dispatcher,
  check: HttpCheckRequest,
  hostHeader: string,
  endpoint: { readonly address: string; readonly port: number },
  signal: AbortSignal,
  secure = false,
): Promise<{ healthy: boolean; detail: string }> {
  const host = endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
  const response = await request(`${secure ? 'https' : 'http'}://${host}:${endpoint.port}${check.path}`, {
    dispatcher,
    method: check.method,
    headers: { host: hostHeader, 'user-agent': HEALTH_CHECK_USER_AGENT },
    signal,
  });
  // Read (and drop) the body so the connection can serve the next check.
  await response.body.dump({ limit: BODY_LIMIT });
  const status = response.statusCode;
  return statusExpected(status, check.expectedStatuses)
    ? { healthy: true, detail: `status ${status}` }
    : { healthy: false, detail: `status ${status} (expected ${formatStatusRanges(check.expectedStatuses)})` };
}
