import type { Dispatcher } from 'undici';
import { getHeader } from '../core/headers.js';

/**
 * The parts of a request that route matching reads, computed lazily and at most once
 * per request: the path without the query, the query parameters, and headers by name.
 */
export class RequestView {
  /** The request as undici received it. */
  readonly opts: Dispatcher.DispatchOptions;
  /** The URL's scheme without colon: `http` or `https`. */
  readonly scheme: string;
  /** `host[:port]` as the caller wrote it (or the `host` header when set). */
  readonly authority: string;
  /** The port the caller used. */
  readonly port: number;
  #path: string | undefined;
  #query: URLSearchParams | undefined;

  constructor(opts: Dispatcher.DispatchOptions, scheme: string, authority: string, port: number) {
    this.opts = opts;
    this.scheme = scheme;
    this.authority = authority;
    this.port = port;
  }

  /** The path without the query string. */
  get path(): string {
    if (this.#path === undefined) {
      const full = this.opts.path;
      const q = full.indexOf('?');
      this.#path = q < 0 ? full : full.slice(0, q);
    }
    return this.#path;
  }

  /** One query parameter, decoded. */
  query(name: string): string | undefined {
    if (this.#query === undefined) {
      const full = this.opts.path;
      const q = full.indexOf('?');
      this.#query = new URLSearchParams(q < 0 ? '' : full.slice(q + 1));
    }
    return this.#query.get(name) ?? undefined;
  }

  /** One request header (name in lower case). */
  header(name: string): string | undefined {
    return getHeader(this.opts.headers, name);
  }

  /** The request method, upper case. */
  get method(): string {
    return this.opts.method.toUpperCase();
  }
}
