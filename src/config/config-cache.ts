import type { ConfigDiagnostic } from '../core/errors/index.js';
import type { AppliedKind } from './kinds.js';

/**
 * What validating and compiling each config resource gave last time, so that a reload
 * redoes only the resources that changed. A mesh reloads its whole config on every change
 * (one file, one `applyConfig`, one etcd key), and with a thousand resources validating
 * and compiling them all blocks the event loop for tens of milliseconds: requests in
 * flight wait that long. With this cache a reload that changes a few resources costs
 * about a `JSON.stringify` of the config.
 *
 * A resource is found again by its origin (`mesh.yaml#2`, `config[0]`: messages name it)
 * and its content as JSON, so an edited resource, or one that moved, is validated again.
 * What is kept:
 * - per resource, the validated copy, its name for messages, its namespace and its own
 *   warnings (only resources that validated; a broken one is checked again each time);
 * - per validated copy (by identity), what compiling it gave (a VirtualService's routes).
 * Entries not used by the latest compile are dropped when the next one succeeds, so the
 * cache holds at most the config in force and the one being built.
 *
 * One cache belongs to one mesh: what a resource compiles to depends on the mesh's
 * namespace, cluster domain and labels, which do not change.
 */
export class ConfigCache {
  // By origin, then compared by content: hashing whole JSON texts as map keys cost more
  // than validating some of them.
  #current = new Map<string, CachedEntry>();
  #next = new Map<string, CachedEntry>();
  readonly #compiled = new WeakMap<object, unknown>();

  /** Starts building a config: lookups and stores from here on form the next generation. */
  begin(): void {
    this.#next = new Map();
  }

  /**
   * The cached validation of the resource from `origin` whose content is `json` (see
   * {@link ConfigCache.contentOf}), if any; a hit is kept for the next generation.
   */
  lookup(origin: string, json: string): ValidatedResource | undefined {
    const hit = this.#current.get(origin);
    if (hit === undefined || hit.json !== json) return undefined;
    this.#next.set(origin, hit);
    return hit.validated;
  }

  /** Remembers a resource's validation. */
  store(origin: string, json: string, validated: ValidatedResource): void {
    this.#next.set(origin, { json, validated });
  }

  /** The config built since `begin()` is in force: forget what it did not use. */
  commit(): void {
    this.#current = this.#next;
    this.#next = new Map();
  }

  /** What `compile` gives for a validated resource, computed once per validated copy. */
  compiled<T>(validated: object, compile: () => T): T {
    if (this.#compiled.has(validated)) return this.#compiled.get(validated) as T;
    const value = compile();
    this.#compiled.set(validated, value);
    return value;
  }

  /**
   * A resource's content as JSON, or `undefined` when it cannot be written as JSON (a
   * cycle, a BigInt): such a resource is simply not cached.
   */
  static contentOf(resource: unknown): string | undefined {
    try {
      return JSON.stringify(resource);
    } catch {
      return undefined;
    }
  }
}

interface CachedEntry {
  readonly json: string;
  readonly validated: ValidatedResource;
}

/** One resource that passed validation, as the loader indexes it. */
export interface ValidatedResource {
  readonly kind: AppliedKind;
  /** The validated copy (unknown fields dropped). */
  readonly parsed: object;
  /** `Kind/name (origin)`, for messages. */
  readonly where: string;
  /** The namespace its short hosts resolve in. */
  readonly namespace: string;
  /** Its own warnings: fields not applied, unknown fields, what Istio warns about. */
  readonly warnings: readonly ConfigDiagnostic[];
}
