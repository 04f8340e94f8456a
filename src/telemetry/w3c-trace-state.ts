/**
 * The `tracestate` list of W3C Trace Context Level 2: parsing with the spec's rules (a
 * malformed list is dropped as a whole, never trimmed member by member), the size
 * truncation the spec prescribes, and an immutable `TraceState` for `@opentelemetry/api`
 * (its shape written out in api-types.ts, see there why).
 *
 * Grammar (the Recommendation's current text, which the W3C test suite checks):
 * - key: a lowercase letter or digit, then up to 255 of `a-z 0-9 _ - * / @`; so a
 *   multi-tenant key (`tenant@system`) is any key with `@` after its first character;
 * - value: 1 to 256 printable ASCII characters except `,` and `=`, not ending in a space;
 * - members are separated by `,` with optional spaces and tabs around them; empty members
 *   are allowed; at most 32 members.
 * A header with a duplicated key keeps the first (left-most) member: the spec lets a
 * vendor drop duplicates, and the test suite accepts either choice.
 */
import type { OtelTraceState } from './api-types.js';

/** Most list members a `tracestate` may have (W3C). */
export const MAX_TRACESTATE_MEMBERS = 32;
/**
 * The default bound of a propagated `tracestate`, in characters: the spec asks vendors to
 * propagate at least 512 and to truncate whole entries beyond what they propagate.
 */
export const DEFAULT_TRACESTATE_LENGTH = 512;
/** The largest `maxTraceStateLength` accepted. */
export const MAX_TRACESTATE_LENGTH = 8192;
/** Entries longer than this are the first removed when a list is truncated (W3C). */
export const LONG_TRACESTATE_ENTRY = 128;
/**
 * The most characters of incoming `tracestate` (all header fields together) read at all:
 * 32 members of the longest key and value with separators are 16,447 characters, so
 * this leaves room for whitespace. Beyond it the header is dropped unread.
 */
export const MAX_TRACESTATE_INPUT = 32 * 1024;
/** The most `tracestate` header fields read; more is not a header a tracer writes. */
export const MAX_TRACESTATE_FIELDS = 64;

const KEY = /^[a-z0-9][a-z0-9_\-*/@]{0,255}$/;
// Up to 255 characters, then one that is not a space: 1 to 256 in all.
const VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** Whether `key` is a valid `tracestate` key (simple or multi-tenant). */
export function isTraceStateKey(key: string): boolean {
  return key.length <= 256 && KEY.test(key);
}

/** Whether `value` is a valid `tracestate` value. */
export function isTraceStateValue(value: string): boolean {
  return value.length <= 256 && VALUE.test(value);
}

const isOws = (code: number): boolean => code === 0x20 || code === 0x09;

/**
 * An immutable, validated `tracestate` list, left-most (most recent) member first. It
 * implements OpenTelemetry's `TraceState`; `set` and `unset` return new lists and keep
 * the spec's bounds (32 members; the configured length, truncated as the spec says).
 */
export class W3CTraceState implements OtelTraceState {
  readonly #keys: readonly string[];
  readonly #values: readonly string[];
  readonly #maxLength: number;
  #serialized: string | undefined;

  private constructor(keys: readonly string[], values: readonly string[], maxLength: number) {
    this.#keys = keys;
    this.#values = values;
    this.#maxLength = maxLength;
  }

  /**
   * Parses incoming `tracestate` header fields (several fields are combined with `,` as
   * RFC 9110 says). Returns `undefined` when there is nothing to keep: no header, only
   * empty members, or a malformed list (dropped as a whole). A list over `maxLength`
   * characters is truncated by whole entries (see {@link truncateEntries}).
   *
   * @param header one field, or every field in order
   * @param maxLength the most characters kept, from 512 (default) to 8192
   */
  static parse(header: string | readonly string[] | undefined, maxLength = DEFAULT_TRACESTATE_LENGTH): W3CTraceState | undefined {
    let text: string;
    if (typeof header === 'string') {
      text = header;
    } else if (Array.isArray(header)) {
      // Bound the work before joining: a carrier can hand over any array.
      if (header.length > MAX_TRACESTATE_FIELDS) return undefined;
      let total = 0;
      for (let i = 0; i < header.length; i++) {
        const field: unknown = header[i];
        if (typeof field !== 'string') return undefined;
        total += field.length + 1;
        if (total > MAX_TRACESTATE_INPUT) return undefined;
      }
      text = header.join(',');
    } else {
      return undefined;
    }
    if (text.length > MAX_TRACESTATE_INPUT) return undefined;
    const keys: string[] = [];
    const values: string[] = [];
    let members = 0;
    let start = 0;
    for (;;) {
      const comma = text.indexOf(',', start);
      let a = start;
      let b = comma === -1 ? text.length : comma;
      while (a < b && isOws(text.charCodeAt(a))) a++;
      while (b > a && isOws(text.charCodeAt(b - 1))) b--;
      if (a < b) {
        if (++members > MAX_TRACESTATE_MEMBERS) return undefined;
        const eq = text.indexOf('=', a);
        if (eq === -1 || eq >= b) return undefined;
        const key = text.slice(a, eq);
        const value = text.slice(eq + 1, b);
        if (!isTraceStateKey(key) || !isTraceStateValue(value)) return undefined;
        if (!keys.includes(key)) {
          keys.push(key);
          values.push(value);
        }
      }
      if (comma === -1) break;
      start = comma + 1;
    }
    truncateEntries(keys, values, maxLength);
    return keys.length === 0 ? undefined : new W3CTraceState(keys, values, maxLength);
  }

