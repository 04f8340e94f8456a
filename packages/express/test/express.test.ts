// @proxyless/express on real Express 5 servers (127.0.0.1, port 0), with the real
// OpenTelemetry SDK registered: spans, metrics, req.mesh, refusals, errors, body parsing.
import { once } from 'node:events';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { trace } from '@opentelemetry/api';
import express from 'express';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, currentDeadline, staticEndpoints, type Mesh } from 'proxyless';
import { meshMiddleware } from '../src/index.js';
import { dataPoints, registerTestSdk, type TestSdk } from '../../../test/helpers/otel-sdk.js';
import { closeServer, listen } from '../../../test/helpers/listen.js';

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

function newMesh(endpoints: Record<string, string[]> = {}): Mesh {
  const mesh = createMesh({ discovery: [staticEndpoints(endpoints)] });
  meshes.push(mesh);
  return mesh;
}

async function start(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

describe('@proxyless/express', () => {
  it("req.mesh carries the caller's trace context and deadline; the SERVER span is a child of the caller's, named by the route template", async () => {
    const mesh = newMesh();
    const app = express();
    app.use(meshMiddleware(mesh));
    const router = express.Router();
    router.get('/orders/:id', (req, res) => {
      const active = trace.getActiveSpan()?.spanContext();
      res.json({ trace: req.mesh.trace, remaining: req.mesh.remainingMs, inContext: currentDeadline() === req.mesh.deadline, activeTrace: active?.traceId });
    });
    app.use('/api', router);
    const base = await start(app);
    const r = await request(`${base}/api/orders/42?x=1`, {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT}-01`, tracestate: 'vendor=a', 'x-envoy-expected-rq-timeout-ms': '5000' },
    });
    const body = (await r.body.json()) as { trace: { traceId: string; spanId: string; traceFlags: number; traceState: string }; remaining: number; inContext: boolean; activeTrace: string };
    expect(body.trace).toEqual({ traceId: TRACE_ID, spanId: PARENT, traceFlags: 1, traceState: 'vendor=a' });
    expect(body.remaining).toBeGreaterThan(0);
    expect(body.remaining).toBeLessThanOrEqual(5000);
    expect(body.inContext).toBe(true);
    expect(body.activeTrace).toBe(TRACE_ID);

    const spans = (await sdk.spans()).filter((s) => s.attributes['http.route'] === '/api/orders/:id');
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span.name).toBe('GET /api/orders/:id');
    expect(span.kind).toBe(1); // SERVER
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(span.parentSpanContext?.spanId).toBe(PARENT);
    expect(span.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/api/orders/42', 'http.response.status_code': 200, 'url.scheme': 'http' });

    const points = dataPoints(await sdk.metrics(), 'http.server.request.duration').filter((p) => p.attributes['http.route'] === '/api/orders/:id');
    expect(points).toHaveLength(1);
    expect(points[0]!.attributes).toEqual({ 'http.request.method': 'GET', 'url.scheme': 'http', 'network.protocol.version': '1.1', 'http.route': '/api/orders/:id', 'http.response.status_code': 200 });
    expect((points[0]!.value as { count: number }).count).toBe(1);
  });

  it('the deadline and trace context survive express.json() when the body arrives after the headers: a nested mesh call inherits the deadline', async () => {
    const seen: string[] = [];
    const backendApp = express();
    backendApp.get('/', (req, res) => {
      seen.push(String(req.headers['x-envoy-expected-rq-timeout-ms']));
      res.send('ok');
    });
    const backend = await start(backendApp);
    const mesh = newMesh({ backend: [backend.slice('http://'.length)] });
    const app = express();
    app.use(meshMiddleware(mesh));
    // The body is sent only once the request reached the app: it comes in a later read of
    // the socket, from the connection's own async context.
    let arrived!: () => void;
    const inApp = new Promise<void>((resolve) => (arrived = resolve));
    app.use((_req, _res, next) => {
      arrived();
      next();
    });
    app.use(express.json());
    app.post('/orders', async (req, res) => {
      const nested = await mesh.fetch('http://backend/');
      res.json({ item: (req.body as { item: string }).item, inContext: currentDeadline() === req.mesh.deadline && currentDeadline() !== undefined, active: trace.getActiveSpan()?.spanContext().traceId, nested: nested.status });
    });
    const base = await start(app);
    // A raw client: the headers first, the body once the request reached the app.
    const body = JSON.stringify({ item: 'book' });
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8').on('data', (text: string) => (answer += text));
    const closed = once(socket, 'end');
    socket.write(
      `POST /orders HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n` +
        `traceparent: 00-${TRACE_ID}-${PARENT}-01\r\nx-envoy-expected-rq-timeout-ms: 4000\r\n\r\n`,
    );
    await inApp;
    socket.write(body);
    await closed;
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ item: 'book', inContext: true, active: TRACE_ID, nested: 200 });
    expect(Number(seen[0])).toBeGreaterThan(0);
    expect(Number(seen[0])).toBeLessThanOrEqual(4000);
  });

  it('refusals (429, 504) never reach the routes and are spans with their response flag; a 404 has no http.route', async () => {
    const mesh = newMesh();
    const app = express();
    let reached = 0;
    app.use(meshMiddleware(mesh, { rateLimit: { tokenBucket: { maxTokens: 1, fillInterval: '1h' } } }));
    app.get('/limited', (_req, res) => {
      reached++;
      res.send('ok');
    });
    const base = await start(app);
    expect((await request(`${base}/limited`)).statusCode).toBe(200);
    const refused = await request(`${base}/limited`);
    expect([refused.statusCode, await refused.body.text(), refused.headers['x-ratelimit-remaining']]).toEqual([429, 'local_rate_limited', '0']);
    expect(reached).toBe(1);
    const spans = await sdk.spans();
    const limited = spans.filter((s) => s.attributes['proxyless.response_flags'] === 'RL');
    expect(limited).toHaveLength(1);
    expect(limited[0]!.attributes['http.response.status_code']).toBe(429);
    expect(limited[0]!.attributes['http.route']).toBeUndefined(); // refused before Express routed it
  });

  it('a route that throws: Express answers 500, the span records the 500 as an error, and the next request is served', async () => {
    const mesh = newMesh();
    const app = express();
    app.use(meshMiddleware(mesh));
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/async-boom', async () => {
      await Promise.resolve();
      throw new Error('async boom');
    });
    app.get('/ok', (_req, res) => res.send('ok'));
    app.use(((_err, _req, res, _next) => res.status(500).send('handled')) as express.ErrorRequestHandler);
    const base = await start(app);
    expect((await request(`${base}/boom`)).statusCode).toBe(500);
    expect((await request(`${base}/async-boom`)).statusCode).toBe(500);
    expect((await request(`${base}/ok`)).statusCode).toBe(200);
    const failed = (await sdk.spans()).filter((s) => s.attributes['http.route'] === '/boom' || s.attributes['http.route'] === '/async-boom');
    expect(failed.map((s) => [s.attributes['error.type'], s.status.code])).toEqual([
      ['500', 2],
      ['500', 2],
    ]);
  });

  it('options are validated when the middleware is made', () => {
    const mesh = newMesh();
    expect(() => meshMiddleware(mesh, { loadShedding: { minConcurrency: -1 } })).toThrow(/^meshMiddleware: invalid option:\n {2}loadShedding\.minConcurrency: -1 \(expected: >= 1\)$/);
    expect(() => meshMiddleware(mesh, { tracing: true } as never)).toThrow(/tracing: unknown field/);
    expect(() => meshMiddleware({} as never)).toThrow(/mesh: \{\} \(expected: a mesh from createMesh\(\)\)/);
  });
});
