import type { Dispatcher } from 'undici';

type Headers = Dispatcher.DispatchOptions['headers'];

/**
 * Reads one request header from any of the shapes undici accepts (`undefined`, a plain
 * object, a flat `[name, value, ...]` array, or an iterable of pairs). `name` must be
 * lower case; comparison is case-insensitive. Repeated headers are joined with `, `.
 * Returns `undefined` when the header is absent.
 */
export function getHeader(headers: Headers | null | undefined, name: string): string | undefined {
  if (headers == null) return undefined;
  if (Array.isArray(headers)) {
    let found: string | undefined;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) {
        const value = String(headers[i + 1]);
        found = found === undefined ? value : `${found}, ${value}`;
      }
    }
    return found;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    let found: string | undefined;
    for (const pair of headers as Iterable<[string, string | string[]]>) {
      if (String(pair[0]).toLowerCase() === name) {
        const value = Array.isArray(pair[1]) ? pair[1].join(', ') : String(pair[1]);
        found = found === undefined ? value : `${found}, ${value}`;
      }
    }
    return found;
  }
  const record = headers as Record<string, string | string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    for (const key in record) {
      if (key.toLowerCase() === name) {
        value = record[key];
        break;
      }
    }
  }
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** True when the request carries the header (any shape, case-insensitive). */
export function hasHeader(headers: Headers | null | undefined, name: string): boolean {
  return getHeader(headers, name) !== undefined;
}

/**
 * Returns headers with `name: value` added, in the same shape as given (a new object or
 * array; the caller's is never mutated). Used to keep the logical authority as `host`.
 */
export function withHeader(headers: Headers | null | undefined, name: string, value: string): Headers {
  if (headers == null) return { [name]: value };
  if (Array.isArray(headers)) return [...headers, name, value] as Headers;
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const flat: string[] = [];
    for (const pair of headers as Iterable<[string, string | string[]]>) {
      const v = pair[1];
      if (Array.isArray(v)) for (const item of v) flat.push(pair[0], item);
      else flat.push(pair[0], String(v));
    }
    flat.push(name, value);
    return flat as Headers;
  }
  return { ...(headers as Record<string, string>), [name]: value };
}

/**
 * `headers` (any shape undici takes) with each of `set`'s headers in place of any of the
 * same name, and without any named in `remove` (names in `set` and `remove` in lower
 * case; the request's compared case-insensitively); the caller's object is never
 * changed. Nothing to set or remove: the same `headers`.
 *
 * @internal
 */
export function replaceHeaders(headers: Headers, set: Record<string, string>, remove: readonly string[] = NONE): Headers {
  let empty = true;
  for (const _ in set) {
    empty = false;
    break;
  }
  if (empty && (remove.length === 0 || headers == null)) return headers;
  if (headers == null) return { ...set } as Headers;
  if (Array.isArray(headers)) {
    const out: string[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) if (!replaced(String(headers[i]), set, remove)) out.push(String(headers[i]), headers[i + 1] as string);
    for (const name in set) out.push(name, set[name]!);
    return out as Headers;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const out: string[] = [];
    for (const [name, value] of headers as Iterable<[string, string | string[]]>) {
      if (replaced(name, set, remove)) continue;
      if (Array.isArray(value)) for (const v of value) out.push(name, v);
      else out.push(name, String(value));
    }
    for (const name in set) out.push(name, set[name]!);
    return out as Headers;
  }
  const record: Record<string, string | string[] | undefined> = {};
  const given = headers as Record<string, string | string[] | undefined>;
  for (const name in given) if (!replaced(name, set, remove)) record[name] = given[name];
  for (const name in set) record[name] = set[name];
  return record as Headers;
}

const NONE: readonly string[] = [];

/** Whether a header named `name` is set or removed (names compared in lower case). */
function replaced(name: string, set: Record<string, string>, remove: readonly string[]): boolean {
  const lower = name.toLowerCase();
  if (set[lower] !== undefined) return true;
  for (let i = 0; i < remove.length; i++) if (remove[i] === lower) return true;
  return false;
}
