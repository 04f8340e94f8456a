/**
 * The sources a mesh was given, held from its construction until its close: each
 * discovery and config source is held (the last mesh holding one closes it, see
 * `holdSource`), and the discovery sources' errors become `discoveryError` events.
 *
 * @module
 */
import type { ConfigSource } from '../config/types.js';
import { abandonHold, acquireSource, releaseSource } from '../discovery/source-holds.js';
import type { DiscoverySource } from '../discovery/types.js';

/** See the module comment. */
export class HeldSources {
  /** The sources held so far (a failed construction takes back exactly these). */
  readonly #held: Array<DiscoverySource | ConfigSource> = [];
  readonly #errorListeners = new Map<DiscoverySource, (error: Error) => void>();
  readonly #onDiscoveryError: (error: Error, source: string) => void;

  /** @param onDiscoveryError hears a discovery source's error (emitted safely as `discoveryError`) */
  constructor(onDiscoveryError: (error: Error, source: string) => void) {
    this.#onDiscoveryError = onDiscoveryError;
  }

  /**
   * Holds every source, then listens to the discovery sources' errors. Throws
   * `SourceClosedError` for a source its last holder closed already; what was held until
   * then is taken back by {@link HeldSources.abandon}.
   */
  hold(discovery: readonly DiscoverySource[], config: readonly ConfigSource[]): void {
    for (const source of [...discovery, ...config]) {
      acquireSource(source, 'a new mesh');
      this.#held.push(source);
    }
    for (const source of discovery) {
      const listener = (error: Error): void => this.#onDiscoveryError(error, source.name);
      source.on('error', listener);
      this.#errorListeners.set(source, listener);
    }
  }

  /** Stops listening to the discovery sources' errors. */
  stopListening(): void {
    for (const [source, listener] of this.#errorListeners) source.off('error', listener);
  }

  /** The mesh never came to life: no listener stays, every hold is taken back, nothing is closed. */
  abandon(): void {
    this.stopListening();
    for (const source of this.#held) abandonHold(source);
  }

  /** Ends each hold; a source no other mesh holds closes (one promise each, rejected when its `close()` fails). */
  release(): Promise<void>[] {
    return this.#held.map((s) => releaseSource(s));
  }
}
