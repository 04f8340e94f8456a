// Fetch behaviours, part 1: redirect modes and request bodies of each kind.
import { expect } from 'vitest';
import { settle, type FetchContext, type Observation } from './observe.js';

/** One row of the table: run with each fetch, the observations must be equal. */
export interface FetchCase {
  readonly name: string;
  run(ctx: FetchContext): Promise<Observation>;
  /**
   * Checked on the global fetch's observation (with toMatchObject), so that two
   * implementations broken the same way cannot pass by agreeing.
   */
  readonly expected: Observation;
  /**
   * What changes when the case builds its `Request` with undici's class: the body of an
   * undici `Request` reaches the platform as a stream, so it is sent chunked and cannot
   * be sent again on a 307/308 redirect (see the README, "mesh.fetch").
   */
  readonly withUndiciClasses?: (expected: Observation) => Observation;
}

const redirect = (ctx: FetchContext, status: number, to = '/echo'): string =>
  `${ctx.a}/redirect?status=${status}&to=${encodeURIComponent(to)}`;

/** A POST body sent chunked, as an undici Request's stream body is. */
const chunked = (observation: Observation): Observation => ({
  ...observation,
  received: { ...(observation.received as Observation), framing: 'chunked' },
});

const post = { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain', 'x-kept': 'yes' } };

export const redirectCases: FetchCase[] = [
  ...[301, 302].map(
    (status): FetchCase => ({
      name: `redirect follow: ${status} turns a POST into a GET without body or body headers`,
      run: (ctx) => settle(ctx.fetch(redirect(ctx, status), post), ctx.norm),
      expected: { status: 200, redirected: true, url: 'A/echo', received: { method: 'GET', body: '', contentType: undefined, headers: { 'x-kept': 'yes' } } },
    }),
  ),
  {
    name: 'redirect follow: 303 turns a PUT into a GET',
    run: (ctx) => settle(ctx.fetch(redirect(ctx, 303), { ...post, method: 'PUT' }), ctx.norm),
    expected: { status: 200, redirected: true, received: { method: 'GET', body: '' } },
  },
  ...[307, 308].map(
    (status): FetchCase => ({
      name: `redirect follow: ${status} sends the same method and body again`,
      run: (ctx) => settle(ctx.fetch(redirect(ctx, status), post), ctx.norm),
      expected: { status: 200, redirected: true, url: 'A/echo', received: { method: 'POST', body: 'payload', framing: 'length 7' } },
    }),
  ),
  {
    name: 'redirect follow: 307 with a ReadableStream body fails (a stream cannot be sent twice)',
    run: (ctx) => settle(ctx.fetch(redirect(ctx, 307), { method: 'POST', body: ReadableStream.from([new TextEncoder().encode('x')]), duplex: 'half' }), ctx.norm),
    expected: { error: 'TypeError', message: 'fetch failed' },
  },
  {
    name: 'redirect follow: 307 of a Request with a body',
    run: (ctx) => settle(ctx.fetch(new ctx.Request(redirect(ctx, 307), post)), ctx.norm),
    expected: { status: 200, redirected: true, received: { method: 'POST', body: 'payload' } },
    withUndiciClasses: () => ({ error: 'TypeError', message: 'fetch failed', isTypeError: true, cause: expect.anything() }),
  },
  {
    name: 'redirect follow: a relative Location resolves against the request URL',
    run: (ctx) => settle(ctx.fetch(redirect(ctx, 302, 'echo?from=relative')), ctx.norm),
    expected: { status: 200, url: 'A/echo?from=relative', received: { path: '/echo?from=relative' } },
  },
  {
    name: 'redirect follow: to another origin in the mesh, dropping Authorization and keeping other headers',
    run: (ctx) =>
      settle(ctx.fetch(redirect(ctx, 302, `${ctx.b}/echo`), { headers: { authorization: 'Bearer secret', 'x-kept': 'yes' } }), ctx.norm),
    expected: { status: 200, redirected: true, url: 'B/echo', received: { host: 'B', headers: { 'x-kept': 'yes' } } },
  },
  {
    name: 'redirect follow: more than 20 redirects fail',
    run: (ctx) => settle(ctx.fetch(`${ctx.a}/loop`), ctx.norm),
    expected: { error: 'TypeError', message: 'fetch failed', cause: { message: 'redirect count exceeded' } },
  },
  {
    name: "redirect 'manual': the 3xx response itself, not followed",
    run: (ctx) => settle(ctx.fetch(redirect(ctx, 302), { redirect: 'manual' }), ctx.norm),
    expected: { status: 302, redirected: false, url: expect.stringContaining('A/redirect'), body: 'moved' },
  },
  {
    name: "redirect 'error': a redirect fails the fetch",
    run: (ctx) => settle(ctx.fetch(redirect(ctx, 301), { redirect: 'error' }), ctx.norm),
    expected: { error: 'TypeError', message: 'fetch failed', cause: { message: 'unexpected redirect' } },
  },
  {
    name: "redirect 'manual' set on a Request",
    run: (ctx) => settle(ctx.fetch(new ctx.Request(redirect(ctx, 308), { redirect: 'manual' })), ctx.norm),
    expected: { status: 308, body: 'moved' },
  },
];

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** POSTs `body` to /echo and observes what the server received. */
const sendBody = (body: (ctx: FetchContext) => unknown, extra: object = {}) => (ctx: FetchContext) =>
  settle(ctx.fetch(`${ctx.a}/echo`, { method: 'POST', body: body(ctx), ...extra }), ctx.norm);

export const bodyCases: FetchCase[] = [
  {
    name: 'body: string (text/plain, with Content-Length)',
    run: sendBody(() => 'héllo'),
    expected: { received: { body: Buffer.from('héllo').toString('latin1'), contentType: 'text/plain;charset=UTF-8', framing: 'length 6' } },
  },
  {
    name: 'body: URLSearchParams',
    run: sendBody(() => new URLSearchParams({ a: '1', b: 'x y' })),
    expected: { received: { body: 'a=1&b=x+y', contentType: 'application/x-www-form-urlencoded;charset=UTF-8' } },
  },
  {
    name: 'body: FormData with a field and a file (undici FormData converted)',
    run: sendBody((ctx) => {
      const form = new ctx.FormData();
      form.append('field', 'value');
      form.append('file', new Blob(['file body'], { type: 'text/plain' }), 'notes.txt');
      return form;
    }),
    expected: { received: { contentType: 'multipart/form-data; boundary=BOUNDARY', body: expect.stringContaining('filename="notes.txt"') } },
  },
  {
    name: 'body: Blob (its type becomes the Content-Type)',
    run: sendBody(() => new Blob(['blob'], { type: 'application/x-blob' })),
    expected: { received: { body: 'blob', contentType: 'application/x-blob', framing: 'length 4' } },
  },
  {
    name: 'body: ArrayBuffer',
    run: sendBody(() => bytes('buffer').buffer),
    expected: { received: { body: 'buffer', contentType: undefined, framing: 'length 6' } },
  },
  {
    name: 'body: typed array and DataView',
    run: async (ctx) => ({
      uint8: await sendBody(() => bytes('typed'))(ctx),
      view: await sendBody(() => new DataView(bytes('view').buffer))(ctx),
    }),
    expected: { uint8: { received: { body: 'typed' } }, view: { received: { body: 'view' } } },
  },
  {
    name: "body: ReadableStream with duplex 'half' (sent chunked)",
    run: sendBody(() => ReadableStream.from([bytes('str'), bytes('eam')]), { duplex: 'half' }),
    expected: { received: { body: 'stream', framing: 'chunked' } },
  },
  {
    name: "body: ReadableStream without duplex is refused before sending",
    run: sendBody(() => ReadableStream.from([bytes('x')])),
    expected: { error: 'TypeError', message: expect.stringContaining('duplex') },
  },
  {
    name: "body: async iterable with duplex 'half'",
    run: sendBody(
      () =>
        (async function* () {
          yield bytes('async ');
          yield bytes('iterable');
        })(),
      { duplex: 'half' },
    ),
    expected: { received: { body: 'async iterable', framing: 'chunked' } },
  },
  {
    name: 'body: a GET with a body is refused',
    run: (ctx) => settle(ctx.fetch(`${ctx.a}/echo`, { method: 'GET', body: 'x' }), ctx.norm),
    expected: { error: 'TypeError', message: expect.stringContaining('GET/HEAD') },
  },
  {
    name: 'body: a Request with a body',
    run: (ctx) => settle(ctx.fetch(new ctx.Request(`${ctx.a}/echo`, post)), ctx.norm),
    expected: { received: { method: 'POST', body: 'payload', contentType: 'text/plain', framing: 'length 7' } },
    withUndiciClasses: chunked,
  },
];
