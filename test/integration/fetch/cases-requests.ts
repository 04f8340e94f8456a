// Fetch behaviours, part 2: aborts, headers, Requests with init, reuse, HEAD,
import { expect } from 'vitest';
// streaming, statuses and failures.
import type { FetchCase } from './cases-redirects-bodies.js';
import { errorObservation, responseObservation, settle, thrown, type FetchContext, type Observation } from './observe.js';

// The message differs between Node versions; the comparison with the global fetch checks it.
const aborted = { error: 'AbortError' };

/**
 * Starts a fetch of `/hold` on A and resolves once the server holds it, with the call
 * wrapped (an async function returning the promise itself would wait for it to settle).
 */
async function held(ctx: FetchContext, input: (url: string) => [unknown, unknown?]): Promise<{ call: Promise<Response> }> {
  const before = ctx.servers.a.arrived;
  const call = ctx.fetch(...input(`${ctx.a}/hold`));
  call.catch(() => {}); // observed later; no unhandled rejection meanwhile
  await ctx.servers.a.whenArrived(before + 1);
  return { call };
}

/** Aborts a held request, observes the fetch, and waits for the server to see the client go. */
async function abortHeld(ctx: FetchContext, input: (url: string, signal: AbortSignal) => [unknown, unknown?]): Promise<Observation> {
  const abandoned = ctx.servers.a.abandoned;
  const controller = new AbortController();
  const { call } = await held(ctx, (url) => input(url, controller.signal));
  controller.abort();
  const observation = await settle(call, ctx.norm);
  await ctx.servers.a.whenAbandoned(abandoned + 1);
  return observation;
}

export const abortCases: FetchCase[] = [
  {
    name: 'abort before the call: rejects with AbortError, nothing is sent',
    run: async (ctx) => {
      const before = ctx.servers.a.arrived;
      const controller = new AbortController();
      controller.abort();
      const observation = await settle(ctx.fetch(`${ctx.a}/echo`, { signal: controller.signal }), ctx.norm);
      // A sentinel request after it: had the aborted one been sent, the server would count 2.
      await ctx.fetch(`${ctx.a}/echo`).then((r) => r.text());
      return { ...observation, arrived: ctx.servers.a.arrived - before };
    },
    expected: { ...aborted, arrived: 1 },
  },
  {
    name: 'abort before the call with a reason: rejects with that reason itself',
    run: async (ctx) => {
      const reason = new RangeError('caller gave up');
      const call = ctx.fetch(`${ctx.a}/echo`, { signal: AbortSignal.abort(reason) });
      const error = await call.then(() => undefined, (e: unknown) => e);
      return { isReason: error === reason };
    },
    expected: { isReason: true },
  },
  {
    name: 'abort while waiting for the response: AbortError, the server sees the connection go',
    run: (ctx) => abortHeld(ctx, (url, signal) => [url, { signal }]),
    expected: aborted,
  },
  {
    name: 'abort by AbortSignal.timeout: TimeoutError',
    run: async (ctx) => {
      const abandoned = ctx.servers.a.abandoned;
      const observation = await settle(ctx.fetch(`${ctx.a}/hold`, { signal: AbortSignal.timeout(20) }), ctx.norm);
      await ctx.servers.a.whenAbandoned(abandoned + 1);
      return observation;
    },
    expected: { error: 'TimeoutError' },
  },
  {
    name: "abort through a Request's signal",
    run: (ctx) => abortHeld(ctx, (url, signal) => [new ctx.Request(url, { signal })]),
    expected: aborted,
  },
  {
    name: 'abort while the body streams: the next read fails with AbortError',
    run: async (ctx) => {
      const abandoned = ctx.servers.a.abandoned;
      const controller = new AbortController();
      const res = await ctx.fetch(`${ctx.a}/hold-body`, { signal: controller.signal });
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      const next = await reader.read().then(() => ({ threw: false }), (e: unknown) => errorObservation(e, ctx.norm));
      await ctx.servers.a.whenAbandoned(abandoned + 1);
      return { first, next };
    },
    expected: { first: 'first', next: aborted },
  },
  {
    name: 'abort after the headers, before reading: reading fails with AbortError',
    run: async (ctx) => {
      const controller = new AbortController();
      const res = await ctx.fetch(`${ctx.a}/echo`, { signal: controller.signal });
      controller.abort();
      return thrown(() => res.text(), ctx.norm);
    },
    expected: aborted,
  },
  {
    name: 'abort after the body was read: no effect',
    run: async (ctx) => {
      const controller = new AbortController();
      const res = await ctx.fetch(`${ctx.a}/status?code=200`, { signal: controller.signal });
      const text = await res.text();
      controller.abort();
      return { text, bodyUsed: res.bodyUsed, status: res.status };
    },
    expected: { text: 'status 200', bodyUsed: true, status: 200 },
  },
];

