import { DiscoverySourceError, SourceClosedError } from '../core/errors/index.js';
import { checkDiscoveryUpdate } from '../discovery/check-update.js';
import { endpointKey } from '../discovery/parse-endpoint.js';
import type { DiscoverySource, DiscoveryUpdate, DiscoveryWatch, Endpoint, ServiceQuery } from '../discovery/types.js';

/** Whether discovery knows a service: still asking, known to a source, or known to none. */
export type ServiceStatus = 'pending' | 'known' | 'missing';

/** One source's view of the service. */
interface SourceView {
  readonly source: DiscoverySource;
  watch: DiscoveryWatch | undefined;
  answered: boolean;
  known: boolean;
  endpoints: Map<string, Endpoint>;
}

/**
 * What every discovery source says about one service: one watch per source, each
 * source's latest endpoint set, and the merged answer (the first source in order that
 * knows the service, or the union of all that know it). This is where source updates
 * enter the mesh, so it is where they are checked: a malformed update is reported with
 * `onSourceError` and changes nothing, and nothing here throws back into a source.
 */
export class ServiceSources {
  readonly #query: ServiceQuery;
  readonly #views: SourceView[];
  readonly #onChange: () => void;
  readonly #onSourceError: (source: DiscoverySource, error: Error) => void;
  readonly #onRefresh: ((source: DiscoverySource, endpoints: number) => void) | undefined;
  #open = false;
  #closed = false;

  /**
   * @param query the service; @param sources asked in order; @param onChange called after
   * each good update; @param onSourceError hears a source's misbehaviour
   */
  constructor(
    query: ServiceQuery,
    sources: readonly DiscoverySource[],
    onChange: () => void,
    onSourceError: (source: DiscoverySource, error: Error) => void,
    onRefresh?: (source: DiscoverySource, endpoints: number) => void,
  ) {
    this.#onRefresh = onRefresh;
    this.#query = query;
    this.#views = sources.map((source) => ({ source, watch: undefined, answered: false, known: false, endpoints: new Map() }));
    this.#onChange = onChange;
    this.#onSourceError = onSourceError;
  }

  /**
   * Watches every source (they may answer synchronously, calling `onChange`). When a
   * source's `watch()` throws, the watches opened so far are closed again and the error
   * is thrown: a {@link SourceClosedError} as it is, anything else as a reported
   * {@link DiscoverySourceError} naming the source.
   */
  open(): void {
    for (const view of this.#views) {
      try {
        view.watch = view.source.watch(this.#query, (update) => this.#onUpdate(view, update));
      } catch (error) {
        this.close();
        throw this.#watchFailure(view.source, error);
      }
    }
    this.#open = true;
  }

  /** Closes every watch; no update is heard after this. Safe to call twice. */
  close(): void {
    this.#closed = true;
    for (const view of this.#views) this.#closeWatch(view);
  }

  /** Known to a source, known to none (every source answered), or still waiting. */
  get status(): ServiceStatus {
    if (this.#views.some((v) => v.known)) return 'known';
    return this.#views.every((v) => v.answered) ? 'missing' : 'pending';
  }

  /**
   * The endpoints in force: the first knowing source's set, or with `merge` the union of
   * every knowing source's (on the same address:port the earlier source's record wins).
   */
  endpoints(merge: boolean): ReadonlyMap<string, Endpoint> {
    const winner = this.#views.find((v) => v.known);
    if (!winner) return new Map();
    if (!merge) return winner.endpoints;
    const next = new Map<string, Endpoint>();
    for (let i = this.#views.length - 1; i >= 0; i--) {
      const view = this.#views[i]!;
      if (view.known) for (const [key, endpoint] of view.endpoints) next.set(key, endpoint);
    }
    return next;
  }

  /** Names of the sources that have not answered yet. */
  pendingSources(): string[] {
    return this.#views.filter((v) => !v.answered).map((v) => v.source.name);
  }

  /** Names of every source asked. */
  sourceNames(): string[] {
    return this.#views.map((v) => v.source.name);
  }

  /**
   * A source's update. Called by source code (often from its timers or sockets), so it
   * never throws back: a malformed update is reported and the last good set stays.
   */
  #onUpdate(view: SourceView, raw: DiscoveryUpdate): void {
    if (this.#closed) return;
    const checked = checkDiscoveryUpdate(raw);
    if (!checked.ok) {
      const kept = view.answered ? `keeping its last good set (${view.known ? `${view.endpoints.size} endpoints` : 'service unknown'})` : 'ignored; still waiting for a first valid answer';
      this.#onSourceError(view.source, new DiscoverySourceError(view.source.name, this.#service, `malformed update: ${checked.problem}`, kept));
      return;
    }
    const update = checked.update;
    view.answered = true;
    switch (update.type) {
      case 'reset':
        view.known = true;
        view.endpoints = new Map();
        for (const e of update.endpoints) view.endpoints.set(endpointKey(e), e);
        break;
      case 'add':
        view.known = true;
        for (const e of update.endpoints) view.endpoints.set(endpointKey(e), e);
        break;
      case 'remove':
        for (const e of update.endpoints) view.endpoints.delete(endpointKey(e));
        break;
      case 'missing':
        view.known = false;
        view.endpoints = new Map();
        break;
    }
    // Telemetry (proxyless.discovery.refreshes, proxyless:discovery:refresh); it never throws.
    this.#onRefresh?.(view.source, view.endpoints.size);
    // A source answering inside open() is applied once open() is done (the caller recomputes then).
    if (this.#open) this.#onChange();
  }

  get #service(): string {
    return `${this.#query.fqdn}:${this.#query.port}`;
  }

  /** Closes a source's watch; one whose `close()` throws is reported as that source's error. */
  #closeWatch(view: SourceView): void {
    const watch = view.watch;
    view.watch = undefined;
    try {
      watch?.close();
    } catch (error) {
      const problem = `closing its watch threw: ${error instanceof Error ? error.message : String(error)}`;
      this.#onSourceError(view.source, new DiscoverySourceError(view.source.name, this.#service, problem, 'the mesh no longer listens to it', { cause: error }));
    }
  }

  /** What a throwing `watch()` becomes: reported as the source's error, thrown to the request. */
  #watchFailure(source: DiscoverySource, error: unknown): Error {
    if (error instanceof SourceClosedError) return error;
    const failure = new DiscoverySourceError(
      source.name,
      this.#service,
      `watch() threw: ${error instanceof Error ? error.message : String(error)}`,
      'requests to this service fail until the source can watch it',
      { cause: error },
    );
    this.#onSourceError(source, failure);
    return failure;
  }
}
