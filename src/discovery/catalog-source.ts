import { EventEmitter } from 'node:events';
import { emitSafely } from '../core/emit-safely.js';
import { SourceClosedError } from '../core/errors/index.js';
import type {
  DiscoveryListener,
  DiscoverySource,
  DiscoverySourceState,
  DiscoveryWatch,
  Endpoint,
  ServiceQuery,
} from './types.js';

interface Watcher {
  readonly service: ServiceQuery;
  readonly listener: DiscoveryListener;
  /** The list last sent, so unchanged services are not re-sent. */
  last: readonly Endpoint[] | undefined;
}

/**
 * Base of the sources that hold a whole catalog of services (a static map, a watched
 * file, a registry such as etcd). Subclasses load the catalog and call
 * {@link CatalogSource.replaceCatalog}, {@link CatalogSource.setService} or
 * {@link CatalogSource.deleteService}; this class answers watches, sends each watcher
 * only the changes that concern it, holds watches until the first load
 * ({@link CatalogSource.markReady}), and keeps the last good catalog when a load fails
 * ({@link CatalogSource.reportError}: an `error` event, never a throw into a request).
 *
 * Names are matched as written, lower case; a watch matches every spelling in its
 * `ServiceName.names` (`reviews`, `reviews.default`, the FQDN, ...), the first
 * present winning.
 */
export abstract class CatalogSource extends EventEmitter implements DiscoverySource {
  /** The source's name, e.g. `static`, `file(/etc/mesh/endpoints.yaml)`. */
  abstract readonly name: string;
  #catalog = new Map<string, readonly Endpoint[]>();
  readonly #watchers = new Set<Watcher>();
  #ready = false;
  /** Callers of `ready()` before the first load: resolved by it, rejected by `close()`. */
  #readyWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  #lastRefresh: Date | undefined;
  #lastError: Error | undefined;
  #closed = false;

  /**
   * Answers at once once ready (`reset` or `missing`); before that, on the first load.
   * Throws {@link SourceClosedError} after `close()`: a request that needs this source
   * fails at once rather than waiting for an answer that will never come.
   */
  watch(service: ServiceQuery, listener: DiscoveryListener): DiscoveryWatch {
    if (this.#closed) throw new SourceClosedError(this.name, `watch ${service.fqdn}:${service.port}`);
    const watcher: Watcher = { service, listener, last: undefined };
    this.#watchers.add(watcher);
    if (this.#ready) this.#notify(watcher, true);
    return { close: () => void this.#watchers.delete(watcher) };
  }

  /**
   * Resolves after the first successful load (at once if it happened). Rejects with
   * {@link SourceClosedError} when the source is closed before its first load.
   */
  ready(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    if (this.#closed) return Promise.reject(new SourceClosedError(this.name, 'become ready'));
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** See {@link DiscoverySource.state}. */
  state(): DiscoverySourceState {
    let endpoints = 0;
    for (const list of this.#catalog.values()) endpoints += list.length;
    return {
      name: this.name,
      ready: this.#ready,
      lastRefresh: this.#lastRefresh,
      lastError: this.#lastError,
      services: this.#catalog.size,
      endpoints,
    };
  }

  /**
   * Stops delivering updates; subclasses release their timers and connections too. A
   * pending `ready()` rejects with {@link SourceClosedError}. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#watchers.clear();
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) waiter.reject(new SourceClosedError(this.name, 'become ready'));
    return Promise.resolve();
  }

  /** The endpoints of one service as the catalog holds it now (matching any spelling). */
  protected lookup(service: ServiceQuery): readonly Endpoint[] | undefined {
    for (const name of service.names) {
      const found = this.#catalog.get(name);
      if (found) return found;
    }
    return undefined;
  }

  /** True when the catalog has this exact (normalised) name. */
  protected hasService(name: string): boolean {
    return this.#catalog.has(normaliseServiceName(name));
  }

  /** Replaces the whole catalog (a reload); watchers hear only about services that changed. */
  protected replaceCatalog(next: ReadonlyMap<string, readonly Endpoint[]>): void {
    const catalog = new Map<string, readonly Endpoint[]>();
    for (const [name, list] of next) {
      const key = normaliseServiceName(name);
      const previous = this.#catalog.get(key);
      // Keep the previous array when nothing changed, so watchers see no update.
      catalog.set(key, previous && sameEndpoints(previous, list) ? previous : list);
    }
    this.#catalog = catalog;
    this.#refreshed();
  }

  /** Adds or replaces one service. */
  protected setService(name: string, endpoints: readonly Endpoint[]): void {
    this.#catalog.set(normaliseServiceName(name), endpoints);
    this.#refreshed();
  }

  /** Removes one service; its watchers hear `missing` (unless another spelling matches). */
  protected deleteService(name: string): boolean {
    const existed = this.#catalog.delete(normaliseServiceName(name));
    if (existed) this.#refreshed();
    return existed;
  }

  /** The first load is done: pending watches get their first answer. */
  protected markReady(): void {
    if (this.#ready) return;
    this.#ready = true;
    this.#lastRefresh ??= new Date();
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) waiter.resolve();
    for (const watcher of [...this.#watchers]) this.#notify(watcher, true);
  }

  /**
   * Records a failed load or a malformed record. The last good catalog stays in use; the
   * error goes to `error` listeners (and to {@link CatalogSource.state}), never thrown.
   */
  protected reportError(error: Error): void {
    this.#lastError = error;
    // A listener's bug must not unwind into the subclass's load (its timer or watch).
    if (this.listenerCount('error') > 0) emitSafely(this, 'error', error);
  }

  #refreshed(): void {
    this.#lastRefresh = new Date();
    if (!this.#ready) return;
    // A copy: a listener may close its watch (or open another) while it is told.
    for (const watcher of [...this.#watchers]) this.#notify(watcher, false);
  }

  #notify(watcher: Watcher, first: boolean): void {
    if (!this.#watchers.has(watcher)) return;
    const endpoints = this.lookup(watcher.service);
    if (!first && endpoints === watcher.last) return;
    watcher.last = endpoints;
    try {
      watcher.listener(endpoints ? { type: 'reset', endpoints } : { type: 'missing' });
    } catch (error) {
      // One watcher's bug must not stop the others hearing this change.
      this.reportError(new Error(`${this.name}: a discovery listener threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    }
  }
}

/** Catalog keys: lower case, no trailing dot. */
export function normaliseServiceName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.address !== y.address || x.port !== y.port || x.weight !== y.weight) return false;
    const xl = Object.keys(x.labels);
    if (xl.length !== Object.keys(y.labels).length || xl.some((k) => x.labels[k] !== y.labels[k])) return false;
  }
  return true;
}
