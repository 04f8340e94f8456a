// The inbound core on a plain node:http server, through real sockets: health endpoints,
// deadlines in and out, rate limiting, load shedding, failing handlers and callers that
// go away. Clients: undici (raw headers as written) and the mesh itself.
import { once } from 'node:events';
import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, currentDeadline, inbound, staticEndpoints, MAX_DEADLINE_MS, type Inbound, type Mesh, type MeshIncomingMessage } from 'proxyless';
import type { ServerResponse } from 'node:http';
import { closeServer, listen } from '../../helpers/listen.js';
import { ManualSource } from '../../helpers/manual-source.js';

const servers: Server[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
  await Promise.all(meshes.splice(0).map((m) => m.close()));
});

function meshWith(endpoints: Record<string, string[]> = {}): Mesh {
  const mesh = createMesh({ discovery: [staticEndpoints(endpoints)] });
  meshes.push(mesh);
  return mesh;
}

async function serve(side: Inbound, listener: (req: MeshIncomingMessage, res: ServerResponse) => unknown): Promise<string> {
  const server = side.attach(createServer(side.handler(listener)));
  servers.push(server);
  return listen(server);
}

/** A source whose first answer the test gives (`answer()`), as DNS or etcd before their first reply. */
class SlowSource extends ManualSource {
  #resolve!: () => void;
  readonly #ready = new Promise<void>((resolve) => (this.#resolve = resolve));
  override ready(): Promise<void> {
    return this.#ready;
  }
  answer(): void {
    this.#resolve();
  }
}

describe('inbound on node:http: health endpoints', () => {
  it('/healthz/ready is 503 until every source answered and every registration is done, then 200; /healthz/live is 200 throughout', async () => {
    const source = new SlowSource('slow');
    const mesh = createMesh({ discovery: [source] });
    meshes.push(mesh);
    let registered!: () => void;
    const registration = { ready: () => new Promise<void>((resolve) => (registered = resolve)), close: async () => {} };
    mesh.addRegistration(registration);
    const side = inbound(mesh);
    let reached = 0;
    const base = await serve(side, (_req, res) => {
      reached++;
      res.end('app');
    });
    const get = async (path: string) => {
      const r = await request(`${base}${path}`);
      return { status: r.statusCode, body: await r.body.text() };
    };
    expect(await get('/healthz/ready')).toEqual({ status: 503, body: 'not ready: waiting for the discovery and config sources to answer\n' });
    expect(await get('/healthz/live')).toEqual({ status: 200, body: 'live\n' });
    source.answer();
    await mesh.ready();
    expect(await get('/healthz/ready')).toEqual({ status: 503, body: 'not ready: 1 registration(s) not done yet\n' });
    registered();
    await registration.ready;
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(await get('/healthz/ready?probe=1')).toEqual({ status: 200, body: 'ready\n' });
    expect(side.state).toBe('ready');
    expect(reached).toBe(0); // answered by the mesh, never by the application
    expect(await get('/healthz/readyish')).toEqual({ status: 200, body: 'app' });
  });

  it('custom paths, and health: false leaves the paths to the application', async () => {
    const mesh = meshWith();
    const custom = await serve(inbound(mesh, { health: { readyPath: '/ready', livePath: '/alive' } }), (_req, res) => res.end('app'));
    expect((await request(`${custom}/alive`)).statusCode).toBe(200);
    expect(await (await request(`${custom}/healthz/live`)).body.text()).toBe('app');
    const off = await serve(inbound(mesh, { health: false }), (_req, res) => res.end('app'));
    expect(await (await request(`${off}/healthz/ready`)).body.text()).toBe('app');
  });
});

