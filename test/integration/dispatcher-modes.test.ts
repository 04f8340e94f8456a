// The three ways a program hands requests to the mesh. This file also runs under
// Node 22 (see node-versions.test.ts), since Node 22 and 24 bundle different undici
// versions in their global fetch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getGlobalDispatcher, request, setGlobalDispatcher } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackends, type Backend } from '../helpers/backends.js';

describe(`dispatcher modes on Node ${process.version}`, () => {
  let backends: Backend[];
  let mesh: Mesh;

  beforeAll(async () => {
    backends = await startBackends(2, 'reviews-');
    mesh = createMesh({ discovery: [staticEndpoints({ reviews: backends.map((b) => b.address) })] });
  });
  afterAll(async () => {
    await mesh.close();
    await closeAll(backends);
  });

  it('undici.request(url, { dispatcher: mesh.dispatcher }) reaches a replica by service name', async () => {
    const res = await request('http://reviews:9080/api/reviews/1', { dispatcher: mesh.dispatcher });
    expect(res.statusCode).toBe(200);
    expect(['reviews-0', 'reviews-1']).toContain(await res.body.text());
  });

  it('keeps the logical authority as the Host header the backend sees', async () => {
    const res = await request('http://reviews:9080/echo', { dispatcher: mesh.dispatcher });
    const echo = (await res.body.json()) as { headers: Record<string, string> };
    expect(echo.headers.host).toBe('reviews:9080');
  });

  it("Node's global fetch(url, { dispatcher: mesh.dispatcher }) works with the bundled undici", async () => {
    const res = await fetch('http://reviews/echo', {
      method: 'POST',
      body: 'hello',
      headers: { 'x-test': '1' },
      // No cast: mesh.dispatcher is typed as the Dispatcher of @types/node's fetch too
      // (npm run typecheck checks this line); it speaks both undici handler APIs.
      dispatcher: mesh.dispatcher,
    });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as { body: string; method: string; headers: Record<string, string> };
    expect(echo).toMatchObject({ body: 'hello', method: 'POST' });
    expect(echo.headers['x-test']).toBe('1');
  });

  it('setGlobalDispatcher(mesh.dispatcher) routes global fetch and undici.request through the mesh', async () => {
    const previous = getGlobalDispatcher();
    setGlobalDispatcher(mesh.dispatcher);
    try {
      const viaFetch = await fetch('http://reviews/');
      expect(['reviews-0', 'reviews-1']).toContain(await viaFetch.text());
      const viaRequest = await request('http://reviews/');
      expect(['reviews-0', 'reviews-1']).toContain(await viaRequest.body.text());
    } finally {
      setGlobalDispatcher(previous);
    }
  });

  it('mesh.fetch follows WHATWG fetch semantics (status, headers, streamed body)', async () => {
    const res = await mesh.fetch('http://reviews.default.svc.cluster.local/echo?x=1', {
      method: 'PUT',
      body: JSON.stringify({ a: 1 }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.ok).toBe(true);
    expect(res.headers.get('content-type')).toBe('application/json');
    const echo = (await res.json()) as { url: string; body: string; headers: Record<string, string> };
    expect(echo.url).toBe('/echo?x=1');
    expect(JSON.parse(echo.body)).toEqual({ a: 1 });
    expect(echo.headers.host).toBe('reviews.default.svc.cluster.local');
  });
});
