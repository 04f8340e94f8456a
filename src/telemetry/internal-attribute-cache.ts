/**
 * Bounded caches for metric attribute sets, so that recording a request allocates
 * nothing and no request-controlled value can grow memory: every attribute value that
 * comes from a request or from remote data is first admitted by an {@link Admission}
 * (itself, when seen before or while there is room; `_OTHER` past the bound), and the
 * attribute objects are kept in maps keyed by admitted values only.
 */
import { OTHER } from './metric-definitions.js';

/** Admits at most `max` distinct values of one attribute; later new values become `_OTHER`. */
export class Admission<T extends string | number> {
  readonly #seen = new Set<T>();
  readonly #max: number;
  readonly #other: T;

  /** @param max the most distinct values; @param other what a value past the bound becomes */
  constructor(max: number, other: T = OTHER as T) {
    this.#max = max;
    this.#other = other;
  }

  /** `value` itself when already admitted or when there is room, otherwise the stand-in. */
  admit(value: T): T {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#max) return this.#other;
    this.#seen.add(value);
    return value;
  }

  /** How many distinct values were admitted. */
  get size(): number {
    return this.#seen.size;
  }
}

/** A status code as an attribute value: the integer from 100 to 599, or 0 for none (or nonsense). */
export function statusKey(status: number): number {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? status : 0;
}

/** The child of `map` at `key`, made by `make` the first time. `make` must not capture (it is called rarely, but passed always). */
export function child<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** A new empty map (a non-capturing `make` for {@link child}). */
export function newMap<K, V>(): Map<K, V> {
  return new Map<K, V>();
}
