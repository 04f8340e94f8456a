import { isIP } from 'node:net';
import { endpointKey } from '../parse-endpoint.js';
import type { DiscoveryListener, DiscoveryUpdate, Endpoint } from '../types.js';
import type { ResolutionStep } from './internal-names.js';
import type { RecordCache, RecordEntry, RecordView } from './internal-record-cache.js';
import { mergeTargets, selectSrvEndpoints, type Target } from './internal-srv.js';
import { PRIORITY_LABEL } from '../../balance/locality.js';
import type { DnsRecordType } from './types.js';

/** Where a service's resolution stands. */
export type Resolution =
  /** Some answer needed is not in yet: report nothing. */
  | { readonly kind: 'pending' }
  /** Every name is NXDOMAIN (or no SRV/address records where that means "not here"). */
  | { readonly kind: 'missing' }
  /** A needed answer failed and nothing is left to serve. */
  | { readonly kind: 'failed' }
  /** The endpoints (possibly none). */
  | { readonly kind: 'found'; readonly targets: readonly Target[] };

const PENDING: Resolution = { kind: 'pending' };
const MISSING: Resolution = { kind: 'missing' };
const FAILED: Resolution = { kind: 'failed' };
const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze({});
/** One frozen label set per SRV tier, so an unchanged endpoint keeps the same object. */
const TIER_LABELS: Array<Readonly<Record<string, string>>> = [];

/** An SRV target's labels: none for tier 0 (and address records), else its tier as `proxyless.dev/priority`. */
function tierLabels(tier: number | undefined): Readonly<Record<string, string>> {
  if (tier === undefined || tier === 0) return EMPTY_LABELS;
  // Deeper tiers than this are one last tier (a hostile record set cannot grow the table).
  const capped = Math.min(tier, 999);
  return (TIER_LABELS[capped] ??= Object.freeze({ [PRIORITY_LABEL]: String(capped) }));
}

/** One watch of the service: its port and what it was last told. */
interface Watcher {
  readonly port: number;
  readonly listener: DiscoveryListener;
  /** The set last sent, `missing`, or undefined before the first answer. */
  last: Map<string, Endpoint> | 'missing' | undefined;
}

/**
 * One service's resolution, shared by every watch of the same names (whatever their
 * port): walks the {@link ResolutionStep}s in order over the shared record cache, and
 * tells each watcher what changed.
 *
 * The walk, per step: SRV records → their endpoints (see `selectSrvEndpoints`); A/AAAA
 * records → those addresses with the watcher's port; NXDOMAIN → the next step (the next
 * name); no records of the type → for SRV the next step, for addresses "known, no
 * endpoints"; a failure with nothing left to serve → `failed`; after the last step →
 * `missing`. Entries no longer on the path are released (their refreshes stop).
 */
export class ServiceResolution {
  readonly #cache: RecordCache;
  readonly #steps: readonly ResolutionStep[];
  readonly #family: 0 | 4 | 6;
  readonly #onFirstAnswer: () => void;
  readonly #onListenerError: (error: unknown) => void;
  readonly #watchers = new Set<Watcher>();
  readonly #held = new Map<string, RecordEntry>();
  readonly #onEntryChange = (): void => this.#schedule();
  #result: Resolution = PENDING;
  #scheduled = false;
  #disposed = false;

  /**
   * @param cache the shared record cache; @param steps the lookups in order; @param family
   * which address records; @param onFirstAnswer called when a watcher gets its first
   * update; @param onListenerError called with what a watcher's listener threw
   */
  constructor(
    cache: RecordCache,
    steps: readonly ResolutionStep[],
    family: 0 | 4 | 6,
    onFirstAnswer: () => void,
    onListenerError: (error: unknown) => void,
  ) {
    this.#cache = cache;
    this.#steps = steps;
    this.#family = family;
    this.#onFirstAnswer = onFirstAnswer;
    this.#onListenerError = onListenerError;
    this.#result = this.#evaluate();
  }

  /** The resolution now. */
  get result(): Resolution {
    return this.#result;
  }

  /** Watchers attached. */
  get watchers(): number {
    return this.#watchers.size;
  }

  /** Adds a watcher; it hears the current answer at once if there is one. Returns its detach function. */
  attach(port: number, listener: DiscoveryListener): () => boolean {
    const watcher: Watcher = { port, listener, last: undefined };
    this.#watchers.add(watcher);
    this.#deliver(watcher, this.#result);
    return () => this.#watchers.delete(watcher);
  }