export const headerCases: FetchCase[] = [
  {
    name: 'headers: the response headers are immutable',
    run: async (ctx) => {
      const res = await ctx.fetch(`${ctx.a}/status?code=200`);
      await res.text();
      return thrown(() => res.headers.set('x-late', '1'), ctx.norm);
    },
    expected: { error: 'TypeError', message: 'immutable' },
  },
  {
    name: "headers: a Request's headers can change until it is sent",
    run: (ctx) => {
      const request = new ctx.Request(`${ctx.a}/echo`, { headers: { 'x-first': '1' } });
      request.headers.set('x-late', '2');
      return settle(ctx.fetch(request), ctx.norm);
    },
    expected: { received: { headers: { 'x-first': '1', 'x-late': '2' } } },
  },
  {
    name: 'headers: a Headers object, a record and pairs are all sent',
    run: async (ctx) => ({
      object: await settle(ctx.fetch(`${ctx.a}/echo`, { headers: new ctx.Headers({ 'x-object': 'o' }) }), ctx.norm),
      pairs: await settle(ctx.fetch(`${ctx.a}/echo`, { headers: [['x-pair', 'p'], ['x-pair', 'q']] }), ctx.norm),
    }),
    expected: { object: { received: { headers: { 'x-object': 'o' } } }, pairs: { received: { headers: { 'x-pair': 'p, q' } } } },
  },
  {
    name: 'headers: a Connection header set by the caller is not sent (fetch manages the connection)',
    run: (ctx) => settle(ctx.fetch(`${ctx.a}/echo`, { headers: { connection: 'upgrade', 'x-kept': 'yes' } }), ctx.norm),
    expected: { status: 200, received: { headers: { connection: 'keep-alive', 'x-kept': 'yes' } } },
  },
  {
    name: "headers: a Host header set by the caller is not sent (the URL's authority is)",
    run: (ctx) => settle(ctx.fetch(`${ctx.a}/echo`, { headers: { host: 'chosen.example' } }), ctx.norm),
    expected: { status: 200, received: { host: 'A' } },
  },
  {
    name: 'headers: a value with a newline is refused before sending',
    run: (ctx) => settle(ctx.fetch(`${ctx.a}/echo`, { headers: { 'x-bad': 'a\nb' } }), ctx.norm),
    expected: { error: 'TypeError', isTypeError: true },
  },
  {
    name: 'headers: several Set-Cookie headers stay apart (getSetCookie)',
    run: (ctx) => settle(ctx.fetch(`${ctx.a}/cookies`), ctx.norm),
    expected: { setCookie: ['a=1; Path=/', 'b=2; HttpOnly'] },
  },
];

const withBody = { method: 'POST', body: 'from the request', headers: { 'x-request': 'r' } };

