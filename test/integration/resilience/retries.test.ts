// Retries, timeouts and deadlines against real servers that fail in the ways real ones do.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, withDeadline, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';
import { Progress } from '../../helpers/wait.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

/** A server whose nth request (1-based) is answered by `plan(n, req, res)`. */
async function server(id: string, plan: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<Backend> {
  const b = await startBackend({ id, handle: (req, res, backend) => plan(backend.requests, req, res) });
  servers.push(b);
  return b;
}

function vs(http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api]
  http:
${http}`;
}

function mesh(endpoints: Backend[], config: string[] = [], extra: Parameters<typeof createMesh>[0] = {}): Mesh {
  const rr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec: { host: api, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }`;
  const m = createMesh({ discovery: [staticEndpoints({ api: endpoints.map((e) => e.address) })], config: [rr, ...config], ...extra });
  meshes.push(m);
  return m;
}

const get = async (m: Mesh, init: Parameters<typeof request>[1] = {}) => {
  const res = await request('http://api/', { ...init, dispatcher: m.dispatcher });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
};

describe('retries', () => {
  it('retryOn 5xx: two 503s then a 200 is a 200, the retries on the same endpoint when it is the only one', async () => {
    const flaky = await server('flaky', (n, _req, res) => {
      res.statusCode = n <= 2 ? 503 : 200;
      res.end(n <= 2 ? 'busy' : 'ok');
    });
    const m = mesh([flaky], [vs('  - retries: { attempts: 3, retryOn: 5xx }\n    route: [{ destination: { host: api } }]\n')]);
    expect(await get(m)).toMatchObject({ status: 200, body: 'ok' });
    expect(flaky.requests).toBe(3);
  });

  it('without a VirtualService: the default never retries a 503', async () => {
    const busy = await server('busy', (_n, _req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const m = mesh([busy]);
    expect((await get(m)).status).toBe(503);
    expect(busy.requests).toBe(1);
  });

  it('a retry goes to another endpoint when one exists', async () => {
    const bad = await server('bad', (_n, _req, res) => {
      res.statusCode = 502;
      res.end();
    });
    const good = await server('good', (_n, _req, res) => res.end('good'));
    const m = mesh([bad, good], [vs('  - retries: { attempts: 1, retryOn: gateway-error }\n    route: [{ destination: { host: api } }]\n')]);
    for (let i = 0; i < 10; i++) expect(await get(m)).toMatchObject({ status: 200, body: 'good' });
    expect(bad.requests).toBeLessThanOrEqual(10);
    expect(good.requests).toBe(10);
  });

  it("the default does not retry a reset after the request was sent (Istio's default has no reset); retryOn reset does, for a GET", async () => {
    const resetting = await server('resetting', (n, req, res) => {
      if (n === 1 || n === 2) req.socket.destroy();
      else res.end('after reset');
    });
    const byDefault = mesh([resetting]);
    await expect(get(byDefault)).rejects.toThrow();
    expect(resetting.requests).toBe(1);
    const onReset = mesh([resetting], [vs('  - retries: { attempts: 2, retryOn: reset }\n    route: [{ destination: { host: api } }]\n')]);
    expect(await get(onReset)).toMatchObject({ status: 200, body: 'after reset' });
    expect(resetting.requests).toBe(3);
  });

  it('a crash after the response started is not retried: the caller gets the error', async () => {
    const crashing = await server('crashing', (_n, req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      // The status line and part of the body are on the wire before the connection dies.
      res.write('partial', () => req.socket.destroy());
    });
    const m = mesh([crashing], [vs('  - retries: { attempts: 3, retryOn: "5xx,reset" }\n    route: [{ destination: { host: api } }]\n')]);
    await expect(get(m)).rejects.toThrow();
    expect(crashing.requests).toBe(1);
  });

  it('POST is not retried on 503 or reset; a streamed body is sent again only when it fit in requestBufferLimit', async () => {
    const bodies: string[] = [];
    const busy = await server('busy-post', (_n, req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        res.statusCode = 503;
        res.end();
      });
    });
    const retries = [vs('  - retries: { attempts: 3, retryOn: "5xx,reset" }\n    route: [{ destination: { host: api } }]\n')];
    const m = mesh([busy], retries);
    expect((await get(m, { method: 'POST', body: 'x' })).status).toBe(503);
    expect(busy.requests).toBe(1);
    // A small stream is kept as it is sent, and sent again whole.
    expect((await get(m, { method: 'PUT', body: Readable.from(['str', 'eam']) })).status).toBe(503);
    expect(busy.requests).toBe(1 + 4);
    expect(bodies.slice(1)).toEqual(['stream', 'stream', 'stream', 'stream']);
    expect((await get(m, { method: 'PUT', body: 'replayable' })).status).toBe(503);
    expect(busy.requests).toBe(5 + 4);
    // Over the limit, what was sent is gone: it is never sent twice.
    const small = mesh([busy], retries, { requestBufferLimit: 4 });
    const refused = await request('http://api/', { dispatcher: small.dispatcher, method: 'PUT', body: Readable.from(['str', 'eam']) });
    expect(refused.statusCode).toBe(503);
    await refused.body.text();
    expect(busy.requests).toBe(9 + 1);
    expect(bodies.at(-1)).toBe('stream');
  });

  it('honours Retry-After on 429 (up to 10 s); a longer one goes to the caller', async () => {
    const limited = await server('limited', (n, _req, res) => {
      if (n === 1) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end();
      } else if (n === 3) {
        res.writeHead(429, { 'retry-after': '3600' });
        res.end();
      } else res.end('ok');
    });
    const m = mesh([limited], [vs('  - retries: { attempts: 2, retryOn: "retriable-status-codes,429" }\n    route: [{ destination: { host: api } }]\n')]);
    const started = performance.now();
    expect(await get(m)).toMatchObject({ status: 200 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect((await get(m)).status).toBe(429);
    expect(limited.requests).toBe(3);
  });
});

describe('timeouts and deadlines', () => {
  it('the route timeout covers every try, gives a 504-style error, and is not retried', async () => {
    const hanging = await server('hanging', () => {});
    const m = mesh([hanging], [vs('  - timeout: 200ms\n    retries: { attempts: 5, retryOn: "5xx,reset" }\n    route: [{ destination: { host: api } }]\n')]);
    const started = performance.now();
    const error = await get(m).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PROXYLESS_ERR_TIMEOUT', statusCode: 504 });
    expect((error as Error).message).toContain('route timeout of 200 ms (VirtualService/api');
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(hanging.requests).toBe(1);
  });

  it('perTryTimeout retries a hanging try on another endpoint, within the route timeout', async () => {
    const hanging = await server('hang', () => {});
    const quick = await server('quick', (_n, _req, res) => res.end('quick'));
    const m = mesh([hanging, quick], [vs('  - timeout: 3s\n    retries: { attempts: 2, perTryTimeout: 150ms, retryOn: "5xx,reset" }\n    route: [{ destination: { host: api } }]\n')]);
    for (let i = 0; i < 4; i++) expect(await get(m)).toMatchObject({ status: 200, body: 'quick' });
  });

  it('the remaining time travels to the callee in x-envoy-expected-rq-timeout-ms', async () => {
    const echo = await startBackend({ id: 'echo' });
    servers.push(echo);
    const m = mesh([echo], [vs('  - timeout: 2s\n    route: [{ destination: { host: api } }]\n')]);
    const res = await request('http://api/echo', { dispatcher: m.dispatcher });
    const body = (await res.body.json()) as { headers: Record<string, string> };
    const sent = Number(body.headers['x-envoy-expected-rq-timeout-ms']);
    expect(sent).toBeGreaterThan(1000);
    expect(sent).toBeLessThanOrEqual(2000);
  });

  it('withDeadline caps nested calls; a call after the deadline fails at once without being sent', async () => {
    const slow = await server('slow', () => {}); // never answers: only the deadline ends the call
    const m = mesh([slow]);
    const error = await withDeadline(150, () => get(m)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PROXYLESS_ERR_DEADLINE_EXCEEDED' });
    const before = slow.requests;
    const expired = await withDeadline(new Date(Date.now() - 5), () => get(m)).catch((e: unknown) => e);
    expect(expired).toMatchObject({ code: 'PROXYLESS_ERR_DEADLINE_EXCEEDED' });
    expect((expired as Error).message).toContain('was not made');
    expect(slow.requests).toBe(before);
  });

  it("the caller's AbortSignal cancels the whole call at once, retries included", async () => {
    // Call A is aborted while it waits 2 s (Retry-After) to retry. A second call W, sent
    // meanwhile on the same route, is the clock: it is told to wait 1 s, then 2 s. A must
    // fail before W's second try (so it did not wait out its 2 s), and by W's third try,
    // past the moment A's retry was due, A's retry must never have reached the server.
    const controller = new AbortController();
    const order: string[] = [];
    let wDone!: Promise<unknown>;
    let aTries = 0;
    let wTries = 0;
    const busy = await server('busy-abort', (_n, req, res) => {
      if (req.headers['x-call'] === 'a') {
        aTries++;
        res.writeHead(503, { 'retry-after': '2' });
        // A's answer is out: start W, whose first try arrives once A is waiting to retry.
        return res.end(() => (wDone = get(m, { headers: { 'x-call': 'w' } })));
      }
      wTries++;
      if (wTries === 1) controller.abort(new Error('caller gave up'));
      else order.push(`W try ${wTries}`);
      if (wTries === 3) return res.end('w done');
      res.writeHead(503, { 'retry-after': String(wTries) });
      res.end();
    });
    const m = mesh([busy], [vs('  - retries: { attempts: 5, retryOn: 5xx }\n    route: [{ destination: { host: api } }]\n')]);
    const a = get(m, { signal: controller.signal, headers: { 'x-call': 'a' } }).then(
      () => order.push('A answered'),
      (error: unknown) => order.push(`A failed: ${(error as Error).message}`),
    );
    await a;
    await busy.whenRequests(4); // A's try and W's three
    expect(await wDone).toMatchObject({ status: 200, body: 'w done' });
    expect(order).toEqual(['A failed: caller gave up', 'W try 2', 'W try 3']);
    expect(aTries).toBe(1);
  });
});

describe('connectionPool.http.maxRetries', () => {
  it('caps retries in flight across the service: beyond it, calls are not retried', async () => {
    // The server holds the 6 first tries until all have arrived, then answers all 503: one
    // call takes the only retry slot, and its retry is held until the other 5 calls have
    // their 503 (not retried: the slot is taken).
    const calls = 6;
    let answered = 0;
    const progress = new Progress();
    const held: ServerResponse[] = [];
    const busy = await server('busy-max', (n, _req, res) => {
      const fail = (): void => {
        res.statusCode = 503;
        res.end();
      };
      if (n < calls) return void held.push(res);
      if (n === calls) {
        for (const r of held.splice(0)) {
          r.statusCode = 503;
          r.end();
        }
        return fail();
      }
      // A retry is answered once every call without one has ended (with a broken cap, more
      // calls retry and fewer need to end: the test then fails on the count, not a hang).
      const retried = (): number => busy.requests - calls;
      void progress.until('the calls without a retry slot to end', () => answered >= calls - retried()).then(fail, fail);
    });
    const limit = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec: { host: api, trafficPolicy: { connectionPool: { http: { maxRetries: 1 } } } }`;
    const m = createMesh({
      discovery: [staticEndpoints({ api: [busy.address] })],
      config: [limit, vs('  - retries: { attempts: 1, retryOn: 5xx }\n    route: [{ destination: { host: api } }]\n')],
    });
    meshes.push(m);
    const results = await Promise.all(
      Array.from({ length: calls }, () =>
        get(m).then((r) => {
          answered++;
          progress.notify();
          return r;
        }),
      ),
    );
    expect(results.every((r) => r.status === 503)).toBe(true);
    // 6 first tries and exactly one retry: one in flight at a time across the service.
    expect(busy.requests).toBe(calls + 1);
  });
});
