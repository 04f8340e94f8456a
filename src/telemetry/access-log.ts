/**
 * The access log: one JSON object per logical call (or per try), with the fields of
 * Envoy's default access log under the names Istio's JSON encoding uses, written through
 * a logger the application passes (pino, or anything with `info(obj, msg)`) or as one
 * line on stdout.
 *
 * It never fails a request: a logger or filter that throws (or returns a rejected
 * promise) is reported once as a warning (`PROXYLESS_W_ACCESS_LOG`) and the entry is
 * dropped. Entries are bounded: each text field is cut to a fixed length (the path to
 * `maxPathLength`), so a hostile URL or header cannot make a line of any size.
 */

/** A pino-compatible logger: `info(obj, msg)` is all the access log calls. */
export interface AccessLogger {
  /** Logs `obj` (the entry) with an optional message. */
  info(obj: object, msg?: string): unknown;
}

/** Which entries are written. */
export type AccessLogFilter = 'all' | 'errors' | ((entry: AccessLogEntry) => boolean);

/** Options of the access log (`telemetry.accessLog`); every field is optional. */
export interface AccessLogOptions {
  /** Where entries go: a pino-compatible logger. Default: one JSON line per entry on stdout. */
  logger?: AccessLogger;
  /** One entry per logical `call` (default) or per `attempt` (each retry, hedge and mirror). */
  per?: 'call' | 'attempt';
  /** The fraction of entries written, from 0 to 1. Default 1 (all). */
  sampling?: number;
  /**
   * `all` (default); `errors`: entries with no response, a status of 400 or more, or a
   * response flag; or a function that returns true for entries to write.
   */
  filter?: AccessLogFilter;
  /** The most characters of the path written (the rest is cut and marked `...`). From 16 to 65536; default 1024. */
  maxPathLength?: number;
}

/**
 * One access log entry. The names are those of Istio's JSON access log (Envoy's default
 * fields); `null` where a value is not known, as Envoy's JSON format writes it.
 */
export interface AccessLogEntry {
  /** When the call (or try) began, ISO 8601 with milliseconds. */
  start_time: string;
  /** The request method. */
  method: string;
  /** The path and query as sent (cut to `maxPathLength`). */
  path: string;
  /**
   * The HTTP version, as Envoy's `%PROTOCOL%` writes it: `HTTP/1.1`, `HTTP/1.0`, `HTTP/2`.
   * Inbound: what the request arrived in. Outbound: what the connection to the upstream
   * speaks (HTTP/2 when TLS negotiated `h2`, else HTTP/1.1), as the mesh's connectors saw
   * it; `null` when that is not known (no connection made, or a pool a custom layer built).
   */
  protocol: string | null;
  /** The status the caller got; 0 when it got none. */
  response_code: number;
  /** Envoy's response flags, `-` for none (`UF,URX`). */
  response_flags: string;
  /** Request body bytes (outbound: sent by the application; inbound: received from the caller). */
  bytes_received: number;
  /** Response body bytes (outbound: delivered to the application; inbound: sent to the caller). */
  bytes_sent: number;
  /** Milliseconds from start to the end of the response (or the error). */
  duration: number;
  /** The endpoint that answered (or the last tried), `address:port`. */
  upstream_host: string | null;
  /** Istio's cluster name: `outbound|9080|v1|reviews.default.svc.cluster.local`. */
  upstream_cluster: string | null;
  /** The request's authority (Host). */
  authority: string | null;
  /** The VirtualService route that served the call. */
  route_name: string | null;
  /** The `user-agent` request header. */
  user_agent: string | null;
  /** The `x-request-id` request header. */
  request_id: string | null;
  /** Tries sent for the call (per-try entries: this try's number). */
  attempts: number;
  /** The trace id of the call's span, when traced. */
  trace_id: string | null;
  /** `outbound` for mesh calls, `inbound` for requests a server received. */
  direction: 'outbound' | 'inbound';
  /** Inbound only: the caller's address. */
  downstream_remote_address?: string | null;
}

/** The default of `maxPathLength`. */
export const DEFAULT_MAX_PATH_LENGTH = 1024;
/** The most characters written for other text fields (authority, user agent, request id, names). */
export const MAX_FIELD_LENGTH = 256;
const MAX_METHOD_LENGTH = 32;

/** Envoy's name of an HTTP version as Node reports it (`req.httpVersion`): `2.0` is `HTTP/2`, `1.1` is `HTTP/1.1`. */
export function protocolName(httpVersion: string): string {
  return httpVersion === '2.0' || httpVersion === '2' ? 'HTTP/2' : `HTTP/${httpVersion.slice(0, 8)}`;
}

