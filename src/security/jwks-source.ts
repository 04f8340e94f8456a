import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { discoverJwksUri, fetchText, guardedFetch } from './jwks-fetch.js';

/**
 * The keys RequestAuthentication verifies tokens with: an inline `jwks`, or a `jwksUri`
 * (or, for a rule with an issuer and no keys, the `jwks_uri` of the issuer's OpenID
 * discovery document) fetched, cached and refreshed as Istio's control plane does
 * (istio/istio pilot/pkg/model/jwks_resolver.go): fetched on first use with the rule's `timeout`
 * (default 5 s), refreshed every 20 minutes, retried every minute after a failure, and
 * never dropped for an outage: the last good keys keep serving. Never from a link-local or
cloud metadata address (see jwks-fetch.ts). A token whose key id is
 * not in the set also triggers a refresh (the issuer may have rotated its keys), at most
 * once per 30 s, so random key ids cannot make us hammer the issuer. A response is read up
 * to 1 MiB; a larger one, one that is not a key set, or a non-2xx status is a failure.
 *
 * @module
 */

/**
 * A key resolver: the verification key for a token's protected header (what jose's
 * `jwtVerify` takes; declared here so the package's types do not depend on jose's).
 */
export type KeyResolver = (protectedHeader?: Readonly<Record<string, unknown>>, token?: Readonly<Record<string, unknown>>) => Promise<unknown>;

/** A JSON Web Key Set. */
export interface JwksDocument {
  /** The keys (JSON Web Keys). */
  readonly keys: readonly Readonly<Record<string, unknown>>[];
}

/** jose's resolver of a local set, as a {@link KeyResolver}. */
function localKeys(jwks: JwksDocument): KeyResolver {
  return createLocalJWKSet(jwks as unknown as JSONWebKeySet) as unknown as KeyResolver;
}

/**
 * Reads a JWKS text, or throws saying why: a set `{"keys": [...]}`, or (inline only, as
 * Istio's validation accepts it) one key.
 */
export function parseJwks(text: string, requireSet = false): JwksDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
  const keys = (value as { keys?: unknown }).keys;
  if (keys === undefined && requireSet) throw new Error('no "keys" list');
  const list = keys === undefined ? [value] : keys;
  if (!Array.isArray(list)) throw new Error('"keys" is not a list');
  for (const [i, key] of list.entries()) {
    if (key === null || typeof key !== 'object' || Array.isArray(key) || typeof (key as { kty?: unknown }).kty !== 'string') throw new Error(`key ${i} is not a JSON Web Key`);
  }
  return { keys: list as Record<string, unknown>[] };
}

/** Where a rule's keys come from. */
export interface KeySource {
  /** The resolver of the current keys, fetching them first when there are none yet. */
  resolver(): Promise<KeyResolver>;
  /** Asks for fresh keys because a token's key was not found; resolves with the resolver to retry with, or undefined when no fresher keys can be had now. */
  refreshForUnknownKey(): Promise<KeyResolver | undefined>;
}