describe('inbound on node:http: deadlines', () => {
  it("the caller's x-envoy-expected-rq-timeout-ms becomes req.mesh.deadline, and a nested mesh call carries what is left of it", async () => {
    const backendSeen: string[] = [];
    const backend = createServer((req, res) => {
      backendSeen.push(String(req.headers['x-envoy-expected-rq-timeout-ms']));
      res.end('ok');
    });
    servers.push(backend);
    const backendUrl = await listen(backend);
    const mesh = meshWith({ backend: [backendUrl.slice('http://'.length)] });
    const base = await serve(inbound(mesh), async (req, res) => {
      const nested = await mesh.fetch('http://backend/');
      res.end(JSON.stringify({ remaining: req.mesh.remainingMs, deadline: req.mesh.deadline, inContext: currentDeadline(), nested: nested.status }));
    });
    const r = await request(`${base}/`, { headers: { 'x-envoy-expected-rq-timeout-ms': '3000' } });
    const body = (await r.body.json()) as { remaining: number; deadline: number; inContext: number; nested: number };
    expect(body.nested).toBe(200);
    expect(body.inContext).toBe(body.deadline);
    expect(body.remaining).toBeGreaterThan(0);
    expect(body.remaining).toBeLessThanOrEqual(3000);
    const passedOn = Number(backendSeen[0]);
    expect(passedOn).toBeGreaterThan(0);
    expect(passedOn).toBeLessThanOrEqual(3000);

    // No header: no deadline in the handler, and none passed on.
    const plain = await serve(inbound(mesh), async (req, res) => {
      await (await mesh.fetch('http://backend/')).text();
      res.end(JSON.stringify({ deadline: req.mesh.deadline ?? null, inContext: currentDeadline() ?? null }));
    });
    expect(await (await request(`${plain}/`)).body.json()).toEqual({ deadline: null, inContext: null });
    expect(backendSeen[1]).toBe('undefined');
  });

  it("a body read with req.on('data') after the headers keeps the request's deadline in its listeners (they run from the connection's context)", async () => {
    const mesh = meshWith();
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    const base = await serve(inbound(mesh), (req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      req.on('end', () => res.end(JSON.stringify({ text, inContext: currentDeadline() === req.mesh.deadline && currentDeadline() !== undefined })));
      arrived();
    });
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8').on('data', (text: string) => (answer += text));
    const ended = once(socket, 'end');
    socket.write('POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 5\r\nx-envoy-expected-rq-timeout-ms: 4000\r\n\r\n');
    await inHandler; // the body comes in a later read of the socket
    socket.write('hello');
    await ended;
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ text: 'hello', inContext: true });
  });

  it('grpc-timeout is read too, and the earlier of the two deadlines wins', async () => {
    const mesh = meshWith();
    const base = await serve(inbound(mesh), (req, res) => res.end(String(req.mesh.remainingMs)));
    const remaining = async (headers: Record<string, string>) => Number(await (await request(`${base}/`, { headers })).body.text());
    expect(await remaining({ 'grpc-timeout': '2S' })).toBeLessThanOrEqual(2000);
    expect(await remaining({ 'grpc-timeout': '2S' })).toBeGreaterThan(1000);
    expect(await remaining({ 'grpc-timeout': '1H', 'x-envoy-expected-rq-timeout-ms': '1500' })).toBeLessThanOrEqual(1500);
    expect(await remaining({ 'grpc-timeout': '500m', 'x-envoy-expected-rq-timeout-ms': '60000' })).toBeLessThanOrEqual(500);
  });

  it('a request that arrives with no time left is answered 504 at once and never reaches the handler', async () => {
    const mesh = meshWith();
    let reached = 0;
    const base = await serve(inbound(mesh), (_req, res) => {
      reached++;
      res.end();
    });
    for (const headers of [{ 'x-envoy-expected-rq-timeout-ms': '0' }, { 'grpc-timeout': '0n' }, { 'grpc-timeout': '0S', 'x-envoy-expected-rq-timeout-ms': '9000' }]) {
      const r = await request(`${base}/`, { headers });
      expect(r.statusCode).toBe(504);
      expect(await r.body.text()).toBe('deadline exceeded: the request arrived with no time left\n');
    }
    expect(reached).toBe(0);
  });

  it('absurd deadline headers: negative, NaN, text and bad units are ignored; 10^20 ms and 400 digits are clamped, and nested calls still work', async () => {
    const backend = createServer((_req, res) => res.end('ok'));
    servers.push(backend);
    const backendUrl = await listen(backend);
    const mesh = meshWith({ backend: [backendUrl.slice('http://'.length)] });
    const base = await serve(inbound(mesh), async (req, res) => {
      const nested = await mesh.fetch('http://backend/');
      res.end(JSON.stringify({ remaining: req.mesh.remainingMs ?? null, nested: nested.status }));
    });
    const ask = async (headers: Record<string, string>) => (await (await request(`${base}/`, { headers })).body.json()) as { remaining: number | null; nested: number };
    for (const value of ['-5', 'NaN', 'abc', '1e3', ' ', '12.5', '0x10', '+5']) {
      expect(await ask({ 'x-envoy-expected-rq-timeout-ms': value }), value).toEqual({ remaining: null, nested: 200 });
    }
    for (const value of ['-1S', '1', 'S', '123456789S', '1s', '1.5S', 'NaNS']) {
      expect(await ask({ 'grpc-timeout': value }), value).toEqual({ remaining: null, nested: 200 });
    }
    for (const value of ['100000000000000000000', '9'.repeat(400)]) {
      const body = await ask({ 'x-envoy-expected-rq-timeout-ms': value });
      expect(body.nested).toBe(200); // a far deadline must not turn into an immediate timeout
      expect(body.remaining).toBeGreaterThan(MAX_DEADLINE_MS - 60_000);
      expect(body.remaining).toBeLessThanOrEqual(MAX_DEADLINE_MS);
    }
  });
});