/** Cuts `text` to `max` characters, marking the cut with `...`; null stays null. */
function cut(text: string | null | undefined, max: number): string | null {
  if (text === null || text === undefined) return null;
  if (typeof text !== 'string') return null;
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** Whether an entry is an error for the `errors` filter. */
export function isErrorEntry(entry: Pick<AccessLogEntry, 'response_code' | 'response_flags'>): boolean {
  return entry.response_code === 0 || entry.response_code >= 400 || entry.response_flags !== '-';
}

/**
 * Istio's name for an upstream cluster: `outbound|<port>|<subset>|<fqdn>` (inbound:
 * `inbound|<port>||`). Passthrough traffic is `PassthroughCluster`.
 */
export function clusterName(direction: 'outbound' | 'inbound', port: number, subset: string | undefined, service: string | undefined): string {
  if (service === undefined) return direction === 'outbound' ? 'PassthroughCluster' : `inbound|${port}||`;
  return `${direction}|${port}|${subset ?? ''}|${service}`;
}

/** Writes to stdout, one JSON line per entry. */
const stdoutLogger: AccessLogger = {
  info(obj) {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
  },
};

/**
 * The access log of one mesh or server. The layers ask {@link AccessLog.sample} before
 * building an entry (so sampled-out calls cost one random number), then call
 * {@link AccessLog.write}.
 */
export class AccessLog {
  /** One entry per logical call or per try. */
  readonly per: 'call' | 'attempt';
  readonly #logger: AccessLogger;
  readonly #sampling: number;
  readonly #filter: AccessLogFilter;
  readonly #maxPath: number;
  readonly #random: () => number;
  #warned = false;

  /**
   * @param options checked options (see resolveAccessLogOptions in options.ts)
   * @param random the random source for sampling (tests pass their own)
   */
  constructor(options: AccessLogOptions = {}, random: () => number = Math.random) {
    this.per = options.per ?? 'call';
    this.#logger = options.logger ?? stdoutLogger;
    this.#sampling = options.sampling ?? 1;
    this.#filter = options.filter ?? 'all';
    this.#maxPath = options.maxPathLength ?? DEFAULT_MAX_PATH_LENGTH;
    this.#random = random;
  }

  /** Whether to build an entry for this call at all (the sampling decision). */
  sample(): boolean {
    return this.#sampling >= 1 || (this.#sampling > 0 && this.#random() < this.#sampling);
  }

  /**
   * Filters, bounds and writes one entry. Never throws; a failing logger or filter is
   * reported once (`PROXYLESS_W_ACCESS_LOG`) and its entries are dropped.
   */
  write(entry: AccessLogEntry): void {
    try {
      const filter = this.#filter;
      if (filter === 'errors' ? !isErrorEntry(entry) : typeof filter === 'function' && filter(entry) !== true) return;
      const bounded: AccessLogEntry = {
        start_time: entry.start_time,
        method: cut(entry.method, MAX_METHOD_LENGTH) ?? '-',
        path: cut(entry.path, this.#maxPath) ?? '-',
        protocol: entry.protocol,
        response_code: entry.response_code,
        response_flags: entry.response_flags,
        bytes_received: entry.bytes_received,
        bytes_sent: entry.bytes_sent,
        duration: entry.duration,
        upstream_host: cut(entry.upstream_host, MAX_FIELD_LENGTH),
        upstream_cluster: cut(entry.upstream_cluster, MAX_FIELD_LENGTH),
        authority: cut(entry.authority, MAX_FIELD_LENGTH),
        route_name: cut(entry.route_name, MAX_FIELD_LENGTH),
        user_agent: cut(entry.user_agent, MAX_FIELD_LENGTH),
        request_id: cut(entry.request_id, MAX_FIELD_LENGTH),
        attempts: entry.attempts,
        trace_id: cut(entry.trace_id, 32),
        direction: entry.direction,
      };
      if (entry.direction === 'inbound') bounded.downstream_remote_address = cut(entry.downstream_remote_address, MAX_FIELD_LENGTH);
      const result = this.#logger.info(bounded, 'access');
      // An async logger's rejection would otherwise become an unhandled rejection.
      if (typeof (result as Promise<unknown> | undefined)?.then === 'function') {
        (result as Promise<unknown>).then(undefined, (error: unknown) => this.#report(error));
      }
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    let text: string;
    try {
      text = error instanceof Error ? String(error.message) : String(error);
    } catch {
      text = 'an error that cannot be printed';
    }
    process.emitWarning(
      `the access log's logger or filter threw (${text.slice(0, 200)}); the entry was dropped, requests go on, and later failures are not reported`,
      { code: 'PROXYLESS_W_ACCESS_LOG' },
    );
  }
}
