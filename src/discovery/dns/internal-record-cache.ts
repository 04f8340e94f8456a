import { DnsError } from './dns-error.js';
import type { DnsTransport } from './internal-client.js';
import { interpretReply, type SrvRecord } from './internal-message.js';
import { clampTtl, freshness, negativeTtl, nextRetryAt, refreshDelay, retryDelay } from './internal-ttl.js';
import type { DnsRecordType } from './types.js';

/** What the cache knows about one name and type right now. */
export type RecordView =
  | { readonly state: 'pending' }
  | { readonly state: 'addresses'; readonly addresses: readonly string[] }
  | { readonly state: 'srv'; readonly records: readonly SrvRecord[] }
  | { readonly state: 'nxdomain' }
  | { readonly state: 'nodata' }
  /** Every query failed and there is no answer left to serve (none yet, or past `maxStale`). */
  | { readonly state: 'failed'; readonly error: DnsError };

/** Settings of {@link RecordCache}, ms for times. */
export interface RecordCacheOptions {
  readonly sourceName: string;
  readonly family: 0 | 4 | 6;
  readonly minTtl: number;
  readonly maxTtl: number;
  readonly maxNegativeTtl: number;
  readonly maxStale: number;
}

/** What the cache reports to its source. */
export interface RecordCacheHooks {
  /** A number in [0, 1) for jitter. */
  random(): number;
  /** A query was sent (counted once per name, type and refresh). */
  onQuery(): void;
  /** An answer (positive or negative) arrived. */
  onAnswer(): void;
  /** A query failed everywhere (or a CNAME chain did not end). */
  onError(error: DnsError): void;
}

const PENDING: RecordView = Object.freeze({ state: 'pending' });
const NXDOMAIN: RecordView = Object.freeze({ state: 'nxdomain' });
const NODATA: RecordView = Object.freeze({ state: 'nodata' });
const MAX_CNAME_HOPS = 8;

/**
 * One name and record type, shared by every service resolution that needs it, and
 * refreshed in the background for as long as one does. The answer lives for its TTL
 * (clamped), is refreshed between 80 % and 90 % of it, and survives failed refreshes for
 * `maxStale` past its expiry; see `internal-ttl.ts` for each rule.
 */
export class RecordEntry {
  /** The name asked. */
  readonly name: string;
  /** The type asked. */
  readonly type: DnsRecordType;
  /** The current answer; replaced (never mutated) when it changes. */
  view: RecordView = PENDING;
  /** When the current answer expires (ms since the epoch); 0 before the first. */
  expiresAt = 0;
  readonly #cache: RecordCache;
  readonly #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #lastError: DnsError | undefined;
  #querying = false;
  #released = false;

  /** @param cache the owner; @param name the name; @param type the type */
  constructor(cache: RecordCache, name: string, type: DnsRecordType) {
    this.#cache = cache;
    this.name = name;
    this.type = type;
  }

  /** True while the answer is past its TTL and still served because refreshes fail. */
  get stale(): boolean {
    return this.view.state !== 'pending' && this.view.state !== 'failed' && Date.now() >= this.expiresAt;
  }

  /** @internal */
  addListener(listener: () => void): void {
    this.#listeners.add(listener);
  }

  /** @internal returns the listeners left */
  removeListener(listener: () => void): number {
    this.#listeners.delete(listener);
    return this.#listeners.size;
  }

  /** @internal */
  start(): void {
    void this.#query();
  }

  /** @internal stops refreshing; a query in flight is ignored when it ends */
  release(): void {
    this.#released = true;
    this.#listeners.clear();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(at: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(0, at - Date.now()));
    this.#timer.unref?.();
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#released) return;
    const { maxStale } = this.#cache.options;
    if (this.#hasAnswer() && freshness(Date.now(), this.expiresAt, maxStale) === 'expired') {
      // Refreshes kept failing for maxStale past the TTL: stop serving the old answer.
      this.#set({ state: 'failed', error: this.#lastError ?? this.#expiredError() });
    }
    void this.#query();
  }

