// Hostile input on the inbound side, with the real SDK registered: malformed trace
// headers never break a request (and never become the parent of its span), hooks that
// throw (route, descriptor key, access logger, filter) never hang or crash it.
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, inbound, staticEndpoints, type InboundOptions, type Mesh } from 'proxyless';
import { closeServer, listen } from '../helpers/listen.js';
import { registerTestSdk, type TestSdk } from '../helpers/otel-sdk.js';

let sdk: TestSdk;
beforeAll(() => {
  sdk = registerTestSdk();
});
afterAll(() => sdk.shutdown());

const servers: Server[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
  await Promise.all(meshes.splice(0).map((m) => m.close()));
});

async function serve(options: InboundOptions, errors: string[] = []): Promise<string> {
  const mesh = createMesh({ discovery: [staticEndpoints({})] });
  meshes.push(mesh);
  const side = inbound(mesh, options);
  side.on('error', (e) => errors.push(e.message));
  const server = side.attach(createServer(side.handler((req, res) => res.end(JSON.stringify({ trace: req.mesh.trace ?? null })))));
  servers.push(server);
  return listen(server);
}

describe('hostile trace headers', () => {
  const valid = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  it.each([
    ['not hex', '00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01'],
    ['all-zero trace id', '00-00000000000000000000000000000000-b7ad6b7169203331-01'],
    ['all-zero span id', '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01'],
    ['version ff', 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ['too short', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01'],
    ['8 KB of junk', 'x'.repeat(8000)],
    ['upper case', valid.toUpperCase()],
  ])('%s: answered, no caller context, the span starts a new trace', async (_name, traceparent) => {
    const base = await serve({});
    const r = await request(`${base}/hostile`, { headers: { traceparent, tracestate: 'a=b' } });
    expect(r.statusCode).toBe(200);
    expect(await r.body.json()).toEqual({ trace: null });
    const spans = (await sdk.spans()).filter((s) => s.attributes['url.path'] === '/hostile');
    const last = spans.at(-1)!;
    expect(last.parentSpanContext).toBeUndefined();
    expect(last.spanContext().traceId).not.toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it('a 12 KB, 60-member tracestate next to a valid traceparent: answered, the caller context kept', async () => {
    const base = await serve({});
    const tracestate = Array.from({ length: 60 }, (_, i) => `k${i}=${'v'.repeat(200)}`).join(',');
    const r = await request(`${base}/`, { headers: { traceparent: valid, tracestate } });
    expect(r.statusCode).toBe(200);
    const body = (await r.body.json()) as { trace: { traceId: string } };
    expect(body.trace.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
  });
});

describe('hooks that throw', () => {
  it('a route function that throws: the request is answered, the span has no http.route, the error is reported', async () => {
    const errors: string[] = [];
    const base = await serve({ route: () => { throw new Error('route boom'); } }, errors);
    const r = await request(`${base}/route-boom`);
    expect(r.statusCode).toBe(200);
    await r.body.text();
    const span = (await sdk.spans()).find((s) => s.attributes['url.path'] === '/route-boom')!;
    expect(span.attributes['http.route']).toBeUndefined();
    expect(errors).toEqual(['route boom']);
  });

  it('a descriptor key function that throws: 500, reported, nothing left in flight; the next request too', async () => {
    const errors: string[] = [];
    const base = await serve({ rateLimit: { descriptors: [{ key: () => { throw new Error('key boom'); }, tokenBucket: { maxTokens: 1, fillInterval: 1000 } }] } }, errors);
    for (let i = 0; i < 2; i++) {
      const r = await request(`${base}/`);
      expect([r.statusCode, await r.body.text()]).toEqual([500, 'internal error\n']);
    }
    expect(errors).toEqual(['key boom', 'key boom']);
  });

  it('an access logger or filter that throws never reaches the request (reported once as a warning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const base = await serve({ telemetry: { accessLog: { logger: { info: () => { throw new Error('logger boom'); } } } } });
      const filtered = await serve({ telemetry: { accessLog: { filter: () => { throw new Error('filter boom'); } } } });
      for (const b of [base, base, filtered]) {
        const r = await request(`${b}/`);
        expect(r.statusCode).toBe(200);
        await r.body.text();
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.includes('access log'))).toEqual([
        "the access log's logger or filter threw (logger boom); the entry was dropped, requests go on, and later failures are not reported",
        "the access log's logger or filter threw (filter boom); the entry was dropped, requests go on, and later failures are not reported",
      ]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it("the access log (the mesh's, src/telemetry) writes Envoy's fields with direction inbound, Istio's inbound cluster name and the response flags", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const base = await serve({ telemetry: { accessLog: { logger: { info: (entry) => void lines.push(entry as Record<string, unknown>) } } }, rateLimit: { tokenBucket: { maxTokens: 1, fillInterval: '1h' } } });
    for (let i = 0; i < 2; i++) await (await request(`${base}/logged?q=1`, { headers: { 'x-request-id': 'r1' } })).body.text();
    expect(lines.map((l) => [l.direction, l.method, l.path, l.response_code, l.response_flags, l.request_id, l.attempts])).toEqual([
      ['inbound', 'GET', '/logged?q=1', 200, '-', 'r1', 1],
      ['inbound', 'GET', '/logged?q=1', 429, 'RL', 'r1', 1],
    ]);
    expect(lines[0]!.upstream_cluster).toMatch(/^inbound\|\d+\|\|$/);
    expect(lines[0]!.downstream_remote_address).toBe('127.0.0.1');
    expect(typeof lines[0]!.duration).toBe('number');
  });
});
