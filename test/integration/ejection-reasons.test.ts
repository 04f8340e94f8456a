// Why an endpoint left the rotation, as the mesh's events and diagnostics channels say it,
// each provoked by a real backend on 127.0.0.1: outlier detection's three counts (Envoy's
// names CONSECUTIVE_5XX, CONSECUTIVE_GATEWAY_FAILURE, CONSECUTIVE_LOCAL_ORIGIN_FAILURE) on
// `endpointEjected` and `proxyless:endpoint:ejection`, and the active health check's
// failure kinds (Envoy's ACTIVE, NETWORK, NETWORK_TIMEOUT) with what the check saw on
// `healthChanged` and `proxyless:endpoint:health`. The tests wait for the events.
import { once } from 'node:events';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNEL_NAMES, createMesh, destinationRule, staticEndpoints, type EndpointEvent, type HealthChangedEvent, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';
import { statusOf } from '../helpers/status-of.js';

const SERVICE = 'api.default.svc.cluster.local:80';
const servers: Backend[] = [];
const meshes: Mesh[] = [];
const subscriptions: Array<() => void> = [];
afterEach(async () => {
  for (const off of subscriptions.splice(0)) off();
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

/** Every message published on `channel` from now on (unsubscribed after the test). */
function listen(channel: string): unknown[] {
  const messages: unknown[] = [];
  const onMessage = (message: unknown): void => void messages.push(message);
  subscribe(channel, onMessage);
  subscriptions.push(() => unsubscribe(channel, onMessage));
  return messages;
}

async function backend(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Backend> {
  const b = await startBackend({ id: 'api', handle });
  servers.push(b);
  return b;
}

describe('ejection reasons: endpointEjected and the ejection channel say which count ejected the endpoint', () => {
  /** Sends calls to a mesh with `outlierDetection` until `endpointEjected`; returns the event and the channel's message. */
  async function ejectedBy(handle: (req: IncomingMessage, res: ServerResponse) => void, outlierDetection: object): Promise<{ event: EndpointEvent; message: unknown; address: string }> {
    const api = await backend(handle);
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [destinationRule({ metadata: { name: 'api' }, spec: { host: 'api', trafficPolicy: { outlierDetection: { interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 100, ...outlierDetection } } } })],
    });
    meshes.push(mesh);
    const messages = listen(CHANNEL_NAMES.ejection);
    const ejected = once(mesh, 'endpointEjected') as Promise<[EndpointEvent]>;
    let done = false;
    void ejected.then(() => (done = true));
    // Each call's result is counted before it returns; the event comes with the threshold's call.
    while (!done) await statusOf(mesh);
    const [event] = await ejected;
    return { event, message: messages.find((m) => (m as { ejected: boolean }).ejected), address: api.address };
  }

  it('500s with consecutive5xxErrors: CONSECUTIVE_5XX', async () => {
    const { event, message, address } = await ejectedBy((_req, res) => { res.statusCode = 500; res.end(); }, { consecutive5xxErrors: 2, consecutiveGatewayErrors: 0 });
    expect(event).toEqual({ service: SERVICE, endpoint: address, reason: 'CONSECUTIVE_5XX' });
    expect(message).toMatchObject({ service: SERVICE, endpoint: address, ejected: true, reason: 'CONSECUTIVE_5XX', times: 1, durationMs: 30_000 });
  });

  it('502s with consecutiveGatewayErrors (the 5xx count off): CONSECUTIVE_GATEWAY_FAILURE', async () => {
    const { event, message } = await ejectedBy((_req, res) => { res.statusCode = 502; res.end(); }, { consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 });
    expect(event.reason).toBe('CONSECUTIVE_GATEWAY_FAILURE');
    expect(message).toMatchObject({ ejected: true, reason: 'CONSECUTIVE_GATEWAY_FAILURE' });
  });

  it('connections reset before any answer, local-origin errors split: CONSECUTIVE_LOCAL_ORIGIN_FAILURE', async () => {
    const { event, message } = await ejectedBy((req) => req.socket.destroy(), {
      consecutive5xxErrors: 0,
      consecutiveGatewayErrors: 0,
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailures: 2,
    });
    expect(event.reason).toBe('CONSECUTIVE_LOCAL_ORIGIN_FAILURE');
    expect(message).toMatchObject({ ejected: true, reason: 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE' });
  });

  it('the return carries no reason', async () => {
    let failing = true;
    const api = await backend((_req, res) => { res.statusCode = failing ? 500 : 200; res.end(); });
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [destinationRule({ metadata: { name: 'api' }, spec: { host: 'api', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1, interval: '50ms', baseEjectionTime: '100ms', maxEjectionPercent: 100 } } } })],
    });
    meshes.push(mesh);
    const messages = listen(CHANNEL_NAMES.ejection);
    const ejected = once(mesh, 'endpointEjected') as Promise<[EndpointEvent]>;
    const restored = once(mesh, 'endpointRestored') as Promise<[EndpointEvent]>;
    await statusOf(mesh);
    expect((await ejected)[0].reason).toBe('CONSECUTIVE_5XX');
    failing = false;
    expect((await restored)[0]).toEqual({ service: SERVICE, endpoint: api.address });
    expect(messages.map((m) => [(m as { ejected: boolean }).ejected, (m as { reason?: string }).reason])).toEqual([
      [true, 'CONSECUTIVE_5XX'],
      [false, undefined],
    ]);
  });
});

