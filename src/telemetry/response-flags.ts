/**
 * Envoy's response flags (`%RESPONSE_FLAGS%` in access logs, `response_flags` on Istio's
 * metrics) for what the mesh can cause, and the mapping from our errors to them.
 *
 * Flags are held as a bit mask while a request runs (numbers: no allocation) and turned
 * into Envoy's text only when reported: the short names joined by `,` in Envoy's own
 * order (`UF,URX`), or `-` for none. The text of each mask is made once and kept, so
 * reporting allocates nothing after the first time.
 */
import { CERTIFICATE_FAILURE_CODES, CONNECT_SYSCALLS, NO_CONNECTION_CODES } from '../core/classify-failure.js';

/** One response flag: Envoy's short and long names, what it means, the status Envoy answers with. */
export interface ResponseFlagInfo {
  /** Envoy's short name, e.g. `UH`. */
  readonly flag: ResponseFlagName;
  /** Envoy's long name, e.g. `NoHealthyUpstream`. */
  readonly long: string;
  /** The bit of this flag in a mask. */
  readonly bit: number;
  /** The HTTP status a sidecar answers with when it raises this flag (0: none is sent). */
  readonly status: number | undefined;
  /** What happened, in our words. */
  readonly meaning: string;
}

/** The short names of the flags the mesh can raise (a subset of Envoy's). */
export type ResponseFlagName =
  | 'LH'
  | 'UH'
  | 'UT'
  | 'LR'
  | 'UR'
  | 'UF'
  | 'UC'
  | 'UO'
  | 'NR'
  | 'DI'
  | 'FI'
  | 'RL'
  | 'DC'
  | 'URX'
  | 'SI'
  | 'DPE'
  | 'UPE'
  | 'NC'
  | 'DF'
  | 'OM';

/**
 * The flags, in the order Envoy writes them when several are set. Bits follow this order,
 * so formatting a mask walks the bits from the lowest.
 */
export const RESPONSE_FLAGS: readonly ResponseFlagInfo[] = (
  [
    ['LH', 'FailedLocalHealthCheck', 503, 'the local service failed its health check (inbound: the workload is not ready)'],
    ['UH', 'NoHealthyUpstream', 503, 'no endpoint could take the request: none known, all ejected or failing health checks, or discovery gave none in time'],
    ['UT', 'UpstreamRequestTimeout', 504, 'the route timeout, the per-try timeout of the last try, or the deadline ran out'],
    ['LR', 'LocalReset', 503, 'the mesh reset the request itself: it was closed, or its pool was, while the request waited or ran'],
    ['UR', 'UpstreamRemoteReset', 503, 'the endpoint reset the HTTP/2 stream'],
    ['UF', 'UpstreamConnectionFailure', 503, 'no connection to the endpoint: refused, unreachable, name not resolved, connect timeout, TLS handshake failure'],
    ['UC', 'UpstreamConnectionTermination', 503, 'the connection to the endpoint closed or broke before the response was complete'],
    ['UO', 'UpstreamOverflow', 503, 'refused at once by a limit: DestinationRule connectionPool, an open circuit breaker, or the retry budget'],
    ['NR', 'NoRouteFound', 404, 'no route for the request: no VirtualService route matched, or the host is unknown under REGISTRY_ONLY'],
    ['DI', 'DelayInjected', undefined, 'a fault injection delayed the request'],
    ['FI', 'FaultInjected', undefined, 'a fault injection aborted the request with its configured status'],
    ['RL', 'RateLimited', 429, 'a local rate limit refused the request (inbound)'],
    ['DC', 'DownstreamConnectionTermination', 0, 'the caller went away: it aborted the request, or its connection closed (inbound)'],
    ['URX', 'UpstreamRetryLimitExceeded', undefined, 'the last try failed in a retriable way and no retry was left'],
    ['SI', 'StreamIdleTimeout', 408, 'the stream was idle too long'],
    ['DPE', 'DownstreamProtocolError', 400, 'the request itself was malformed (a bad URL, a header the mesh refuses)'],
    ['UPE', 'UpstreamProtocolError', 502, 'the endpoint answered with something that is not valid HTTP'],
    ['NC', 'NoClusterFound', 503, 'a route sends to a destination no discovery source or ServiceEntry knows'],
    ['DF', 'DnsResolutionFailed', 503, "the destination's name could not be resolved"],
    ['OM', 'OverloadManager', 503, 'the workload is overloaded: load shedding refused the request at once (inbound)'],
  ] as const
).map(([flag, long, status, meaning], i) => ({ flag, long, bit: 2 ** i, status, meaning }));