describe('inbound on node:http: rate limiting and load shedding', () => {
  it('an empty token bucket answers 429 with x-ratelimit-* and "local_rate_limited"; the handler never sees it', async () => {
    const mesh = meshWith();
    let reached = 0;
    const base = await serve(inbound(mesh, { rateLimit: { tokenBucket: { maxTokens: 2, tokensPerFill: 2, fillInterval: '1h' }, responseHeaders: true } }), (_req, res) => {
      reached++;
      res.end('ok');
    });
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const r = await request(`${base}/`);
      answers.push({ status: r.statusCode, body: await r.body.text(), limit: r.headers['x-ratelimit-limit'], remaining: r.headers['x-ratelimit-remaining'], reset: r.headers['x-ratelimit-reset'] });
    }
    expect(answers).toEqual([
      { status: 200, body: 'ok', limit: '2', remaining: '1', reset: '3600' },
      { status: 200, body: 'ok', limit: '2', remaining: '0', reset: '3600' },
      { status: 429, body: 'local_rate_limited', limit: '2', remaining: '0', reset: '3600' },
    ]);
    expect(reached).toBe(2);
    // Health checks are never limited.
    expect((await request(`${base}/healthz/live`)).statusCode).toBe(200);
  });

  it('per-header descriptors: each user has a bucket; a request without the header is left to the workload bucket', async () => {
    const mesh = meshWith();
    const base = await serve(
      inbound(mesh, {
        rateLimit: {
          tokenBucket: { maxTokens: 100, fillInterval: '1h' },
          descriptors: [{ name: 'per-user', path: { prefix: '/api' }, header: 'x-user', tokenBucket: { maxTokens: 1, fillInterval: '1h' } }],
        },
      }),
      (_req, res) => res.end('ok'),
    );
    const status = async (path: string, user?: string) => (await request(`${base}${path}`, { headers: user ? { 'x-user': user } : {} })).statusCode;
    expect(await status('/api/a', 'alice')).toBe(200);
    expect(await status('/api/a', 'alice')).toBe(429);
    expect(await status('/api/a', 'bob')).toBe(200);
    expect(await status('/api/a')).toBe(200);
    expect(await status('/api/a')).toBe(200);
    expect(await status('/other', 'alice')).toBe(200);
  });

  it('load shedding: above the concurrency limit a request is refused at once with 503 instead of queueing', async () => {
    const mesh = meshWith();
    const held: ServerResponse[] = [];
    let arrived!: () => void;
    let waiting = 3;
    const allIn = new Promise<void>((resolve) => (arrived = resolve));
    // The limit starts pinned at minConcurrency while the minimum latency is measured.
    const base = await serve(inbound(mesh, { loadShedding: { minConcurrency: 3 } }), (_req, res) => {
      held.push(res);
      if (--waiting === 0) arrived();
    });
    const first = [1, 2, 3].map(() => request(`${base}/`));
    await allIn;
    const refused = await request(`${base}/`);
    expect(refused.statusCode).toBe(503);
    expect(await refused.body.text()).toBe('overloaded: concurrency limit reached\n');
    for (const res of held) res.end('done');
    const done = await Promise.all(first);
    expect(done.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    await Promise.all(done.map((r) => r.body.text()));
    // Slots are back: the next request goes through.
    let freed!: () => void;
    const next = new Promise<void>((resolve) => (freed = resolve));
    waiting = 1;
    arrived = freed;
    const again = request(`${base}/`);
    await next;
    held.at(-1)!.end('again');
    expect((await again).statusCode).toBe(200);
  });
});

