import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { IpBlockSet } from './ip-match.js';

/**
 * Fetching key sets and OpenID discovery documents: bounded in time and size, and, as
 * Istio's control plane does (istio/istio pilot/pkg/model/jwks_resolver.go,
 * pkg/security/dial.go), never from a link-local address (169.254.0.0/16, fe80::/10,
 * which hold cloud metadata services) or a known cloud metadata address, whether the URI
 * names one or its host name resolves to one: a JWKS URI in a policy must not become a
 * way to read the instance's credentials.
 *
 * @module
 */

/** Addresses key sets are never fetched from. */
const BLOCKED = new IpBlockSet(['169.254.0.0/16', 'fe80::/10', '224.0.0.0/24', 'ff02::/16', '100.100.100.200/32', 'fd00:ec2::/32']);

/** Why `address` may not be fetched from, or undefined. */
export function blockedAddressProblem(address: string): string | undefined {
  return BLOCKED.matches(address) ? `${address} is a link-local or cloud metadata address, which key sets are never fetched from` : undefined;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `dns.lookup`-shaped function. */
export type Lookup = (hostname: string, options: LookupOptions & { all: true }, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** `lookup` refusing blocked addresses (what the connection would reach), in the shape net.connect takes. */
export function guardedLookup(lookup: Lookup = dnsLookup as unknown as Lookup) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => guarded(lookup, hostname, options, callback);
}

function guarded(lookup: Lookup, hostname: string, options: LookupOptions, callback: LookupCallback): void {
  lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, options.all ? [] : '', 0);
    const list = addresses as LookupAddress[];
    const blocked = list.map((a) => blockedAddressProblem(a.address)).find((p) => p !== undefined);
    if (blocked !== undefined) return callback(Object.assign(new Error(`${hostname} resolves to ${blocked}`), { code: 'EBLOCKED' }), options.all ? [] : '', 0);
    if (options.all) return callback(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
}

let agent: Agent | undefined;

/** The default fetch for key sets: undici with the guarded lookup, no cookies, no credentials. */
export const guardedFetch: typeof globalThis.fetch = ((input: string, init?: RequestInit) => {
  agent ??= new Agent({ connect: { lookup: guardedLookup() as never } });
  return undiciFetch(input, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response>;
}) as unknown as typeof globalThis.fetch;

/** Why a URI may not be fetched (not http(s), or a blocked literal address), or undefined. */
export function fetchUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `${JSON.stringify(uri)} is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${uri} is not an http:// or https:// URL`;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) !== 0 ? blockedAddressProblem(host) : undefined;
}

/** Reads at most `maxBytes` of a response body as text, or throws saying it is larger. */
export async function readBounded(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`the response is ${declared} bytes, more than the ${maxBytes} bytes read`);
  }
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`the response is more than the ${maxBytes} bytes read`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** How {@link fetchText} fetches. */
export interface FetchTextOptions {
  readonly fetch: typeof globalThis.fetch;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** GETs `uri` (a 2xx answer of at most `maxBytes`), or throws saying why not. */
export async function fetchText(uri: string, options: FetchTextOptions): Promise<string> {
  const problem = fetchUriProblem(uri);
  if (problem !== undefined) throw new Error(problem);
  const response = await options.fetch(uri, { signal: AbortSignal.timeout(options.timeoutMs), headers: { accept: 'application/json' }, credentials: 'omit' });
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`status ${response.status}`);
  }
  return readBounded(response, options.maxBytes);
}

/**
 * The `jwks_uri` of an issuer's OpenID discovery document
 * (`<issuer>/.well-known/openid-configuration`), as Istio finds keys for a rule that
 * names an issuer and no keys.
 */
export async function discoverJwksUri(issuer: string, options: FetchTextOptions): Promise<string> {
  const text = await fetchText(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, options);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`the OpenID discovery document of ${issuer} is not JSON`);
  }
  const uri = (doc as { jwks_uri?: unknown } | null)?.jwks_uri;
  if (typeof uri !== 'string') throw new Error(`the OpenID discovery document of ${issuer} has no jwks_uri`);
  return uri;
}
