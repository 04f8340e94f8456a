import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { InvalidOptionError } from '../core/errors/index.js';
import { formatValue } from '../core/validate.js';
import type { IdentitySource } from '../tls/identity-source.js';

/** A logger whose level the admin's `POST /log_level` may change (pino's shape). */
export interface AdminLogger {
  /** The level in force, e.g. `info`. */
  level: string;
}

/**
 * Where `/stats/prometheus` reads its text: OpenTelemetry's `PrometheusExporter` (its
 * `getMetricsRequestHandler`), or a function giving the exposition text.
 */
export type PrometheusSource = PrometheusExporterLike | (() => string | Promise<string>);

/** OpenTelemetry's `PrometheusExporter`, as far as the admin uses it. */
export interface PrometheusExporterLike {
  /** Answers a scrape. */
  getMetricsRequestHandler(req: IncomingMessage, res: ServerResponse): void;
}

/** Options of `mesh.admin()` and {@link createAdminHandler}. Every field is validated. */
export interface AdminOptions {
  /** TCP port; 0 (default) picks a free one (see `AdminServer.url`). */
  port?: number;
  /**
   * The address to listen on. Default `127.0.0.1`. Any address that is not loopback
   * needs a `token`: the admin shows the config and can drain the process.
   */
  host?: string;
  /**
   * The shared secret of `Authorization: Bearer <token>` (or `?token=` for the
   * dashboard, whose EventSource cannot send headers): 16 to 512 visible ASCII
   * characters. Mutating endpoints (`POST /drain`, `POST /log_level`) need it, and are
   * refused when no token is set; reads need it too when `protectReads` is true.
   */
  token?: string;
  /** Whether reads need the token as well. Default: true when a token is set and the host is not loopback, else false. */
  protectReads?: boolean;
  /** How often the dashboard's snapshot is taken and pushed, in ms: 100 to 60000. Default 1000. */
  intervalMs?: number;
  /** Most dashboard event streams open at once: 1 to 10000. Default 32; more get 503. */
  maxStreams?: number;
  /** Most sockets the admin server keeps at once: 1 to 100000. Default 256. */
  maxConnections?: number;
  /** The logger `POST /log_level` changes (e.g. pino's); without one that endpoint answers 404. */
  logger?: AdminLogger;
  /** Where `/stats/prometheus` comes from; without one it answers 404. */
  prometheus?: PrometheusSource;
  /** This workload's identity, shown by `/certs` (404 without one); its rotations appear in the dashboard's events. */
  identity?: IdentitySource;
}

/** {@link AdminOptions} checked, with defaults. */
export interface ResolvedAdminOptions {
  readonly port: number;
  readonly host: string;
  readonly token: string | undefined;
  readonly protectReads: boolean;
  readonly intervalMs: number;
  readonly maxStreams: number;
  readonly maxConnections: number;
  readonly logger: AdminLogger | undefined;
  readonly prometheus: PrometheusSource | undefined;
  readonly identity: IdentitySource | undefined;
}

const KNOWN = new Set(['port', 'host', 'token', 'protectReads', 'intervalMs', 'maxStreams', 'maxConnections', 'logger', 'prometheus', 'identity']);

/** True for 127.0.0.0/8, ::1, `localhost` and IPv4-mapped loopback. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Checks admin options. Throws `InvalidOptionError` naming each bad field, and refuses a
 * non-loopback host without a token (the admin would show the config to the network and
 * let it drain the process).
 */
export function resolveAdminOptions(options: AdminOptions | undefined, where = 'mesh.admin'): ResolvedAdminOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new InvalidOptionError(where, [`options: ${formatValue(options)} (expected: an object)`]);
  }
  const o = (options ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(o)) if (!KNOWN.has(key)) problems.push(`${key}: unknown option (expected one of ${[...KNOWN].join(', ')})`);
  const int = (key: string, min: number, max: number, fallback: number): number => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) problems.push(`${key}: ${formatValue(v)} (expected: an integer from ${min} to ${max})`);
    return v as number;
  };
  const port = int('port', 0, 65535, 0);
  const intervalMs = int('intervalMs', 100, 60_000, 1000);
  const maxStreams = int('maxStreams', 1, 10_000, 32);
  const maxConnections = int('maxConnections', 1, 100_000, 256);
  const host = o.host === undefined ? '127.0.0.1' : o.host;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255 || !/^[A-Za-z0-9.:_[\]-]+$/.test(host)) {
    problems.push(`host: ${formatValue(o.host)} (expected: an IP address or host name)`);
  }
  const token = o.token;
  if (token !== undefined && (typeof token !== 'string' || !/^[\x21-\x7e]{16,512}$/.test(token))) {
    problems.push(`token: ${typeof token === 'string' ? `a string of ${token.length} characters` : formatValue(token)} (expected: 16 to 512 visible ASCII characters, no spaces)`);
  }
  if (o.protectReads !== undefined && typeof o.protectReads !== 'boolean') problems.push(`protectReads: ${formatValue(o.protectReads)} (expected: true or false)`);
  const logger = o.logger as AdminLogger | undefined;
  if (logger !== undefined && (typeof logger !== 'object' || logger === null || typeof logger.level !== 'string')) {
    problems.push(`logger: ${formatValue(logger)} (expected: a logger with a string \`level\` property, such as pino's)`);
  }
  const prometheus = o.prometheus as PrometheusSource | undefined;
  if (prometheus !== undefined && typeof prometheus !== 'function' && typeof (prometheus as { getMetricsRequestHandler?: unknown })?.getMetricsRequestHandler !== 'function') {
    problems.push(`prometheus: ${formatValue(prometheus)} (expected: OpenTelemetry's PrometheusExporter, or a function returning the exposition text)`);
  }
  const identity = o.identity as IdentitySource | undefined;
  if (identity !== undefined && typeof (identity as { current?: unknown })?.current !== 'function') {
    problems.push(`identity: ${formatValue(identity)} (expected: an IdentitySource, with current())`);
  }
  if (problems.length > 0) throw new InvalidOptionError(where, problems);
  const loopback = isLoopback(host as string);
  if (!loopback && token === undefined) {
    throw new InvalidOptionError(where, [
      `host: ${formatValue(host)} is not a loopback address, and no token is set (expected: a token, since the admin server shows the config and can drain this process; or host 127.0.0.1)`,
    ]);
  }
  return {
    port,
    host: host as string,
    token: token as string | undefined,
    protectReads: (o.protectReads as boolean | undefined) ?? (token !== undefined && !loopback),
    intervalMs,
    maxStreams,
    maxConnections,
    logger,
    prometheus,
    identity,
  };
}