/** The bit of each flag, by short name: `ResponseFlag.UF | ResponseFlag.URX`. */
export const ResponseFlag: { readonly [K in ResponseFlagName]: number } = Object.fromEntries(RESPONSE_FLAGS.map((f) => [f.flag, f.bit])) as {
  [K in ResponseFlagName]: number;
};

/** Every valid bit. */
const ALL = 2 ** RESPONSE_FLAGS.length - 1;

/** Text by mask, made on first use; bounded by the masks that occur (a few in practice, at most 2^19). */
const texts = new Map<number, string>([[0, '-']]);

/**
 * Envoy's text for a mask: short names joined by `,` in Envoy's order, `-` for none.
 * Bits that are not flags are ignored. The same string object is returned each time.
 */
export function formatResponseFlags(mask: number): string {
  const m = mask & ALL;
  let text = texts.get(m);
  if (text === undefined) {
    const names: string[] = [];
    for (const info of RESPONSE_FLAGS) if ((m & info.bit) !== 0) names.push(info.flag);
    text = names.join(',');
    texts.set(m, text);
  }
  return text;
}

/** Parses Envoy's text (`UF,URX`, `-`) into a mask; unknown names are ignored. */
export function parseResponseFlags(text: string): number {
  let mask = 0;
  if (text === '-' || text === '') return 0;
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (Object.hasOwn(ResponseFlag, name)) mask |= (ResponseFlag as Record<string, number>)[name]!;
  }
  return mask;
}

/** The flag of each error code the mesh, undici and Node raise on the request path. */
const BY_CODE: ReadonlyMap<string, number> = new Map<string, number>([
  // The mesh's own refusals and failures (src/core/errors.ts and the policies).
  ['PROXYLESS_ERR_NO_HEALTHY_UPSTREAM', ResponseFlag.UH],
  ['PROXYLESS_ERR_NO_ENDPOINTS', ResponseFlag.UH],
  ['PROXYLESS_ERR_DISCOVERY_TIMEOUT', ResponseFlag.UH],
  ['PROXYLESS_ERR_SOURCE_CLOSED', ResponseFlag.UH],
  ['PROXYLESS_ERR_OVERLOADED', ResponseFlag.UO],
  ['PROXYLESS_ERR_CIRCUIT_OPEN', ResponseFlag.UO],
  ['PROXYLESS_ERR_TIMEOUT', ResponseFlag.UT],
  ['PROXYLESS_ERR_PER_TRY_TIMEOUT', ResponseFlag.UT],
  ['PROXYLESS_ERR_DEADLINE_EXCEEDED', ResponseFlag.UT],
  ['PROXYLESS_ERR_UNKNOWN_SERVICE', ResponseFlag.NR],
  ['PROXYLESS_ERR_MESH_CLOSED', ResponseFlag.LR],
  ['PROXYLESS_ERR_CLOSE_TIMEOUT', ResponseFlag.LR],
  ['PROXYLESS_ERR_INVALID_REQUEST', ResponseFlag.DPE],
  ['PROXYLESS_ERR_DNS', ResponseFlag.DF],
  // undici.
  ['UND_ERR_CONNECT_TIMEOUT', ResponseFlag.UF],
  ['UND_ERR_HEADERS_TIMEOUT', ResponseFlag.UT],
  ['UND_ERR_BODY_TIMEOUT', ResponseFlag.UT],
  ['UND_ERR_SOCKET', ResponseFlag.UC],
  ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', ResponseFlag.UPE],
  ['UND_ERR_HEADERS_OVERFLOW', ResponseFlag.UPE],
  ['UND_ERR_RES_EXCEEDED_MAX_SIZE', ResponseFlag.UPE],
  ['UND_ERR_ABORTED', ResponseFlag.DC],
  ['UND_ERR_ABORT', ResponseFlag.DC],
  ['ABORT_ERR', ResponseFlag.DC],
  ['UND_ERR_CLOSED', ResponseFlag.LR],
  ['UND_ERR_DESTROYED', ResponseFlag.LR],
  ['ERR_HTTP2_STREAM_CANCEL', ResponseFlag.LR],
  ['ERR_HTTP2_STREAM_ERROR', ResponseFlag.UR],
  ['ERR_HTTP2_GOAWAY_SESSION', ResponseFlag.UC],
  ['ERR_HTTP2_SESSION_ERROR', ResponseFlag.UC],
  // Node's sockets and name resolution.
  ...NO_CONNECTION_CODES.map((code) => [code, ResponseFlag.UF] as [string, number]),
  ['ECONNRESET', ResponseFlag.UC],
  ['ECONNABORTED', ResponseFlag.UC],
  ['EPIPE', ResponseFlag.UC],
  ['ETIMEDOUT', ResponseFlag.UC],
  // OpenSSL certificate verification: the handshake failed.
  ...CERTIFICATE_FAILURE_CODES.map((code) => [code, ResponseFlag.UF] as [string, number]),
]);

