// What one fetch call showed, as plain data two fetch implementations can be compared
// on: the response (status, url, redirected, headers, body, what the server received)
// or the error (name, message, cause). Origins are replaced by `A`, `B`, `C` so a call
// to `http://svc-a` (the mesh) and one to `http://127.0.0.1:PORT` (the global fetch)
// read the same.
import type { FetchServer } from '../../helpers/fetch-server.js';

/** A fetch as the cases call it. */
export type AnyFetch = (input: unknown, init?: unknown) => Promise<Response>;

/** What a case runs with: one fetch, the classes it builds requests with, and the origins. */
export interface FetchContext {
  readonly fetch: AnyFetch;
  /** The `Request` class the case builds requests with (the platform's, or undici's). */
  readonly Request: new (input: string, init?: object) => Request;
  readonly FormData: new () => FormData;
  readonly Headers: new (init?: object) => Headers;
  /** Origins of server A and B, and C where nothing listens. */
  readonly a: string;
  readonly b: string;
  readonly c: string;
  readonly servers: { readonly a: FetchServer; readonly b: FetchServer };
  /** Replaces the origins and hosts by `A`, `B`, `C`. */
  norm(text: string): string;
}

/** Plain data, compared with toEqual. */
export type Observation = Record<string, unknown>;

/**
 * A normaliser: each label's origins and hosts (a mesh service's name, the address of
 * the endpoint behind it) become the label.
 */
export function normaliser(labels: Record<string, readonly string[]>): (text: string) => string {
  const pairs: Array<[RegExp, string]> = [];
  for (const [label, names] of Object.entries(labels)) {
    for (const name of names) {
      const host = (name.includes('://') ? new URL(name).host : name).replaceAll('.', '\\.');
      // Whole origins first, then bare hosts (the Host header); never a prefix of a longer port.
      pairs.push([new RegExp(`http://${host}(?![\\w.-])`, 'g'), label], [new RegExp(`${host}(?![\\w.-])`, 'g'), label]);
    }
  }
  return (text) => pairs.reduce((s, [re, label]) => s.replace(re, label), text);
}

/** The error as data: name, message, and its cause's name, code and message. */
export function errorObservation(error: unknown, norm: (s: string) => string): Observation {
  const e = error as { name?: string; message?: string; cause?: { name?: string; code?: string; message?: string } };
  const cause = e.cause;
  return {
    error: e.name,
    message: norm(String(e.message)),
    isTypeError: error instanceof TypeError,
    ...(cause === undefined ? {} : { cause: { name: cause.name, code: cause.code, message: norm(String(cause.message)) } }),
  };
}

/** The boundary of a multipart content type, replaced so two FormData bodies compare. */
function normBoundary(contentType: string | undefined, body: string): { contentType: string | undefined; body: string } {
  const boundary = contentType?.match(/boundary=(.+)$/)?.[1];
  if (!boundary) return { contentType, body };
  return { contentType: contentType!.replace(boundary, 'BOUNDARY'), body: body.replaceAll(boundary, 'BOUNDARY') };
}

/** What the server received, from an `/echo` body: method, path, headers, body, and how the body was framed. */
function echoObservation(text: string, norm: (s: string) => string): Observation {
  const echo = JSON.parse(text) as { method: string; path: string; headers: Record<string, string>; body: string };
  const { host, 'content-length': length, 'transfer-encoding': encoding, 'content-type': type, ...headers } = echo.headers;
  const { contentType, body } = normBoundary(type, echo.body);
  return {
    method: echo.method,
    path: norm(echo.path),
    host: norm(host ?? ''),
    headers,
    contentType,
    framing: encoding === 'chunked' ? 'chunked' : length !== undefined ? `length ${length}` : 'none',
    body,
  };
}

/** The response as data; the body is read as text (an `/echo` body as what the server received). */
export async function responseObservation(res: Response, norm: (s: string) => string): Promise<Observation> {
  const isEcho = res.headers.get('x-echo') === 'yes';
  const headers = [...res.headers]
    .filter(([name]) => name !== 'date' && !(isEcho && name === 'content-length'))
    .map(([name, value]) => [name, norm(value)]);
  const hadBody = res.body !== null;
  const text = await res.text();
  return {
    platformResponse: res instanceof Response,
    status: res.status,
    statusText: res.statusText,
    ok: res.ok,
    type: res.type,
    url: norm(res.url),
    redirected: res.redirected,
    headers,
    setCookie: res.headers.getSetCookie(),
    hadBody,
    ...(isEcho ? { received: echoObservation(text, norm) } : { body: text }),
  };
}

/** Awaits a fetch and observes its response or its error. */
export async function settle(call: Promise<Response>, norm: (s: string) => string): Promise<Observation> {
  try {
    return await responseObservation(await call, norm);
  } catch (error) {
    return errorObservation(error, norm);
  }
}

/** Runs `action` and observes what it threw, or `{ threw: false }`. */
export async function thrown(action: () => unknown, norm: (s: string) => string): Promise<Observation> {
  try {
    await action();
    return { threw: false };
  } catch (error) {
    return errorObservation(error, norm);
  }
}
