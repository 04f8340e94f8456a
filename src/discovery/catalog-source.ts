import { EventEmitter } from 'node:events';
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
 * {@link ServiceName.names} (`reviews`, `reviews.default`, the FQDN, ...), the first
 * present winning.
 */
export abstract class CatalogSource extends EventEmitter implements DiscoverySource {
  /** The source's name, e.g. `static`, `file(/etc/mesh/endpoints.yaml)`. */
  abstract readonly name: string;
  #catalog = new Map<string, readonly Endpoint[]>();
  readonly #watchers = new Set<Watcher>();
  #ready = false;
  readonly #readyPromise: Promise<void>;
  #resolveReady!: () => void;
  #lastRefresh: Date | undefined;
  #lastError: Error | undefined;
  #closed = false;

  constructor() {
    super();
    this.#readyPromise = new Promise((resolve) => {
      this.#resolveReady = resolve;
    });
  }

  /** Answers at once once ready (`reset` or `missing`); before that, on the first load. */
  watch(service: ServiceQuery, listener: DiscoveryListener): DiscoveryWatch {
    const watcher: Watcher = { service, listener, last: undefined };
    if (this.#closed) return { close: () => {} };
    this.#watchers.add(watcher);
    if (this.#ready) this.#notify(watcher, true);
    return { close: () => void this.#watchers.delete(watcher) };
  }

  /** Resolves after the first successful load. */
  ready(): Promise<void> {
    return this.#readyPromise;
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

  /** Stops delivering updates; subclasses release their timers and connections too. */
  close(): Promise<void> {
    this.#closed = true;
    this.#watchers.clear();
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
    this.#resolveReady();
    for (const watcher of this.#watchers) this.#notify(watcher, true);
  }

  /**
   * Records a failed load or a malformed record. The last good catalog stays in use; the
   * error goes to `error` listeners (and to {@link CatalogSource.state}), never thrown.
   */
  protected reportError(error: Error): void {
    this.#lastError = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #refreshed(): void {
    this.#lastRefresh = new Date();
    if (!this.#ready) return;
    for (const watcher of this.#watchers) this.#notify(watcher, false);
  }

  #notify(watcher: Watcher, first: boolean): void {
    const endpoints = this.lookup(watcher.service);
    if (!first && endpoints === watcher.last) return;
    watcher.last = endpoints;
    watcher.listener(endpoints ? { type: 'reset', endpoints } : { type: 'missing' });
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