  #hasAnswer(): boolean {
    return this.view.state !== 'pending' && this.view.state !== 'failed';
  }

  async #query(): Promise<void> {
    if (this.#querying || this.#released || this.#cache.closed) return;
    this.#querying = true;
    this.#cache.hooks.onQuery();
    let outcome: Outcome;
    try {
      outcome = await this.#resolve();
    } catch (error) {
      // Not expected (the transport never rejects); kept as a failure, never thrown.
      outcome = { error: new DnsError(this.#cache.options.sourceName, this.name, this.type, [], 'network', (error as Error).message) };
    } finally {
      this.#querying = false;
    }
    if (this.#released || this.#cache.closed) return;
    if ('error' in outcome) this.#onFailure(outcome.error);
    else this.#onAnswer(outcome.view, outcome.life);
  }

  /** Asks for the name, following a CNAME chain the server left unresolved. */
  async #resolve(): Promise<Outcome> {
    const { sourceName, family, minTtl, maxTtl, maxNegativeTtl } = this.#cache.options;
    let name = this.name;
    let ttl = Infinity;
    for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
      const result = await this.#cache.transport.query(name, this.type);
      if (!result.ok) return { error: new DnsError(sourceName, this.name, this.type, result.attempts) };
      const reply = interpretReply(result.packet, name, this.type, family);
      switch (reply.kind) {
        case 'cname':
          ttl = Math.min(ttl, reply.ttl);
          name = reply.target;
          continue;
        case 'addresses':
          return {
            view: { state: 'addresses', addresses: [...reply.addresses].sort() },
            life: clampTtl(Math.min(ttl, reply.ttl), minTtl, maxTtl),
          };
        case 'srv':
          return { view: { state: 'srv', records: [...reply.records].sort(compareSrv) }, life: clampTtl(Math.min(ttl, reply.ttl), minTtl, maxTtl) };
        default:
          // RFC 2308: the negative answer's own lifetime, from the SOA (the CNAMEs before it do not extend it).
          return { view: reply.kind === 'nxdomain' ? NXDOMAIN : NODATA, life: negativeTtl(reply.soa, minTtl, maxNegativeTtl) };
      }
    }
    return {
      error: new DnsError(sourceName, this.name, this.type, [], 'cname-loop', `CNAME chain longer than ${MAX_CNAME_HOPS} names`),
    };
  }

  #onAnswer(view: RecordView, life: number): void {
    const now = Date.now();
    this.#failures = 0;
    this.expiresAt = now + life;
    this.#cache.hooks.onAnswer();
    this.#set(view);
    this.#schedule(now + refreshDelay(life, this.#cache.hooks.random()));
  }

  #onFailure(error: DnsError): void {
    this.#failures++;
    this.#lastError = error;
    this.#cache.hooks.onError(error);
    const now = Date.now();
    const random = this.#cache.hooks.random();
    if (this.#hasAnswer() && freshness(now, this.expiresAt, this.#cache.options.maxStale) !== 'expired') {
      // Keep serving the last answer (stale once past its TTL); retry, and drop it on time.
      this.#schedule(nextRetryAt(now, this.#failures, random, this.expiresAt + this.#cache.options.maxStale));
      return;
    }
    this.#set({ state: 'failed', error });
    this.#schedule(now + retryDelay(this.#failures, random));
  }

  #expiredError(): DnsError {
    return new DnsError(this.#cache.options.sourceName, this.name, this.type, [], 'timeout', 'no successful refresh within maxStale');
  }

  #set(view: RecordView): void {
    if (sameView(this.view, view)) return;
    this.view = view;
    for (const listener of [...this.#listeners]) listener();
  }
}

type Outcome = { view: RecordView; life: number } | { error: DnsError };

/**
 * The shared, reference-counted cache of DNS answers of one source: each name and
 * type is asked once however many services need it, and refreshed while any does.
 */
export class RecordCache {
  /** @internal */
  readonly transport: DnsTransport;
  /** @internal */
  readonly options: RecordCacheOptions;
  /** @internal */
  readonly hooks: RecordCacheHooks;
  /** @internal */
  closed = false;
  readonly #entries = new Map<string, RecordEntry>();

  /** @param transport sends the queries; @param options TTL rules; @param hooks counters and errors */
  constructor(transport: DnsTransport, options: RecordCacheOptions, hooks: RecordCacheHooks) {
    this.transport = transport;
    this.options = options;
    this.hooks = hooks;
  }

  /** The entry for `type name`, created (and its first query sent) if new; `listener` hears its changes. */
  acquire(name: string, type: DnsRecordType, listener: () => void): RecordEntry {
    const key = `${type} ${name}`;
    let entry = this.#entries.get(key);
    const created = entry === undefined;
    if (!entry) {
      entry = new RecordEntry(this, name, type);
      this.#entries.set(key, entry);
    }
    entry.addListener(listener);
    if (created && !this.closed) entry.start();
    return entry;
  }

  /** Stops `listener` hearing `entry`; the last one out stops its refreshes. */
  release(entry: RecordEntry, listener: () => void): void {
    if (entry.removeListener(listener) > 0) return;
    entry.release();
    const key = `${entry.type} ${entry.name}`;
    if (this.#entries.get(key) === entry) this.#entries.delete(key);
  }

  /** Names (with type) cached now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Entries served stale now. */
  get staleCount(): number {
    let stale = 0;
    for (const entry of this.#entries.values()) if (entry.stale) stale++;
    return stale;
  }

  /** Stops every refresh. */
  close(): void {
    this.closed = true;
    for (const entry of this.#entries.values()) entry.release();
    this.#entries.clear();
  }
}

function compareSrv(a: SrvRecord, b: SrvRecord): number {
  return a.priority - b.priority || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0) || a.port - b.port || a.weight - b.weight;
}

function sameView(a: RecordView, b: RecordView): boolean {
  if (a === b) return true;
  if (a.state !== b.state) return false;
  switch (a.state) {
    case 'addresses': {
      const x = a.addresses;
      const y = (b as typeof a).addresses;
      return x.length === y.length && x.every((v, i) => v === y[i]);
    }
    case 'srv': {
      const x = a.records;
      const y = (b as typeof a).records;
      return (
        x.length === y.length &&
        x.every((r, i) => {
          const s = y[i]!;
          return r.priority === s.priority && r.weight === s.weight && r.port === s.port && r.target === s.target && sameList(r.addresses, s.addresses);
        })
      );
    }
    case 'failed':
      // A new error does not change what is served (nothing): no update for it.
      return true;
    default:
      return true;
  }
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  const sorted = [...b].sort();
  return [...a].sort().every((v, i) => v === sorted[i]);
}
