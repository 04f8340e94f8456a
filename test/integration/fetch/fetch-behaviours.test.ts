// mesh.fetch against the platform's fetch, behaviour by behaviour: each row of the table
// runs with Node's global fetch on real servers (the reference), then with mesh.fetch to
// the same servers named as mesh services, once building Requests, FormData and Headers
// with the platform's classes and once with undici's. The observations must be equal,
// except where a row says how undici's classes differ (and the README says why). Each
// row also checks the reference against what the fetch standard says, so two equally
// wrong results cannot agree their way through. This file also runs under Node 22 (see
// node-versions.test.ts): Node 22 and 24 bundle different undici versions.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Agent, FormData as UndiciFormData, Headers as UndiciHeaders, Request as UndiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints, UnknownServiceError, type Mesh } from 'proxyless';
import { startFetchServer, type FetchServer } from '../../helpers/fetch-server.js';
import { bodyCases, redirectCases, type FetchCase } from './cases-redirects-bodies.js';
import { abortCases, failureCases, headerCases, requestCases, responseCases } from './cases-requests.js';
import { normaliser, type AnyFetch, type FetchContext } from './observe.js';

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const table: Array<[string, FetchCase[]]> = [
  ['redirects', redirectCases],
  ['bodies', bodyCases],
  ['aborts', abortCases],
  ['headers', headerCases],
  ['Requests and init', requestCases],
  ['responses', responseCases],
  ['failures', failureCases],
];

describe(`mesh.fetch behaves as the platform fetch (Node ${process.version})`, () => {
  let a: FetchServer;
  let b: FetchServer;
  let mesh: Mesh;
  let reference: FetchContext;
  let platformClasses: FetchContext;
  let undiciClasses: FetchContext;

  beforeAll(async () => {
    [a, b] = await Promise.all([startFetchServer(), startFetchServer()]);
    const down = `127.0.0.1:${await closedPort()}`;
    mesh = createMesh({ discovery: [staticEndpoints({ 'svc-a': [a.address], 'svc-b': [b.address], 'svc-c': [down] })] });
    const servers = { a, b };
    const direct = { a: a.origin, b: b.origin, c: `http://${down}` };
    const named = { a: 'http://svc-a', b: 'http://svc-b', c: 'http://svc-c' };
    const platform = { Request: globalThis.Request, FormData: globalThis.FormData, Headers: globalThis.Headers };
    reference = { fetch: globalThis.fetch as AnyFetch, ...platform, ...direct, servers, norm: normaliser({ A: [direct.a], B: [direct.b], C: [direct.c] }) };
    // The mesh's errors may name the endpoint behind a service: both read as the label.
    const meshNorm = normaliser({ A: [named.a, a.address], B: [named.b, b.address], C: [named.c, down] });
    platformClasses = { fetch: mesh.fetch as AnyFetch, ...platform, ...named, servers, norm: meshNorm };
    undiciClasses = {
      ...platformClasses,
      Request: UndiciRequest as unknown as FetchContext['Request'],
      FormData: UndiciFormData as unknown as FetchContext['FormData'],
      Headers: UndiciHeaders as unknown as FetchContext['Headers'],
    };
  });
  afterAll(async () => {
    a.release();
    b.release();
    await mesh.close();
    await Promise.all([a.close(), b.close()]);
  });

  for (const [group, cases] of table) {
    describe(group, () => {
      for (const row of cases) {
        it(row.name, async () => {
          const expected = await row.run(reference);
          expect(expected, 'the global fetch itself').toMatchObject(row.expected);
          expect(await row.run(platformClasses), 'mesh.fetch, platform classes').toEqual(expected);
          const undiciExpected = row.withUndiciClasses ? row.withUndiciClasses(expected) : expected;
          expect(await row.run(undiciClasses), "mesh.fetch, undici's Request, FormData and Headers").toEqual(undiciExpected);
        });
      }
    });
  }

  it("mesh errors reach the caller as the cause of TypeError 'fetch failed'", async () => {
    const strict = createMesh({ outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    try {
      const error = await strict.fetch('http://unknown-service/').then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as TypeError).message).toBe('fetch failed');
      expect((error as TypeError).cause).toBeInstanceOf(UnknownServiceError);
    } finally {
      await strict.close();
    }
  });

  it('init.dispatcher is ignored: the mesh stays the dispatcher', async () => {
    const res = await mesh.fetch('http://svc-a/echo', { dispatcher: undefined } as RequestInit);
    expect(((await res.json()) as { headers: { host: string } }).headers.host).toBe('svc-a');
  });

  it("a Request made with another dispatcher still goes through the mesh", async () => {
    // Node's Request takes `dispatcher` (an undici extension); this one could not resolve svc-a.
    const other = new Agent();
    try {
      const request = new Request('http://svc-a/echo', { dispatcher: other } as RequestInit);
      const res = await mesh.fetch(request);
      expect(((await res.json()) as { headers: { host: string } }).headers.host).toBe('svc-a');
    } finally {
      await other.close();
    }
  });

  it('a fetch polyfill installed after proxyless loaded does not take mesh.fetch over', async () => {
    const original = globalThis.fetch;
    globalThis.fetch = () => Promise.reject(new Error('polyfill called'));
    try {
      expect((await mesh.fetch('http://svc-a/status?code=200')).status).toBe(200);
    } finally {
      globalThis.fetch = original;
    }
  });
});
