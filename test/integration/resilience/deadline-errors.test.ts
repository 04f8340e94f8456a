// DeadlineExceededError says where the call was when the deadline of the request being
// handled ran out, in each case against a real server: not made at all, a try waiting
// for a connection (never sent), waiting to retry, a try in flight (first, then a retry).
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, DeadlineExceededError, staticEndpoints, withDeadline, type Mesh } from 'proxyless';
import { startHeldServer, type Arrival, type HeldServer } from '../../helpers/held-server.js';

const servers: HeldServer[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/**
 * A mesh over one held server for service `api`, round robin, with `retries` on its one
 * route and `pool` as its DestinationRule's connectionPool. The deadlines of the calls in
 * flight are long enough (1.5 s) for a request to reach a local server under any load.
 */
async function setUp(options: { hold?: (a: Arrival) => boolean; answer?: (a: Arrival) => void; retries?: string; pool?: string }): Promise<{ server: HeldServer; mesh: Mesh }> {
  const server = await startHeldServer({ hold: options.hold, answer: options.answer });
  servers.push(server);
  const config = [
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec: { host: api, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN }${options.pool ? `, connectionPool: ${options.pool}` : ''} } }`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api]
  http:
  - retries: ${options.retries ?? '{ attempts: 0 }'}
    route: [{ destination: { host: api } }]`,
  ];
  const mesh = createMesh({ discovery: [staticEndpoints({ api: [server.address] })], config });
  meshes.push(mesh);
  return { server, mesh };
}

async function failure(mesh: Mesh, deadline: number | Date): Promise<DeadlineExceededError> {
  const error = await withDeadline(deadline, () => request('http://api/', { dispatcher: mesh.dispatcher })).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeadlineExceededError);
  const e = error as DeadlineExceededError;
  // The budget is what was left when the call reached the timeout layer: at most the deadline.
  if (typeof deadline === 'number') {
    expect(e.budgetMs).toBeGreaterThan(0);
    expect(e.budgetMs).toBeLessThanOrEqual(deadline);
    expect(e.message).toContain(`the call to service "api" had ${e.budgetMs} ms left of the deadline of the request being handled, and they ran out while`);
  }
  return e;
}

const DEADLINE = 1500;

describe('DeadlineExceededError says where the call was', () => {
  it('the deadline had passed before the call: not made, nothing sent', async () => {
    const { server, mesh } = await setUp({});
    const error = await failure(mesh, new Date(Date.now() - 50));
    expect(error).toMatchObject({ code: 'PROXYLESS_ERR_DEADLINE_EXCEEDED', statusCode: 504, service: 'api', stage: 'before', budgetMs: 0 });
    expect(error.message).toMatch(/^the call to service "api" was not made: the deadline of the request being handled had passed \d+ ms before it/);
    expect(server.arrivals).toHaveLength(0);
  });

  it('ran out while the try waited for a connection (one connection, held by another call): that try was not sent', async () => {
    const { server, mesh } = await setUp({ hold: () => true, pool: '{ tcp: { maxConnections: 1 }, http: { maxRequestsPerConnection: 1 } }' });
    const first = request('http://api/first', { dispatcher: mesh.dispatcher }).catch((e: unknown) => e);
    await server.arrival(0);
    const error = await failure(mesh, 300);
    expect(error).toMatchObject({ service: 'api', stage: 'waiting' });
    expect(error.message).toContain('ran out while try 1 waited for an endpoint or a connection; that try was not sent');
    expect(server.arrivals.map((a) => a.url)).toEqual(['/first']);
    server.arrivals[0]!.res.end('done');
    await first;
  });

  it('ran out while the call waited to retry (a 503 asked for 5 s): no try was in flight', async () => {
    const { server, mesh } = await setUp({
      answer: (a) => {
        a.res.writeHead(503, { 'retry-after': '5' });
        a.res.end();
      },
      retries: '{ attempts: 2, retryOn: 5xx }',
    });
    const error = await failure(mesh, DEADLINE);
    expect(error).toMatchObject({ service: 'api', stage: 'backoff'});
    expect(error.message).toContain(`ran out while it waited to retry after try 1; no try was in flight`);
    expect(server.arrivals).toHaveLength(1);
  });

  it('ran out while the first try was in flight: the message says so, and that the service may have done the work', async () => {
    const { server, mesh } = await setUp({ hold: () => true });
    const error = await failure(mesh, DEADLINE);
    expect(error).toMatchObject({ service: 'api', stage: 'try'});
    expect(error.message).toContain(`and they ran out while try 1 was in flight to an endpoint; the try was cancelled, and the service may have done the work`);
    expect(error.message).not.toContain('not made');
    expect(server.arrivals).toHaveLength(1);
    await server.closed(0);
  });

  it('ran out while a retry was in flight: try 2', async () => {
    let arrivals = 0;
    const { server, mesh } = await setUp({
      hold: () => ++arrivals > 1, // the first try is answered 503, the retry held
      answer: (a) => {
        a.res.statusCode = 503;
        a.res.end();
      },
      retries: '{ attempts: 2, retryOn: 5xx }',
    });
    const error = await failure(mesh, DEADLINE);
    expect(error).toMatchObject({ service: 'api', stage: 'try'});
    expect(error.message).toContain('while try 2 was in flight to an endpoint');
    expect(server.arrivals).toHaveLength(2);
  });
});

describe('DeadlineExceededError when no try ever connected (connect failures retried)', () => {
  it('names the try in force and the stage of the retrying call, not "try 1 waited"', async () => {
    // A port nothing listens on: every try fails to connect, and is retried at once.
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as import('node:net').AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const config = [
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: api
  annotations:
    proxyless.dev/retry-budget: '{"disabled": true}'
spec: { host: api }`,
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api]
  http:
  - retries: { attempts: 1000, retryOn: connect-failure }
    route: [{ destination: { host: api } }]`,
    ];
    const mesh = createMesh({ discovery: [staticEndpoints({ api: [`127.0.0.1:${port}`] })], config });
    meshes.push(mesh);
    const retries: number[] = [];
    mesh.on('retry', (e) => void retries.push(e.attempt));
    const error = await failure(mesh, 300);
    // However loaded the machine, the message follows the retries seen (a retry event comes
    // as its backoff starts): after N of them the call waits to retry after try N, or
    // try N+1 waits for its connection.
    const n = retries.length;
    expect(['backoff', 'waiting']).toContain(error.stage);
    expect(error.message).toContain(error.stage === 'backoff' ? `waited to retry after try ${n};` : `while try ${n + 1} waited for an endpoint or a connection`);
  });
});
