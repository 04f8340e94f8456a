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
