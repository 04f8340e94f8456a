import { getServers } from 'node:dns';
import { isIP } from 'node:net';
import * as z from 'zod';
import { InvalidOptionError } from '../../core/errors/index.js';
import { formatIssues, formatValue } from '../../core/validate.js';
import type { DnsOptions } from './types.js';

/** A DNS server as the client uses it. */
export interface DnsServer {
  /** IP address, IPv6 without brackets, in Node's normal form (as `rinfo.address` gives it). */
  readonly address: string;
  /** UDP and TCP port. */
  readonly port: number;
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** `address:port`, IPv6 in brackets: used in messages and state. */
  readonly label: string;
}

/** {@link DnsOptions} validated, with every default filled in. */
export interface ResolvedDnsOptions {
  readonly servers: readonly DnsServer[];
  /** The SRV pattern, or undefined when SRV is off. */
  readonly srvPattern: string | undefined;
  readonly addressFallback: boolean;
  readonly family: 0 | 4 | 6;
  readonly timeout: number;
  readonly attempts: number;
  readonly minTtl: number;
  readonly maxTtl: number;
  readonly maxNegativeTtl: number;
  readonly maxStale: number;
}

/** Defaults of {@link DnsOptions}, in ms where a time. */
export const DNS_DEFAULTS = {
  srvPattern: '_http._tcp.{name}',
  timeout: 1000,
  attempts: 2,
  minTtl: 1000,
  maxTtl: 300_000,
  maxNegativeTtl: 30_000,
  maxStale: 3_600_000,
} as const;

const DAY = 86_400_000;

const ms = (min: number, max: number) =>
  z
    .number({ error: (issue) => (issue.code === 'invalid_type' ? 'a number of milliseconds' : undefined) })
    .int({ error: 'a whole number of milliseconds' })
    .min(min)
    .max(max);

const dnsName = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

const srvSchema = z.strictObject({
  pattern: z
    .string({ error: 'a string such as "_http._tcp.{name}"' })
    .refine((p) => p.includes('{name}') && dnsName.test(p.replaceAll('{name}', 'x')), {
      error: 'a DNS name containing {name}, such as "_http._tcp.{name}"',
    })
    .optional(),
  addressFallback: z.boolean().optional(),
});

const schema = z.strictObject({
  servers: z
    .array(z.string({ error: 'a server address such as "10.0.0.10", "127.0.0.1:5353" or "[::1]:53"' }), {
      error: 'an array of server addresses such as ["10.0.0.10", "127.0.0.1:5353"]',
    })
    .min(1, { error: 'at least one server (leave servers out to use the system resolvers)' })
    .max(16)
    .optional(),
  srv: z.union([z.boolean(), srvSchema], { error: 'true, false, or { pattern?, addressFallback? }' }).optional(),
  family: z.union([z.literal(0), z.literal(4), z.literal(6)], { error: '0 (A and AAAA), 4 (A) or 6 (AAAA)' }).optional(),
  timeout: ms(1, 60_000).optional(),
  attempts: z.number().int({ error: 'an integer' }).min(1).max(10).optional(),
  minTtl: ms(100, DAY).optional(),
  maxTtl: ms(100, 7 * DAY).optional(),
  maxNegativeTtl: ms(100, DAY).optional(),
  maxStale: ms(0, 7 * DAY).optional(),
});

const ALLOWED: Record<string, readonly string[]> = {
  '': Object.keys(schema.shape),
  srv: Object.keys(srvSchema.shape),
};

/**
 * Parses one server as written: `10.0.0.10`, `10.0.0.10:5353`, `::1`, `[::1]`,
 * `[::1]:5353`. Returns the server, or what was expected.
 */
export function parseServer(text: string): DnsServer | string {
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    host = colon >= 0 ? text.slice(0, colon) : text;
    portText = colon >= 0 ? text.slice(colon + 1) : undefined;
    if (host.includes(':')) return 'an IPv6 address, in brackets when a port follows, such as "::1" or "[::1]:5353"';
  }
  const family = isIP(host);
  if (family === 0) return 'an IP address with an optional port, such as "10.0.0.10", "127.0.0.1:5353" or "[::1]:53"';
  let port = 53;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
    if (port < 1 || port > 65535) return 'a port from 1 to 65535';
  }
  // Node reports a reply's source in its normal form; write ours the same way to compare.
  const address = family === 6 ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
  return {
    address,
    port,
    family: family as 4 | 6,
    label: family === 6 ? `[${address}]:${port}` : `${address}:${port}`,
  };
}

/** The system's resolvers (`dns.getServers()`), or 127.0.0.1:53 when none are configured. */
function systemServers(): DnsServer[] {
  const servers: DnsServer[] = [];
  for (const text of getServers()) {
    const parsed = parseServer(text);
    if (typeof parsed !== 'string') servers.push(parsed);
  }
  return servers.length > 0 ? servers : [parseServer('127.0.0.1') as DnsServer];
}

/** Validates {@link DnsOptions} and fills in the defaults; throws {@link InvalidOptionError} listing every problem. */
export function resolveDnsOptions(options: DnsOptions | undefined): ResolvedDnsOptions {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new InvalidOptionError('dns', [`options: ${formatValue(options)} (expected: an object)`]);
  }
  const result = schema.safeParse(options ?? {}, { reportInput: true });
  const problems = result.success
    ? []
    : formatIssues(result.error.issues, '', (path) => ALLOWED[path.join('.')]);
  const o = (result.success ? result.data : {}) as DnsOptions;
  const servers: DnsServer[] = [];
  if (result.success && o.servers) {
    o.servers.forEach((text, index) => {
      const parsed = parseServer(text);
      if (typeof parsed === 'string') problems.push(`servers[${index}]: ${formatValue(text)} (expected: ${parsed})`);
      else servers.push(parsed);
    });
  }
  const minTtl = o.minTtl ?? DNS_DEFAULTS.minTtl;
  const maxTtl = o.maxTtl ?? DNS_DEFAULTS.maxTtl;
  if (result.success && minTtl > maxTtl) {
    problems.push(`maxTtl: ${maxTtl} (expected: >= minTtl, which is ${minTtl})`);
  }
  const maxNegativeTtl = o.maxNegativeTtl ?? DNS_DEFAULTS.maxNegativeTtl;
  if (result.success && minTtl > maxNegativeTtl) {
    problems.push(`maxNegativeTtl: ${maxNegativeTtl} (expected: >= minTtl, which is ${minTtl})`);
  }
  if (problems.length > 0) throw new InvalidOptionError('dns', problems);
  const srv = o.srv === true ? {} : o.srv === false || o.srv === undefined ? undefined : o.srv;
  return {
    servers: o.servers ? servers : systemServers(),
    srvPattern: srv ? (srv.pattern ?? DNS_DEFAULTS.srvPattern).toLowerCase().replace(/\.$/, '') : undefined,
    addressFallback: srv?.addressFallback ?? true,
    family: o.family ?? 0,
    timeout: o.timeout ?? DNS_DEFAULTS.timeout,
    attempts: o.attempts ?? DNS_DEFAULTS.attempts,
    minTtl,
    maxTtl,
    maxNegativeTtl,
    maxStale: o.maxStale ?? DNS_DEFAULTS.maxStale,
  };
}

/** `dns(10.0.0.10)` or `dns(127.0.0.1:5353,10.0.0.11)`: port 53 left out. */
export function sourceName(servers: readonly DnsServer[]): string {
  return `dns(${servers.map((s) => (s.port === 53 ? s.address : s.label)).join(',')})`;
}
