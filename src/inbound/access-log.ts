import * as z from 'zod';
import { InvalidOptionError } from '../core/errors.js';
import { formatIssues } from '../core/validate.js';
import type { InboundExchange } from './exchange.js';

/** One inbound access log entry: Envoy's default fields, as JSON. */
export interface InboundAccessLogEntry {
  /** When the request entered the inbound stack (ISO 8601). */
  readonly start_time: string;
  /** Always `inbound`. */
  readonly direction: 'inbound';
  /** The request method. */
  readonly method: string;
  /** The request target (path and query, at most 1024 characters). */
  readonly path: string;
  /** `HTTP/1.1`, `HTTP/2.0`. */
  readonly protocol: string;
  /** The status sent; 0 when the caller went away before one was. */
  readonly response_code: number;
  /** Envoy response flags (`RL`, `UT`, `OM`, `DC`, `LH`, ...), or `-`. */
  readonly response_flags: string;
  /** The request body size, from `content-length`. */
  readonly bytes_received: number;
  /** The response body size, from `content-length`. */
  readonly bytes_sent: number;
  /** Milliseconds from entering the stack to the end of the response. */
  readonly duration: number;
  /** The route template, when known. */
  readonly route: string | undefined;
  /** The `host` header. */
  readonly authority: string | undefined;
  /** The `user-agent` header. */
  readonly user_agent: string | undefined;
  /** The `x-forwarded-for` header. */
  readonly x_forwarded_for: string | undefined;
  /** The `x-request-id` header. */
  readonly request_id: string | undefined;
  /** The caller's address. */
  readonly downstream_remote_address: string | undefined;
  /** The caller's trace id, when it sent one. */
  readonly trace_id: string | undefined;
}

/** A pino-compatible logger: `info(object, message?)`. */
export interface AccessLogger {
  /** Writes one entry (pino's signature: an object, then an optional message). */
  info(entry: object, message?: string): void;
}

/** Inbound access log options. */
export interface InboundAccessLogOptions {
  /** Where lines go: a pino-compatible logger. Default: one JSON line per request on stdout. */
  logger?: AccessLogger;
  /** Share of requests logged, 0 to 1. Default 1. */
  sampling?: number;
  /** Logs only the entries it returns true for (e.g. `(e) => e.response_code >= 500`). It must not throw. */
  filter?: (entry: InboundAccessLogEntry) => boolean;
}

/** Validated access log options. */
export interface AccessLogSettings {
  readonly logger: AccessLogger | undefined;
  readonly sampling: number;
  readonly filter: ((entry: InboundAccessLogEntry) => boolean) | undefined;
}

const schema = z.strictObject({
  logger: z.custom<AccessLogger>((v) => typeof (v as AccessLogger | null)?.info === 'function', { error: 'a logger with info(object, message?)' }).optional(),
  sampling: z.number().min(0).max(1).optional(),
  filter: z.custom<(entry: InboundAccessLogEntry) => boolean>((v) => typeof v === 'function', { error: 'a function (entry) => boolean' }).optional(),
});

/** Validates {@link InboundAccessLogOptions}; throws `InvalidOptionError`. */
export function accessLogSettings(options: InboundAccessLogOptions, where: string): AccessLogSettings {
  const result = schema.safeParse(options, { reportInput: true });
  if (!result.success) throw new InvalidOptionError(where, formatIssues(result.error.issues, 'telemetry.accessLog'));
  return { logger: result.data.logger, sampling: result.data.sampling ?? 1, filter: result.data.filter };
}

/** Longest path written (a request target can be 16 KB). */
const MAX_PATH = 1024;

/** Writes entries; a logger or filter that throws is reported once and never reaches a request. */
export class AccessLogWriter {
  readonly #settings: AccessLogSettings;
  #reported = false;

  constructor(settings: AccessLogSettings) {
    this.#settings = settings;
  }

  /** Writes the entry of an ended exchange (sampled and filtered). */
  write(x: InboundExchange, route: string | undefined, status: number | undefined, seconds: number): void {
    const s = this.#settings;
    if (s.sampling < 1 && Math.random() >= s.sampling) return;
    const req = x.req;
    const url = req.url ?? '/';
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return v === undefined ? undefined : (Array.isArray(v) ? v.join(',') : v).slice(0, 256);
    };
    const entry: InboundAccessLogEntry = {
      start_time: new Date(x.startedEpoch).toISOString(),
      direction: 'inbound',
      method: (req.method ?? '').slice(0, 32),
      path: url.length > MAX_PATH ? url.slice(0, MAX_PATH) : url,
      protocol: `HTTP/${req.httpVersion}`,
      response_code: status ?? 0,
      response_flags: x.flags ?? '-',
      bytes_received: Number(req.headers['content-length']) || 0,
      bytes_sent: Number(x.res.getHeader('content-length')) || 0,
      duration: Math.round(seconds * 1000),
      route,
      authority: header('host'),
      user_agent: header('user-agent'),
      x_forwarded_for: header('x-forwarded-for'),
      request_id: header('x-request-id'),
      downstream_remote_address: req.socket.remoteAddress,
      trace_id: x.trace?.traceId,
    };
    try {
      if (s.filter !== undefined && !s.filter(entry)) return;
      if (s.logger !== undefined) s.logger.info(entry, 'access');
      else process.stdout.write(`${JSON.stringify(entry)}\n`);
    } catch (error) {
      if (this.#reported) return;
      this.#reported = true;
      process.emitWarning(`proxyless inbound access log: the logger or filter threw (reported once; lines may be missing): ${error instanceof Error ? error.message : String(error)}`, {
        code: 'PROXYLESS_W_ACCESS_LOG',
      });
    }
  }
}
