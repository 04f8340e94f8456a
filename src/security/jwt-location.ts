/**
 * Where a RequestAuthentication rule looks for a token (JWTRule `fromHeaders`,
 * `fromParams`, `fromCookies`; with none of them, `Authorization: Bearer <token>` and the
 * `access_token` query parameter, as Envoy's JWT filter defaults them). A header's
 * prefix is compared without regard to ASCII case (HTTP's authentication schemes are
 * case-insensitive) and the token is what follows it, trimmed.
 *
 * @module
 */

/** The parts of a request a token can be in. */
export interface TokenRequest {
  /** The HTTP method. */
  readonly method: string;
  /** The request target as received: path and query (`/a?access_token=...`). */
  readonly url: string;
  /** A header by its lower-case name; undefined when absent. */
  header(name: string): string | undefined;
}

/** One place a token may be. */
export type TokenLocation = HeaderTokenLocation | NamedTokenLocation;

/** A header a token may be in. */
export interface HeaderTokenLocation {
  /** A header. */
  readonly kind: 'header';
  /** Its lower-case name. */
  readonly name: string;
  /** What precedes the token. */
  readonly prefix: string;
}

/** A query parameter or cookie a token may be in. */
export interface NamedTokenLocation {
  /** A query parameter or a cookie. */
  readonly kind: 'param' | 'cookie';
  /** Its name. */
  readonly name: string;
}

/** Tokens longer than this are refused without being parsed. */
export const MAX_TOKEN_LENGTH = 32 * 1024;

/** The locations of a rule (Envoy's defaults when it names none). */
export function tokenLocations(rule: { readonly fromHeaders?: readonly { readonly name: string; readonly prefix?: string | undefined }[] | undefined; readonly fromParams?: readonly string[] | undefined; readonly fromCookies?: readonly string[] | undefined }): TokenLocation[] {
  const out: TokenLocation[] = [
    ...(rule.fromHeaders ?? []).map((h): TokenLocation => ({ kind: 'header', name: h.name.toLowerCase(), prefix: h.prefix ?? '' })),
    ...(rule.fromParams ?? []).map((name): TokenLocation => ({ kind: 'param', name })),
    ...(rule.fromCookies ?? []).map((name): TokenLocation => ({ kind: 'cookie', name })),
  ];
  return out.length > 0 ? out : [{ kind: 'header', name: 'authorization', prefix: 'Bearer ' }, { kind: 'param', name: 'access_token' }];
}

function startsWithIgnoreCase(value: string, prefix: string): boolean {
  if (value.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    let a = value.charCodeAt(i);
    let b = prefix.charCodeAt(i);
    if (a >= 65 && a <= 90) a += 32;
    if (b >= 65 && b <= 90) b += 32;
    if (a !== b) return false;
  }
  return true;
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/** The value of query parameter `name` in `url`, or undefined. */
function queryParam(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const hash = url.indexOf('#', q);
  const end = hash < 0 ? url.length : hash;
  let at = q + 1;
  while (at < end) {
    let amp = url.indexOf('&', at);
    if (amp < 0 || amp > end) amp = end;
    const eq = url.indexOf('=', at);
    const keyEnd = eq >= 0 && eq < amp ? eq : amp;
    if (keyEnd - at === name.length ? url.startsWith(name, at) : decode(url.slice(at, keyEnd)) === name) {
      return eq >= 0 && eq < amp ? decode(url.slice(eq + 1, amp)) : '';
    }
    at = amp + 1;
  }
  return undefined;
}

/** The value of cookie `name` in a `Cookie` header, or undefined. */
function cookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
    }
  }
  return undefined;
}

/** A token found, and where. */
export interface FoundToken {
  /** The token. */
  readonly token: string;
  /** Where it was. */
  readonly location: TokenLocation;
}

/** The tokens found at `locations` (empty, and nothing allocated, when there is none). */
export function findTokens(req: TokenRequest, locations: readonly TokenLocation[]): FoundToken[] | undefined {
  let found: FoundToken[] | undefined;
  for (let i = 0; i < locations.length; i++) {
    const location = locations[i]!;
    let token: string | undefined;
    if (location.kind === 'header') {
      const value = req.header(location.name);
      if (value !== undefined && startsWithIgnoreCase(value, location.prefix)) token = value.slice(location.prefix.length).trim();
    } else if (location.kind === 'param') {
      if (req.url.includes('?')) token = queryParam(req.url, location.name);
    } else {
      token = cookie(req.header('cookie'), location.name);
    }
    if (token !== undefined && token !== '') (found ??= []).push({ token, location });
  }
  return found;
}

/** Whether a request is a CORS preflight (it bypasses token checks, as in Envoy). */
export function isCorsPreflight(req: TokenRequest): boolean {
  return req.method === 'OPTIONS' && req.header('origin') !== undefined && req.header('access-control-request-method') !== undefined;
}
