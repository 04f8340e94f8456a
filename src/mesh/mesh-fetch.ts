import type { Dispatcher, Request as UndiciRequest, RequestInit as UndiciRequestInit } from 'undici';

/**
 * What {@link Mesh.fetch} takes as its first argument: all the global `fetch` takes (a
 * URL string, a `URL`, the platform's `Request`), and a `Request` made by the `undici`
 * package (another class than the platform's).
 */
export type MeshFetchInput = string | URL | Request | UndiciRequest;

/**
 * What {@link Mesh.fetch} takes as its second argument: the global `RequestInit`, or
 * undici's. `dispatcher` is ignored: the mesh is the dispatcher.
 */
export type MeshFetchInit = RequestInit | UndiciRequestInit;

/**
 * The `Dispatcher` type the global `fetch`'s `init.dispatcher` has in `@types/node` (the
 * undici types Node bundles, older than the undici the mesh is built on), or `unknown`
 * where the global `RequestInit` has no `dispatcher` (the DOM lib). `mesh.dispatcher`
 * carries this type too, so `fetch(url, { dispatcher: mesh.dispatcher })` type-checks
 * without a cast. It is true at run time: the mesh dispatcher speaks both handler APIs.
 */
export type GlobalFetchDispatcher = RequestInit extends {
  /** `init.dispatcher` of the global fetch (an undici extension of `RequestInit`). */
  dispatcher?: infer D;
}
  ? NonNullable<D>
  : unknown;

/** `fetch` with the mesh as its dispatcher. */
export type MeshFetch = (input: MeshFetchInput, init?: MeshFetchInit | null) => Promise<Response>;

// The platform's fetch and classes, as they were when proxyless was loaded: a fetch
// polyfill installed later (one that ignores `dispatcher`) cannot make requests bypass
// the mesh.
const platformFetch = globalThis.fetch;
const PlatformRequest = globalThis.Request;
const PlatformFormData = globalThis.FormData;
const toStringTag = (value: object): string => Object.prototype.toString.call(value);

/**
 * The members of `RequestInit` a platform fetch reads (WebIDL order: sorted by name),
 * without `dispatcher`, which the mesh sets. They are read one by one, not spread: an
 * init may be an object whose members are getters on its prototype (a `Request` passed
 * as init, a class instance), which a spread would lose.
 */
const INIT_MEMBERS = [
  'body',
  'cache',
  'credentials',
  'duplex',
  'headers',
  'integrity',
  'keepalive',
  'method',
  'mode',
  'priority',
  'redirect',
  'referrer',
  'referrerPolicy',
  'signal',
  'window',
] as const;

/**
 * `fetch` through `dispatcher`: the platform's own `fetch` (so it returns the platform's
 * `Response` and takes the platform's `Request`) called with `dispatcher` set. A
 * `Request` or `FormData` from the `undici` package (or another realm) is converted to
 * the platform's first, since the platform's fetch would read it as a string ("Failed to
 * parse URL from [object Request]", a body of "[object FormData]").
 */
export function meshFetch(dispatcher: Dispatcher, input: MeshFetchInput, init?: MeshFetchInit | null): Promise<Response> {
  let request: string | URL | Request;
  let options: RequestInit;
  try {
    if (platformFetch === undefined) {
      throw new TypeError('mesh.fetch needs the global fetch, which this Node.js lacks (was it started with --no-experimental-fetch?); use undici.request with mesh.dispatcher');
    }
    options = init === undefined || init === null ? ({ dispatcher } as RequestInit) : toPlatformInit(init, dispatcher);
    request = isForeignRequest(input) ? toPlatformRequest(input, options.body != null) : (input as string | URL | Request);
  } catch (error) {
    // fetch reports bad arguments as a rejected promise, never a throw.
    return Promise.reject(error as Error);
  }
  return platformFetch(request, options);
}

/** The init the platform's fetch gets: the caller's members, read once each, and the mesh as dispatcher. */
function toPlatformInit(init: MeshFetchInit, dispatcher: Dispatcher): RequestInit {
  if (typeof init !== 'object' && typeof init !== 'function') {
    throw new TypeError(`mesh.fetch: init must be an object (RequestInit), got ${typeof init}`);
  }
  const source = init as Record<string, unknown>;
  const out: Record<string, unknown> = { dispatcher };
  for (const member of INIT_MEMBERS) {
    const value = source[member];
    if (value !== undefined) out[member] = value;
  }
  if (isForeignFormData(out.body)) out.body = toPlatformFormData(out.body);
  return out as RequestInit;
}

/** A `Request` that is not the platform's: undici's own class, or another realm's. */
function isForeignRequest(input: unknown): input is UndiciRequest {
  return (
    typeof input === 'object' &&
    input !== null &&
    !(input instanceof PlatformRequest) &&
    !(input instanceof URL) &&
    toStringTag(input) === '[object Request]'
  );
}

function isForeignFormData(body: unknown): body is FormData {
  return typeof body === 'object' && body !== null && !(body instanceof PlatformFormData) && toStringTag(body) === '[object FormData]';
}

function toPlatformFormData(form: FormData): FormData {
  const out = new PlatformFormData();
  for (const [name, value] of form) {
    if (typeof value === 'string') out.append(name, value);
    else out.append(name, value, value.name);
  }
  return out;
}

/**
 * The platform `Request` equal to a foreign one: every member copied, the body as the
 * same stream (sent chunked; its length is not known). Left out when `init` brings its
 * own body, as the platform leaves an input's body alone then. A used body fails as
 * the platform fails on a used `Request`.
 */
function toPlatformRequest(input: UndiciRequest, initHasBody: boolean): Request {
  const body = initHasBody ? null : input.body;
  if (body !== null && input.bodyUsed) {
    throw new TypeError('Cannot construct a Request with a Request object that has already been used.');
  }
  const init: Record<string, unknown> = {
    method: input.method,
    headers: input.headers,
    referrer: input.referrer,
    referrerPolicy: input.referrerPolicy,
    mode: input.mode,
    credentials: input.credentials,
    cache: input.cache,
    redirect: input.redirect,
    integrity: input.integrity,
    keepalive: input.keepalive,
    signal: input.signal,
  };
  if (body !== null) {
    init.body = body;
    init.duplex = 'half';
  }
  return new PlatformRequest(input.url, init as RequestInit);
}