  /**
   * A list from entries, left-most first; invalid entries and later duplicates are left
   * out, and the bounds applied as in {@link W3CTraceState.set}.
   *
   * @param entries `[key, value]` pairs, left-most first
   * @param maxLength the most characters kept, from 512 (default) to 8192
   */
  static from(entries: Iterable<readonly [string, string]>, maxLength = DEFAULT_TRACESTATE_LENGTH): W3CTraceState {
    const keys: string[] = [];
    const values: string[] = [];
    for (const [key, value] of entries) {
      if (keys.length === MAX_TRACESTATE_MEMBERS) break;
      if (typeof key !== 'string' || typeof value !== 'string' || !isTraceStateKey(key) || !isTraceStateValue(value) || keys.includes(key)) continue;
      keys.push(key);
      values.push(value);
    }
    truncateEntries(keys, values, maxLength);
    return new W3CTraceState(keys, values, maxLength);
  }

  /** How many members the list has. */
  get size(): number {
    return this.#keys.length;
  }

  /**
   * A new list with `key` set to `value` and moved to the left (the spec's rule for a
   * modified entry). An invalid key or value, or an entry longer than the list's bound,
   * leaves the list as it is (returns `this`), as OpenTelemetry's own implementation
   * does. Past 32 members the right-most goes; past the bound, entries are truncated as
   * in {@link truncateEntries}, never the one just set.
   */
  set(key: string, value: string): OtelTraceState {
    if (typeof key !== 'string' || typeof value !== 'string' || !isTraceStateKey(key) || !isTraceStateValue(value)) return this;
    // An entry that alone exceeds the bound could never be propagated.
    if (key.length + 1 + value.length > this.#maxLength) return this;
    const keys = [key];
    const values = [value];
    for (let i = 0; i < this.#keys.length && keys.length < MAX_TRACESTATE_MEMBERS; i++) {
      if (this.#keys[i] === key) continue;
      keys.push(this.#keys[i]!);
      values.push(this.#values[i]!);
    }
    truncateEntries(keys, values, this.#maxLength, 1);
    return new W3CTraceState(keys, values, this.#maxLength);
  }

  /** A new list without `key` (or `this` when it has none). */
  unset(key: string): OtelTraceState {
    const index = this.#keys.indexOf(key);
    if (index === -1) return this;
    const keys = this.#keys.filter((_, i) => i !== index);
    const values = this.#values.filter((_, i) => i !== index);
    return new W3CTraceState(keys, values, this.#maxLength);
  }

  /** The value of `key`, or undefined. */
  get(key: string): string | undefined {
    const index = this.#keys.indexOf(key);
    return index === -1 ? undefined : this.#values[index];
  }

  /** The header value: `key=value` members joined by `,`, left-most first, no whitespace. */
  serialize(): string {
    if (this.#serialized === undefined) {
      let out = '';
      for (let i = 0; i < this.#keys.length; i++) out += `${i === 0 ? '' : ','}${this.#keys[i]}=${this.#values[i]}`;
      this.#serialized = out;
    }
    return this.#serialized;
  }

  /** The members, left-most first. */
  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.#keys.length; i++) yield [this.#keys[i]!, this.#values[i]!];
  }
}

/**
 * Truncates a list in place to at most `maxLength` serialized characters by whole
 * entries, as W3C Trace Context says: entries longer than 128 characters go first (the
 * right-most of them first, one at a time), then entries from the right. The first
 * `keep` entries (one just set) are never removed.
 *
 * @returns the serialized length after truncation
 */
export function truncateEntries(keys: string[], values: string[], maxLength: number, keep = 0): number {
  const entryLength = (i: number): number => keys[i]!.length + 1 + values[i]!.length;
  let length = keys.length === 0 ? 0 : keys.length - 1;
  for (let i = 0; i < keys.length; i++) length += entryLength(i);
  const remove = (i: number): void => {
    length -= entryLength(i) + (keys.length > 1 ? 1 : 0);
    keys.splice(i, 1);
    values.splice(i, 1);
  };
  for (let i = keys.length - 1; i >= keep && length > maxLength; i--) {
    if (entryLength(i) > LONG_TRACESTATE_ENTRY) remove(i);
  }
  while (length > maxLength && keys.length > keep) remove(keys.length - 1);
  return length;
}