describe('inbound on node:http: handlers that fail and callers that leave', () => {
  it('a handler that throws, or rejects, gets its request answered 500 and an error event; one that throws after answering keeps its answer', async () => {
    const mesh = meshWith();
    const side = inbound(mesh);
    const errors: string[] = [];
    side.on('error', (error) => errors.push(error.message));
    const base = await serve(side, async (req, res) => {
      if (req.url === '/sync') throw new Error('sync boom');
      if (req.url === '/async') {
        await Promise.resolve();
        throw new Error('async boom');
      }
      res.end('answered');
      throw new Error('after the answer');
    });
    for (const [path, status, body] of [['/sync', 500, 'internal error\n'], ['/async', 500, 'internal error\n'], ['/late', 200, 'answered']] as const) {
      const r = await request(`${base}${path}`);
      expect([r.statusCode, await r.body.text()]).toEqual([status, body]);
    }
    expect(errors).toEqual(['sync boom', 'async boom', 'after the answer']);
  });

  it('a caller that goes away mid-request: the request ends once (signal aborted, in-flight count back to 0), for a handler that never answers', async () => {
    const mesh = meshWith();
    const side = inbound(mesh);
    let signal: AbortSignal | undefined;
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const base = await serve(side, (req) => {
      signal = req.mesh.signal;
      entered(); // never answers
    });
    const controller = new AbortController();
    const pending = request(`${base}/`, { signal: controller.signal }).catch((error: unknown) => error);
    await inHandler;
    expect(side.lifecycle.inFlight).toBe(1);
    controller.abort();
    await pending;
    if (!signal!.aborted) await once(signal!, 'abort');
    expect(signal!.aborted).toBe(true);
    expect(side.lifecycle.inFlight).toBe(0);
  });

  it('a step inserted by the user that throws: the request is answered 500, reported, and nothing stays in flight', async () => {
    const mesh = meshWith();
    const { inboundLayer } = await import('proxyless');
    const side = inbound(mesh, { stack: (s) => s.insertBefore('deadline', inboundLayer('broken', () => () => { throw new Error('broken step'); })) });
    const errors: string[] = [];
    side.on('error', (e) => errors.push(e.message));
    const base = await serve(side, (_req, res) => res.end('never'));
    const r = await request(`${base}/`);
    expect([r.statusCode, await r.body.text()]).toEqual([500, 'internal error\n']);
    expect(errors).toEqual(['broken step']);
    expect(side.lifecycle.inFlight).toBe(0);
    expect(side.roles).toEqual(['health', 'drain', 'telemetry', 'identity', 'authorization', 'broken', 'deadline', 'rate-limit', 'load-shedding', 'context']);
  });
});