  /** True when a watcher was told the service exists (its last update was not `missing`). */
  get known(): boolean {
    for (const watcher of this.#watchers) if (watcher.last instanceof Map) return true;
    return false;
  }

  /** True while a watcher has not had its first update. */
  waitingForFirstAnswer(): boolean {
    for (const watcher of this.#watchers) if (watcher.last === undefined) return true;
    return false;
  }

  /** Releases every cache entry; no more updates. */
  dispose(): void {
    this.#disposed = true;
    this.#watchers.clear();
    for (const entry of this.#held.values()) this.#cache.release(entry, this.#onEntryChange);
    this.#held.clear();
  }

  /** Entry changes come in bursts (A and AAAA, many SRV targets): evaluate once per burst. */
  #schedule(): void {
    if (this.#scheduled || this.#disposed) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (this.#disposed) return;
      this.#result = this.#evaluate();
      for (const watcher of [...this.#watchers]) this.#deliver(watcher, this.#result);
    });
  }

  #evaluate(): Resolution {
    const used = new Set<string>();
    const view = (name: string, type: DnsRecordType): RecordView => {
      const key = `${type} ${name}`;
      used.add(key);
      let entry = this.#held.get(key);
      if (!entry) {
        entry = this.#cache.acquire(name, type, this.#onEntryChange);
        this.#held.set(key, entry);
      }
      return entry.view;
    };
    const result = this.#walk(view);
    for (const [key, entry] of this.#held) {
      if (used.has(key)) continue;
      this.#held.delete(key);
      this.#cache.release(entry, this.#onEntryChange);
    }
    return result;
  }

  #walk(view: (name: string, type: DnsRecordType) => RecordView): Resolution {
    for (const step of this.#steps) {
      if (step.kind === 'srv') {
        const srv = view(step.name, 'SRV');
        if (srv.state === 'pending') return PENDING;
        if (srv.state === 'failed') return FAILED;
        if (srv.state !== 'srv') continue; // NXDOMAIN or no SRV records: the next step
        const targets = selectSrvEndpoints(srv.records, (record) => {
          if (record.addresses !== undefined) return record.addresses;
          if (isIP(record.target) !== 0) return [record.target];
          const found = this.#addresses(record.target, view);
          return found === 'pending' ? 'pending' : found.addresses;
        });
        return targets === 'pending' ? PENDING : { kind: 'found', targets };
      }
      const found = this.#addresses(step.name, view);
      if (found === 'pending') return PENDING;
      if (found.addresses.length > 0) {
        return { kind: 'found', targets: mergeTargets(found.addresses.map((address) => ({ address, port: undefined, weight: 1 }))) };
      }
      if (found.nxdomain) continue;
      if (found.failed) return FAILED;
      return { kind: 'found', targets: [] }; // the name exists, without addresses
    }
    return MISSING;
  }

  /**
   * The addresses of a name over the families asked, and how the empty ones ended;
   * `pending` only while no family has answered with addresses and one has not answered.
   */
  #addresses(
    name: string,
    view: (name: string, type: DnsRecordType) => RecordView,
  ): 'pending' | { addresses: string[]; nxdomain: boolean; failed: boolean } {
    const types: DnsRecordType[] = this.#family === 4 ? ['A'] : this.#family === 6 ? ['AAAA'] : ['A', 'AAAA'];
    const out = { addresses: [] as string[], nxdomain: false, failed: false };
    let pending = false;
    for (const type of types) {
      const v = view(name, type);
      if (v.state === 'pending') pending = true;
      else if (v.state === 'addresses') out.addresses.push(...v.addresses);
      else if (v.state === 'nxdomain') out.nxdomain = true;
      else if (v.state === 'failed') out.failed = true;
    }
    // Addresses of one family are enough to answer; the other joins when it arrives.
    return pending && out.addresses.length === 0 ? 'pending' : out;
  }

  #deliver(watcher: Watcher, result: Resolution): void {
    const first = watcher.last === undefined;
    let update: DiscoveryUpdate | undefined;
    switch (result.kind) {
      case 'pending':
        return;
      case 'missing':
        if (watcher.last === 'missing') return;
        watcher.last = 'missing';
        update = { type: 'missing' };
        break;
      case 'failed':
        // Before a first answer: keep waiting (retries run). After one: drop the endpoints,
        // the service stays known; a service last reported missing stays missing.
        if (!(watcher.last instanceof Map) || watcher.last.size === 0) return;
        watcher.last = new Map();
        update = { type: 'reset', endpoints: [] };
        break;
      case 'found':
        update = diff(watcher, result.targets);
        break;
    }
    if (update === undefined) return;
    if (first) this.#onFirstAnswer();
    try {
      watcher.listener(update);
    } catch (error) {
      // A listener's bug must not stop the other watchers nor escape into a timer.
      this.#onListenerError(error);
    }
  }
}

/** The update that takes a watcher from what it was told to `targets`, or undefined if none. */
function diff(watcher: Watcher, targets: readonly Target[]): DiscoveryUpdate | undefined {
  const next = new Map<string, Endpoint>();
  for (const target of targets) {
    const endpoint: Endpoint = Object.freeze({
      address: target.address,
      port: target.port ?? watcher.port,
      weight: target.weight,
      labels: tierLabels(target.tier),
    });
    const key = endpointKey(endpoint);
    const previous = next.get(key);
    // Two targets can meet on one key only through the caller's port; keep the first.
    if (!previous) next.set(key, endpoint);
  }
  const last = watcher.last;
  watcher.last = next;
  if (!(last instanceof Map)) return { type: 'reset', endpoints: [...next.values()] };
  const added: Endpoint[] = [];
  for (const [key, endpoint] of next) {
    const before = last.get(key);
    if (!before) added.push(endpoint);
    else if (before.weight !== endpoint.weight || before.labels !== endpoint.labels) added.push(endpoint);
    else next.set(key, before); // keep the object the listener already has
  }
  const removed: Endpoint[] = [];
  for (const [key, endpoint] of last) if (!next.has(key)) removed.push(endpoint);
  if (added.length === 0 && removed.length === 0) return undefined;
  if (removed.length === 0) return { type: 'add', endpoints: added };
  if (added.length === 0) return { type: 'remove', endpoints: removed.map(({ address, port }) => ({ address, port })) };
  return { type: 'reset', endpoints: [...next.values()] };
}
