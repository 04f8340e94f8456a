// @proxyless/fastify on real Fastify 5 servers (127.0.0.1, port 0) under the real
// OpenTelemetry SDK; Fastify's inject only for the plugin's unit checks (registration,
// metadata, option errors).
import { trace } from '@opentelemetry/api';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, currentDeadline, staticEndpoints, type Mesh } from 'proxyless';
import defaultExport, { meshPlugin } from '../src/index.js';
import { dataPoints, registerTestSdk, type TestSdk } from '../../../test/helpers/otel-sdk.js';

let sdk: TestSdk;
beforeAll(() => {
  sdk = registerTestSdk();
});
afterAll(() => sdk.shutdown());

const apps: FastifyInstance[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await Promise.all(meshes.splice(0).map((m) => m.close()));
});

function newMesh(endpoints: Record<string, string[]> = {}): Mesh {
  const mesh = createMesh({ discovery: [staticEndpoints(endpoints)] });
  meshes.push(mesh);
  return mesh;
}

function newApp(): FastifyInstance {
  const app = Fastify();
  apps.push(app);
  return app;
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('@proxyless/fastify (unit, inject)', () => {
  it('is a fastify-plugin (name @proxyless/fastify, fastify 5.x), both the named and the default export, decorating request.mesh', async () => {
    expect(defaultExport).toBe(meshPlugin);
    const meta = (meshPlugin as unknown as Record<symbol, { name: string; fastify: string }>)[Symbol.for('plugin-meta')];
    expect(meta).toMatchObject({ name: '@proxyless/fastify', fastify: '5.x' });
    const app = newApp();
    await app.register(meshPlugin, { mesh: newMesh() });
    app.get('/x', async (req) => ({ hasMesh: req.mesh !== null && 'deadline' in req.mesh, roles: app.meshInbound.roles.length }));
    const r = await app.inject({ url: '/x' });
    expect(r.json()).toEqual({ hasMesh: true, roles: 9 });
    expect((await app.inject({ url: '/healthz/live' })).body).toBe('live\n');
  });

  it('bad options fail the registration with InvalidOptionError naming the field', async () => {
    const app = newApp();
    await expect(app.register(meshPlugin, { mesh: newMesh(), rateLimit: { tokenBucket: { maxTokens: 0, fillInterval: '1s' } } })).rejects.toThrow(
      /^meshPlugin: invalid option:\n {2}rateLimit\.tokenBucket\.maxTokens: 0 \(expected: >= 1\)$/,
    );
    const other = newApp();
    await expect(other.register(meshPlugin, {} as never)).rejects.toThrow(/mesh: undefined \(expected: the mesh from createMesh\(\)/);
  });
});

describe('@proxyless/fastify on real sockets', () => {
  it("request.mesh: the caller's trace context and deadline; the handler runs in them; the SERVER span is named by the route template", async () => {
    const seen: string[] = [];
    const backend = newApp();
    backend.get('/', async (req) => {
      seen.push(String(req.headers['x-envoy-expected-rq-timeout-ms']));
      return 'ok';
    });
    const backendUrl = await backend.listen({ port: 0, host: '127.0.0.1' });
    const mesh = newMesh({ backend: [backendUrl.slice('http://'.length)] });
    const app = newApp();
    await app.register(meshPlugin, { mesh });
    app.post('/orders/:id', async (req) => {
      const nested = await mesh.fetch('http://backend/');
      return {
        trace: req.mesh.trace,
        body: req.body,
        inContext: currentDeadline() === req.mesh.deadline && currentDeadline() !== undefined,
        active: trace.getActiveSpan()?.spanContext().traceId,
        nested: nested.status,
      };
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const r = await request(`${base}/orders/7`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${TRACE_ID}-${PARENT}-01`, 'x-envoy-expected-rq-timeout-ms': '3000' },
      body: JSON.stringify({ n: 1 }),
    });
    expect(await r.body.json()).toEqual({
      trace: { traceId: TRACE_ID, spanId: PARENT, traceFlags: 1 },
      body: { n: 1 },
      inContext: true,
      active: TRACE_ID,
      nested: 200,
    });
    expect(Number(seen[0])).toBeGreaterThan(0);
    expect(Number(seen[0])).toBeLessThanOrEqual(3000);
    const spans = (await sdk.spans()).filter((s) => s.attributes['http.route'] === '/orders/:id');
    expect(spans.map((s) => [s.name, s.parentSpanContext?.spanId, s.attributes['http.response.status_code']])).toEqual([['POST /orders/:id', PARENT, 200]]);
    const points = dataPoints(await sdk.metrics(), 'http.server.request.duration').filter((p) => p.attributes['http.route'] === '/orders/:id');
    expect((points[0]!.value as { count: number }).count).toBe(1);
  });

  it("refusals go through Fastify's reply (its onSend hooks see them) and never reach the handler; a 404 has no http.route", async () => {
    const mesh = newMesh();
    const app = newApp();
    await app.register(meshPlugin, { mesh, rateLimit: { tokenBucket: { maxTokens: 1, fillInterval: '1h' } } });
    const sent: number[] = [];
    app.addHook('onSend', async (_req, reply, payload) => {
      sent.push(reply.statusCode);
      return payload;
    });
    let reached = 0;
    app.get('/limited', async () => {
      reached++;
      return 'ok';
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    expect((await request(`${base}/limited`)).statusCode).toBe(200);
    const refused = await request(`${base}/limited`);
    expect([refused.statusCode, await refused.body.text(), refused.headers['x-ratelimit-limit']]).toEqual([429, 'local_rate_limited', '1']);
    expect(reached).toBe(1);
    expect(sent).toEqual([200, 429]);
    const expired = await request(`${base}/limited`, { headers: { 'grpc-timeout': '0m' } });
    expect(expired.statusCode).toBe(504);

    const app404 = newApp();
    await app404.register(meshPlugin, { mesh });
    const base404 = await app404.listen({ port: 0, host: '127.0.0.1' });
    expect((await request(`${base404}/nothing/here`)).statusCode).toBe(404);
    const notFound = (await sdk.spans()).filter((s) => s.attributes['url.path'] === '/nothing/here');
    expect(notFound.map((s) => [s.name, s.attributes['http.route']])).toEqual([['GET', undefined]]);
  });

  it('a handler that throws: Fastify answers 500, onError records the exception on the span, which ends once', async () => {
    const mesh = newMesh();
    const app = newApp();
    await app.register(meshPlugin, { mesh });
    app.get('/boom', async () => {
      throw new TypeError('boom');
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    expect((await request(`${base}/boom`)).statusCode).toBe(500);
    const spans = (await sdk.spans()).filter((s) => s.attributes['http.route'] === '/boom');
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes['error.type']).toBe('TypeError');
    expect(spans[0]!.events.map((e) => e.name)).toEqual(['exception']);
    expect(app.meshInbound.lifecycle.inFlight).toBe(0);
  });

  it('a caller that disconnects while the handler waits: the span and the metric end once, nothing stays in flight', async () => {
    const mesh = newMesh();
    const app = newApp();
    await app.register(meshPlugin, { mesh });
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let aborted!: () => void;
    const gone = new Promise<void>((resolve) => (aborted = resolve));
    app.get('/hang', async (req) => {
      req.mesh.signal.addEventListener('abort', () => aborted());
      entered();
      await gone;
      return 'late';
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    const pending = request(`${base}/hang`, { signal: controller.signal }).catch(() => 'aborted');
    await inHandler;
    controller.abort();
    expect(await pending).toBe('aborted');
    await gone;
    const spans = (await sdk.spans()).filter((s) => s.attributes['http.route'] === '/hang');
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes['proxyless.response_flags']).toBe('DC');
    expect(spans[0]!.attributes['error.type']).toBe('aborted');
    const points = dataPoints(await sdk.metrics(), 'http.server.request.duration').filter((p) => p.attributes['http.route'] === '/hang');
    expect(points.reduce((n, p) => n + (p.value as { count: number }).count, 0)).toBe(1);
    expect(app.meshInbound.lifecycle.inFlight).toBe(0);
  });
});