/** The flag one error object's own fields name, or 0. */
function flagOfOne(error: object): number {
  const e = error as { code?: unknown; syscall?: unknown; name?: unknown; http2ErrorCode?: unknown };
  const code = e.code;
  if (typeof code === 'string') {
    if (typeof e.syscall === 'string' && CONNECT_SYSCALLS.has(e.syscall)) return ResponseFlag.UF;
    const flag = BY_CODE.get(code);
    if (flag !== undefined) return flag;
    if (code.startsWith('HPE_')) return ResponseFlag.UPE;
    if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) return ResponseFlag.UF;
  }
  if (typeof e.http2ErrorCode === 'number') return ResponseFlag.UR;
  // undici's llhttp errors do not always carry an HPE_ code.
  if (e.name === 'HTTPParserError') return ResponseFlag.UPE;
  // The caller's AbortSignal: abort() and AbortSignal.timeout() both end the call from the caller's side.
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return ResponseFlag.DC;
  return 0;
}

/**
 * The response flag an error stands for, as a mask (0 when it names none). The error's
 * `cause` chain is read too, 4 deep, the outermost flag winning: the mesh wraps causes
 * (a per-try timeout wraps undici's abort, which alone would read as the caller's).
 */
export function responseFlagOfError(error: unknown): number {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const flag = flagOfOne(current);
    if (flag !== 0) return flag;
    current = (current as { cause?: unknown }).cause;
  }
  return 0;
}

/** What the mesh knows about a call beyond its error, for {@link responseFlagsOf}. */
export interface CallFlagContext {
  /** A fault injection delayed the call (DI). */
  readonly faultDelayed?: boolean;
  /** A fault injection aborted the call (FI). */
  readonly faultAborted?: boolean;
  /** The last try failed in a retriable way and no retry was left (URX). */
  readonly retryLimitReached?: boolean;
  /** A retry was refused by the retry budget (UO, as Envoy's retry overflow). */
  readonly retryBudgetExhausted?: boolean;
  /** No route matched the request (NR). */
  readonly noRoute?: boolean;
  /** The caller aborted the call (DC), whatever error that surfaced as. */
  readonly callerAborted?: boolean;
}

/**
 * The response flags of one call or try, as a mask: the error's flag (see
 * {@link responseFlagOfError}) and what the mesh knows beyond it. Allocates nothing.
 *
 * @param error what the call ended with (undefined for a response)
 * @param context what the layers saw
 */
export function responseFlagsOf(error: unknown, context?: CallFlagContext): number {
  let mask = error === undefined ? 0 : responseFlagOfError(error);
  if (context !== undefined) {
    if (context.callerAborted === true) mask = (mask & ~ResponseFlag.UT) | ResponseFlag.DC;
    if (context.faultDelayed === true) mask |= ResponseFlag.DI;
    if (context.faultAborted === true) mask |= ResponseFlag.FI;
    if (context.retryLimitReached === true) mask |= ResponseFlag.URX;
    if (context.retryBudgetExhausted === true) mask |= ResponseFlag.UO;
    if (context.noRoute === true) mask |= ResponseFlag.NR;
  }
  return mask;
}

/**
 * The status code a sidecar would have answered with, for a call that ended with
 * `mask` and no response: the status of the highest-priority flag (Envoy's order), or 0
 * when none applies (the caller went away, or nothing is known). A fault abort's status
 * is the configured one, so FI alone gives 0 here: pass the fault's status instead.
 */
export function sidecarStatusOf(mask: number): number {
  for (const info of RESPONSE_FLAGS) {
    if ((mask & info.bit) !== 0 && info.status !== undefined) return info.status;
  }
  return 0;
}