describe('health check failures: healthChanged and the health channel say what the check saw and why it failed', () => {
  /** A mesh checking `/healthz` of a backend whose /healthz is `health` (the rest answers 200); resolves with the first healthChanged and its channel message. */
  async function unhealthyBy(health: (req: IncomingMessage, res: ServerResponse) => void, timeout = 1000): Promise<{ event: HealthChangedEvent; message: unknown }> {
    const api = await backend((req, res) => (req.url === '/healthz' ? health(req, res) : res.end('ok')));
    const mesh = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [destinationRule({ metadata: { name: 'api' }, spec: { host: 'api' }, healthCheck: { path: '/healthz', interval: 20, timeout, jitter: 0, unhealthyThreshold: 1, healthyThreshold: 1 } })],
    });
    meshes.push(mesh);
    const messages = listen(CHANNEL_NAMES.health);
    const changed = once(mesh, 'healthChanged') as Promise<[HealthChangedEvent]>;
    expect(await statusOf(mesh)).toBe(200); // makes the service, and so its health checks
    const [event] = await changed;
    return { event, message: messages[0] };
  }

  it('a 503 from the health path: ACTIVE, with the status it got', async () => {
    const { event, message } = await unhealthyBy((_req, res) => { res.statusCode = 503; res.end(); });
    expect(event).toMatchObject({ service: SERVICE, healthy: false, failure: 'ACTIVE', detail: 'status 503 (expected 200-399)' });
    expect(message).toMatchObject({ healthy: false, failure: 'ACTIVE', detail: 'status 503 (expected 200-399)' });
  });

  it('the connection closed with no answer: NETWORK, with the error', async () => {
    const { event, message } = await unhealthyBy((req) => req.socket.destroy());
    expect(event).toMatchObject({ healthy: false, failure: 'NETWORK' });
    expect(event.detail).not.toMatch(/^status /);
    expect(message).toMatchObject({ healthy: false, failure: 'NETWORK', detail: event.detail });
  });

  it('no answer within the timeout: NETWORK_TIMEOUT', async () => {
    const { event, message } = await unhealthyBy(() => {}, 50); // never answers
    expect(event).toMatchObject({ healthy: false, failure: 'NETWORK_TIMEOUT', detail: 'timed out after 50 ms' });
    expect(message).toMatchObject({ healthy: false, failure: 'NETWORK_TIMEOUT' });
  });
});