/** An inline `jwks`. */
export class InlineKeys implements KeySource {
  private readonly keys: KeyResolver;
  /** @throws Error when `text` is not a key set */
  constructor(text: string) {
    this.keys = localKeys(parseJwks(text));
  }
  resolver(): Promise<KeyResolver> {
    return Promise.resolve(this.keys);
  }
  refreshForUnknownKey(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

/** How a {@link RemoteKeys} fetches and refreshes. */
export interface RemoteKeysOptions {
  /** A fetch timeout in ms (the rule's `timeout`; default 5000). */
  readonly timeoutMs?: number;
  /** Refresh period after a success, ms. Default 20 minutes. */
  readonly refreshMs?: number;
  /** Retry period after a failure, ms. Default 1 minute. */
  readonly retryMs?: number;
  /** Least time between two refreshes caused by unknown key ids, ms. Default 30 s. */
  readonly unknownKeyCooldownMs?: number;
  /** Largest response read, bytes. Default 1 MiB. */
  readonly maxBytes?: number;
  /** The fetch to use (default: undici refusing link-local and cloud metadata addresses). */
  readonly fetch?: typeof globalThis.fetch;
  /** Reports fetch failures (the old keys, if any, keep serving). */
  readonly onError?: (error: Error, uri: string) => void;
}

/** Defaults of {@link RemoteKeysOptions}. */
export const JWKS_DEFAULTS = { timeoutMs: 5000, refreshMs: 20 * 60_000, retryMs: 60_000, unknownKeyCooldownMs: 30_000, maxBytes: 1024 * 1024 } as const;

/** Where a remote key set is: a JWKS URI, or an issuer's OpenID discovery document. */
export type RemoteKeysLocation = JwksUriLocation | IssuerLocation;

/** A JWKS URI. */
export interface JwksUriLocation {
  /** The URI. */
  readonly jwksUri: string;
}

/** An issuer whose OpenID discovery document names its JWKS URI. */
export interface IssuerLocation {
  /** The issuer (an http(s) URL). */
  readonly issuer: string;
}

/** A `jwksUri`'s keys, or those an issuer's discovery document names (see the module comment). */
export class RemoteKeys implements KeySource {
  /** The JWKS URI, or `<issuer>/.well-known/openid-configuration` for discovery. */
  readonly uri: string;
  private readonly location: RemoteKeysLocation;
  private readonly options: Required<Omit<RemoteKeysOptions, 'onError' | 'fetch'>> & Pick<RemoteKeysOptions, 'onError'> & { fetch: typeof globalThis.fetch };
  private keys: KeyResolver | undefined;
  private inflight: Promise<KeyResolver | undefined> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastUnknownKeyRefresh = Number.NEGATIVE_INFINITY;
  private closed = false;
  /** The last fetch failure, cleared by a success. */
  lastError: Error | undefined;
  private failedAt = Number.NEGATIVE_INFINITY;
  /** When the current keys were fetched (ms since the epoch), or undefined. */
  fetchedAt: number | undefined;

  constructor(location: RemoteKeysLocation | string, options: RemoteKeysOptions = {}) {
    this.location = typeof location === 'string' ? { jwksUri: location } : location;
    this.uri = 'jwksUri' in this.location ? this.location.jwksUri : `${this.location.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    this.options = { ...JWKS_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)), fetch: options.fetch ?? guardedFetch } as RemoteKeys['options'];
  }

  async resolver(): Promise<KeyResolver> {
    if (this.keys !== undefined) return this.keys;
    // After a failure the retry timer fetches again: tokens arriving meanwhile must not
    // each cause a fetch (a down issuer would get one per request).
    if (this.lastError !== undefined && this.inflight === undefined && Date.now() - this.failedAt < this.options.retryMs) {
      throw new Error(`the key set at ${this.uri} could not be fetched: ${this.lastError.message}`);
    }
    const keys = await this.refresh();
    if (keys === undefined) throw new Error(`the key set at ${this.uri} could not be fetched${this.lastError ? `: ${this.lastError.message}` : ''}`);
    return keys;
  }

  async refreshForUnknownKey(): Promise<KeyResolver | undefined> {
    const now = Date.now();
    if (this.inflight === undefined && now - this.lastUnknownKeyRefresh < this.options.unknownKeyCooldownMs) return undefined;
    this.lastUnknownKeyRefresh = now;
    return this.refresh();
  }

  /** Starts fetching now (the first token need not wait for it). */
  warm(): void {
    if (this.keys === undefined) void this.refresh();
  }

  /** Stops refreshing. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** Fetches now (one fetch at a time): resolves with the keys, or undefined on failure (old keys kept). */
  refresh(): Promise<KeyResolver | undefined> {
    this.inflight ??= this.fetchOnce().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => void this.refresh(), ms);
    this.timer.unref();
  }

  private async fetchOnce(): Promise<KeyResolver | undefined> {
    try {
      const how = { fetch: this.options.fetch, timeoutMs: this.options.timeoutMs, maxBytes: this.options.maxBytes };
      const uri = 'jwksUri' in this.location ? this.location.jwksUri : await discoverJwksUri(this.location.issuer, how);
      const keys = localKeys(parseJwks(await fetchText(uri, how), true));
      this.keys = keys;
      this.lastError = undefined;
      this.fetchedAt = Date.now();
      this.schedule(this.options.refreshMs);
      return keys;
    } catch (error) {
      const cause = error instanceof Error ? error : new Error(String(error));
      const timedOut = cause.name === 'TimeoutError';
      this.failedAt = Date.now();
      this.lastError = new Error(`fetching the key set at ${this.uri} failed: ${timedOut ? `no answer within ${this.options.timeoutMs} ms` : cause.message}`, { cause });
      this.schedule(this.options.retryMs);
      try {
        this.options.onError?.(this.lastError, this.uri);
      } catch {
        // A failing reporter changes nothing.
      }
      return undefined;
    }
  }
}

/**
 * Remote key sets by URI and timeout, shared by every config version so a reload does not
 * refetch keys; {@link JwksCache.retain} closes the ones no longer named.
 */
export class JwksCache {
  private readonly sets = new Map<string, RemoteKeys>();
  constructor(private readonly options: Omit<RemoteKeysOptions, 'timeoutMs'> = {}) {}

  /** The key set at `location` (a JWKS URI, or an issuer to discover it from) fetched with `timeoutMs`. */
  get(location: RemoteKeysLocation | string, timeoutMs: number): RemoteKeys {
    const where = typeof location === 'string' ? { jwksUri: location } : location;
    const key = `${timeoutMs} ${'jwksUri' in where ? `uri ${where.jwksUri}` : `issuer ${where.issuer}`}`;
    let set = this.sets.get(key);
    if (set === undefined) {
      set = new RemoteKeys(where, { ...this.options, timeoutMs });
      this.sets.set(key, set);
    }
    return set;
  }

  /** Closes and forgets the sets not in `inUse`. */
  retain(inUse: ReadonlySet<RemoteKeys>): void {
    for (const [key, set] of this.sets) {
      if (!inUse.has(set)) {
        set.close();
        this.sets.delete(key);
      }
    }
  }

  /** Closes every set. */
  close(): void {
    this.retain(new Set());
  }
}
