// The mesh's policy events (mesh.on: retry, hedge, retryBudgetExhausted, endpointEjected,
// endpointRestored, healthChanged, and the circuit events), the budget channel
// proxyless:client:budget:exhausted, and `await using`. Real servers on 127.0.0.1; the
// tests wait for events, never for time.
import { once } from 'node:events';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CHANNEL_NAMES,
  createMesh,
  destinationRule,
  staticEndpoints,
  virtualService,
  type BudgetExhaustedEvent,
  type EndpointEvent,
  type HealthChangedEvent,
  type HedgeEvent,
  type Mesh,
  type RetryEvent,
} from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';
import { statusOf } from '../helpers/status-of.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

const SERVICE = 'api.default.svc.cluster.local:80';
const route = { route: [{ destination: { host: 'api' } }] };

describe('mesh events', () => {
  it('retry and retryBudgetExhausted: one event per retry scheduled, one per retry the budget refused, also on their channels', async () => {
    const api = await startBackend({ id: 'api', handle: (_req, res) => { res.statusCode = 503; res.end(); } });
    servers.push(api);
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [
        virtualService({ metadata: { name: 'api' }, spec: { hosts: ['api'], http: [{ ...route, retries: { attempts: 2, retryOn: '5xx' } }] } }),
        // A reserve of 2 retries (0.05/s over 40 s), no share of the traffic.
        destinationRule({ metadata: { name: 'api' }, spec: { host: 'api' }, retryBudget: { percent: 0, minRetriesPerSecond: 0.05, ttl: 40_000 } }),
      ],
    });
    meshes.push(mesh);
    const retries: RetryEvent[] = [];
    const refused: BudgetExhaustedEvent[] = [];
    const published: unknown[] = [];
    const onMessage = (message: unknown): void => void published.push(message);
    mesh.on('retry', (e) => retries.push(e));
    mesh.on('retryBudgetExhausted', (e) => refused.push(e));
    // The retry channel subscribed on its own (no call channel): it still hears each retry.
    const retryMessages: Array<{ attempt: number; reason: string }> = [];
    const onRetry = (message: unknown): void => void retryMessages.push(message as (typeof retryMessages)[number]);
    subscribe(CHANNEL_NAMES.budgetExhausted, onMessage);
    subscribe(CHANNEL_NAMES.retry, onRetry);
    try {
      // First call: 2 retries (the whole reserve); second call: its first retry is refused.
      expect(await statusOf(mesh)).toBe(503);
      expect(await statusOf(mesh)).toBe(503);
    } finally {
      unsubscribe(CHANNEL_NAMES.budgetExhausted, onMessage);
      unsubscribe(CHANNEL_NAMES.retry, onRetry);
    }
    expect(retryMessages.map((m) => [m.attempt, m.reason])).toEqual([
      [2, '503'],
      [3, '503'],
    ]);
    expect(api.requests).toBe(4);
    expect(retries).toEqual([
      { service: SERVICE, attempt: 2, reason: '503', backoffMs: expect.any(Number) },
      { service: SERVICE, attempt: 3, reason: '503', backoffMs: expect.any(Number) },
    ]);
    expect(refused).toEqual([{ service: SERVICE, kind: 'retry' }]);
    expect(published).toEqual([{ service: SERVICE, kind: 'retry' }]);
  });

  it('hedge: an event when the backup try is sent, and a message on proxyless:client:hedge', async () => {
    const silent = await startBackend({ id: 'silent', handle: () => {} });
    const fast = await startBackend({ id: 'fast' });
    servers.push(silent, fast);
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [silent.address, fast.address] })],
      config: [
        virtualService({ metadata: { name: 'api' }, spec: { hosts: ['api'], http: [route] }, hedging: { delay: 50, maxExtraPercent: 100 } }),
        destinationRule({ metadata: { name: 'api' }, spec: { host: 'api', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } }),
      ],
    });
    meshes.push(mesh);
    const hedges: HedgeEvent[] = [];
    const published: Array<{ call: { service?: string }; attempt: number; afterMs: number }> = [];
    const onMessage = (message: unknown): void => void published.push(message as (typeof published)[number]);
    mesh.on('hedge', (e) => hedges.push(e));
    subscribe(CHANNEL_NAMES.hedge, onMessage);
    try {
      // Round robin: of two calls, one starts on the endpoint that never answers.
      for (let i = 0; i < 2; i++) expect(await statusOf(mesh)).toBe(200);
    } finally {
      unsubscribe(CHANNEL_NAMES.hedge, onMessage);
    }
    expect(hedges.length).toBeGreaterThanOrEqual(1);
    for (const hedge of hedges) {
      expect(hedge.service).toBe(SERVICE);
      expect(hedge.afterMs).toBeGreaterThan(0);
    }
    // The channel carries the same hedges, each naming its call and the try it adds.
    expect(published).toHaveLength(hedges.length);
    for (const message of published) {
      expect(message.call.service).toBe('api.default.svc.cluster.local');
      expect(message.attempt).toBe(2);
      expect(message.afterMs).toBeGreaterThan(0);
    }
  });

  it('endpointEjected then endpointRestored, for the endpoint outlier detection took out', async () => {
    let failing = true;
    const api = await startBackend({ id: 'api', handle: (_req, res) => { res.statusCode = failing ? 503 : 200; res.end(); } });
    servers.push(api);
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [destinationRule({ metadata: { name: 'api' }, spec: { host: 'api', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 2, interval: '50ms', baseEjectionTime: '100ms', maxEjectionPercent: 100 } } } })],
    });
    meshes.push(mesh);
    const ejected = once(mesh, 'endpointEjected') as Promise<[EndpointEvent]>;
    const restored = once(mesh, 'endpointRestored') as Promise<[EndpointEvent]>;
    await statusOf(mesh);
    await statusOf(mesh);
    // 503 is a gateway error and a 5xx; only consecutive5xxErrors is set, so that count ejects it.
    expect((await ejected)[0]).toEqual({ service: SERVICE, endpoint: api.address, reason: 'CONSECUTIVE_5XX' });
    failing = false;
    expect((await restored)[0]).toEqual({ service: SERVICE, endpoint: api.address });
  });

  it('healthChanged: unhealthy when its checks fail, healthy again when they pass', async () => {
    let healthy = true;
    const api = await startBackend({ id: 'api', handle: (req, res) => { res.statusCode = req.url === '/healthz' && !healthy ? 503 : 200; res.end(); } });
    servers.push(api);
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [destinationRule({ metadata: { name: 'api' }, spec: { host: 'api' }, healthCheck: { path: '/healthz', interval: 20, jitter: 0, unhealthyThreshold: 1, healthyThreshold: 1 } })],
    });
    meshes.push(mesh);
    const changes: HealthChangedEvent[] = [];
    mesh.on('healthChanged', (e) => changes.push(e));
    healthy = false;
    expect(await statusOf(mesh)).toBe(200); // makes the service (and its health checks)
    const [down] = (await once(mesh, 'healthChanged')) as [HealthChangedEvent];
    expect(down).toEqual({ service: SERVICE, endpoint: api.address, healthy: false, detail: 'status 503 (expected 200-399)', failure: 'ACTIVE' });
    healthy = true;
    const [up] = (await once(mesh, 'healthChanged')) as [HealthChangedEvent];
    expect(up).toEqual({ service: SERVICE, endpoint: api.address, healthy: true, detail: 'status 200' });
    expect(changes.map((c) => c.healthy)).toEqual([false, true]);
  });

  it('await using: the mesh is closed when its block ends', async () => {
    const api = await startBackend({ id: 'api' });
    servers.push(api);
    let outside: Mesh;
    {
      await using mesh = createMesh({ discovery: [staticEndpoints({ api: [api.address] })] });
      outside = mesh;
      expect(await statusOf(mesh)).toBe(200);
    }
    expect(await statusOf(outside)).toBe('PROXYLESS_ERR_MESH_CLOSED');
  });
});