export const requestCases: FetchCase[] = [
  {
    name: "init overrides a Request: method and headers from init, body from the Request",
    run: (ctx) => settle(ctx.fetch(new ctx.Request(`${ctx.a}/echo`, withBody), { method: 'PUT', headers: { 'x-init': 'i' } }), ctx.norm),
    expected: { received: { method: 'PUT', body: 'from the request', headers: { 'x-init': 'i' } } },
    withUndiciClasses: (e) => ({ ...e, received: { ...(e.received as Observation), framing: 'chunked' } }),
  },
  {
    name: "init overrides a Request's body, which stays unused",
    run: async (ctx) => {
      const request = new ctx.Request(`${ctx.a}/echo`, withBody);
      const observation = await settle(ctx.fetch(request, { body: 'from init' }), ctx.norm);
      return { ...observation, requestBodyUsed: request.bodyUsed };
    },
    expected: { received: { body: 'from init', framing: 'length 9' }, requestBodyUsed: false },
  },
  {
    name: "init's redirect and signal override a Request's",
    run: (ctx) => settle(ctx.fetch(new ctx.Request(`${ctx.a}/redirect?status=302&to=%2Fecho`), { redirect: 'manual', signal: new AbortController().signal }), ctx.norm),
    expected: { status: 302 },
  },
  {
    name: 'a Request passed as init (its members are getters) is read member by member',
    run: (ctx) => settle(ctx.fetch(`${ctx.a}/echo?as=init`, new ctx.Request(`${ctx.b}/ignored`, { method: 'DELETE', headers: { 'x-from': 'request' } })), ctx.norm),
    expected: { url: 'A/echo?as=init', received: { method: 'DELETE', headers: { 'x-from': 'request' } } },
  },
  {
    name: "a no-cors Request with a body",
    run: (ctx) => settle(ctx.fetch(new ctx.Request(`${ctx.a}/echo`, { ...withBody, mode: 'no-cors' })), ctx.norm),
    expected: { status: 200, received: { method: 'POST', body: 'from the request' } },
    // Its body reaches the platform as a stream, which no-cors mode refuses (README, "mesh.fetch").
    withUndiciClasses: () => ({ error: 'TypeError', isTypeError: true, message: expect.stringContaining('same-origin') }),
  },
  {
    name: 'a Request reused after its body was sent is refused',
    run: async (ctx) => {
      const request = new ctx.Request(`${ctx.a}/echo`, withBody);
      const first = await settle(ctx.fetch(request), ctx.norm);
      return { first: (first.received as Observation).body, bodyUsed: request.bodyUsed, second: await settle(ctx.fetch(request), ctx.norm) };
    },
    expected: { first: 'from the request', bodyUsed: true, second: { error: 'TypeError', message: expect.stringContaining('already been used') } },
  },
  {
    name: 'a Request whose body was read is refused',
    run: async (ctx) => {
      const request = new ctx.Request(`${ctx.a}/echo`, withBody);
      await request.text();
      return settle(ctx.fetch(request), ctx.norm);
    },
    expected: { error: 'TypeError', message: expect.stringContaining('already been used') },
  },
  {
    name: 'a used Request is sent when init brings a new body',
    run: async (ctx) => {
      const request = new ctx.Request(`${ctx.a}/echo`, withBody);
      await request.text();
      return settle(ctx.fetch(request, { body: 'a new body' }), ctx.norm);
    },
    expected: { received: { method: 'POST', body: 'a new body', headers: { 'x-request': 'r' } } },
  },
  {
    name: 'a Request without a body can be sent twice',
    run: async (ctx) => {
      const request = new ctx.Request(`${ctx.a}/echo`, { headers: { 'x-twice': '1' } });
      return { first: await settle(ctx.fetch(request), ctx.norm), second: await settle(ctx.fetch(request), ctx.norm) };
    },
    expected: { first: { status: 200 }, second: { status: 200, received: { headers: { 'x-twice': '1' } } } },
  },
];

export const responseCases: FetchCase[] = [
  {
    name: 'HEAD: headers and no body',
    run: (ctx) => settle(ctx.fetch(`${ctx.a}/status?code=200`, { method: 'HEAD' }), ctx.norm),
    expected: { status: 200, hadBody: false, body: '' },
  },
  {
    name: 'the response body streams: the first chunk arrives while the server holds the rest',
    run: async (ctx) => {
      const res = await ctx.fetch(`${ctx.a}/hold-body`);
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      ctx.servers.a.release();
      let rest = '';
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
      return { platformResponse: res instanceof Response, first, rest };
    },
    expected: { platformResponse: true, first: 'first', rest: 'second' },
  },
  {
    name: 'statuses: 204 has a null body, 404 and 503 are responses (not errors)',
    run: async (ctx) => ({
      noContent: await settle(ctx.fetch(`${ctx.a}/status?code=204`), ctx.norm),
      notFound: await settle(ctx.fetch(`${ctx.a}/status?code=404`), ctx.norm),
      unavailable: await settle(ctx.fetch(`${ctx.a}/status?code=503`), ctx.norm),
    }),
    expected: { noContent: { status: 204, hadBody: false }, notFound: { status: 404, ok: false }, unavailable: { status: 503, statusText: 'Service Unavailable' } },
  },
  {
    name: 'url and redirected of a plain call; the Response is the platform one',
    run: (ctx) => settle(ctx.fetch(new URL(`${ctx.a}/echo?q=1#fragment`)), ctx.norm),
    expected: { platformResponse: true, url: 'A/echo?q=1', redirected: false, type: 'basic' },
  },
];

export const failureCases: FetchCase[] = [
  {
    name: "failures: a refused connection is TypeError 'fetch failed' with the cause",
    run: (ctx) => settle(ctx.fetch(`${ctx.c}/`), ctx.norm),
    expected: { error: 'TypeError', message: 'fetch failed', cause: { code: 'ECONNREFUSED' } },
  },
  {
    name: 'failures: a URL that does not parse is refused as the platform refuses it',
    run: (ctx) => settle(ctx.fetch('http://'), ctx.norm),
    expected: { error: 'TypeError', message: 'Failed to parse URL from http://' },
  },
  {
    name: 'failures: another scheme (ftp:) fails; data: URLs are answered without a request',
    run: async (ctx) => ({
      ftp: await settle(ctx.fetch('ftp://example.test/file'), ctx.norm),
      data: await settle(ctx.fetch('data:text/plain,inline'), ctx.norm),
    }),
    expected: { ftp: { error: 'TypeError', message: 'fetch failed' }, data: { status: 200, body: 'inline' } },
  },
];
