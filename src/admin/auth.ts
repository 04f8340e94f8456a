import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopback } from './options.js';

/**
 * Compares a presented token with the configured one in constant time: both are hashed
 * first (SHA-256), so neither their lengths nor their first differing byte shows in the
 * time taken.
 */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token a request presents: `Authorization: Bearer <token>`, or (GET only) `?token=`. */
export function presentedToken(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string' && /^bearer /i.test(header)) return header.slice(7).trim();
  if (req.method === 'GET' || req.method === 'HEAD') return query.get('token') ?? undefined;
  return undefined;
}

/**
 * Whether the request's `Host` names this server as a loopback client would: a loopback
 * address, `localhost`, or the configured host. A browser page of another site that
 * rebinds its DNS name to 127.0.0.1 sends its own name, and is refused (DNS rebinding).
 */
export function hostAllowed(req: IncomingMessage, configuredHost: string): boolean {
  const host = req.headers.host;
  if (host === undefined) return true; // HTTP/1.0 clients such as curl -0; no browser omits it
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return isLoopback(name) || name.toLowerCase() === configuredHost.toLowerCase() || name.toLowerCase() === `[${configuredHost.toLowerCase()}]`;
}
