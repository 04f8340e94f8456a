// Reloads apply breaker and health-check annotation changes to services already in use,
// each policy is remade only when its own settings change, and a closed mesh leaves no
// breaker or health-check timer running.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';
import { MESH_TIMERS, trackTimers, type TimerTracker } from '../../helpers/timer-leaks.js';
import { statusOf } from '../../helpers/status-of.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
let tracker: TimerTracker | undefined;
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
  tracker?.restore();
  tracker = undefined;
});

const BREAKER = 'proxyless.dev/circuit-breaker';
const HEALTH = 'proxyless.dev/health-check';

function rule(annotations: Record<string, object>) {
  const encoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) encoded[key] = JSON.stringify(value);
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api', annotations: encoded }, spec: { host: 'api' } };
}

/** A backend answering 500 to everything but `/healthz`, which answers `health.status`. */
async function failingBackend(health: { status: number }): Promise<Backend> {
  const backend = await startBackend({
    id: 'api',
    handle: (req, res) => {
      res.statusCode = req.url === '/healthz' ? health.status : 500;
      res.end();
    },
  });
  servers.push(backend);
  return backend;
}

const breakerSettings = { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeout: '30s' };

describe('policy reloads on a service in use', () => {
  it('a reload that adds a circuit breaker applies to a service that already had traffic', async () => {
    const api = await failingBackend({ status: 200 });
    const m = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], config: [rule({})] });
    meshes.push(m);
    expect(await statusOf(m)).toBe(500); // the service exists now, with no breaker
    m.applyConfig([rule({ [BREAKER]: breakerSettings })]);
    const results: Array<number | string> = [];
    for (let i = 0; i < 6; i++) results.push(await statusOf(m));
    expect(results).toContain('PROXYLESS_ERR_CIRCUIT_OPEN');
    expect(m.circuitBreakers()['api.default.svc.cluster.local:80']).toMatchObject({ state: 'open' });
  });

  it('a reload that removes the circuit breaker lets requests through again', async () => {
    const api = await failingBackend({ status: 200 });
    const m = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], config: [rule({ [BREAKER]: breakerSettings })] });
    meshes.push(m);
    for (let i = 0; i < 4; i++) await statusOf(m);
    expect(await statusOf(m)).toBe('PROXYLESS_ERR_CIRCUIT_OPEN');
    m.applyConfig([rule({})]);
    expect(await statusOf(m)).toBe(500);
    expect(m.circuitBreakers()).toEqual({});
  });

  it('a reload that adds health checks applies to a service that already had traffic', async () => {
    const health = { status: 503 };
    const api = await failingBackend(health);
    const m = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], config: [rule({})] });
    meshes.push(m);
    await statusOf(m);
    m.applyConfig([rule({ [HEALTH]: { interval: '20ms', jitter: 0, timeout: '1s' } })]);
    // The first failed check marks the endpoint unhealthy (nothing else would).
    await vi.waitFor(() => expect(m.services()[0]!.endpoints[0]!.available).toBe(false), { timeout: 5_000, interval: 10 });
  });

  it('a reload that changes only the health check keeps the breaker counting', async () => {
    const api = await failingBackend({ status: 200 });
    const m = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [rule({ [BREAKER]: breakerSettings, [HEALTH]: { interval: '10s' } })],
    });
    meshes.push(m);
    expect(await statusOf(m)).toBe(500);
    m.applyConfig([rule({ [BREAKER]: breakerSettings, [HEALTH]: { interval: '20s' } })]);
    const results: Array<number | string> = [];
    for (let i = 0; i < 6; i++) results.push(await statusOf(m));
    // A breaker closed behind the service's back would let every request through uncounted.
    expect(results).toContain('PROXYLESS_ERR_CIRCUIT_OPEN');
  });

  it('closing the mesh stops the breaker and health-check timers of its services', async () => {
    tracker = trackTimers();
    const api = await failingBackend({ status: 200 });
    const m = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [rule({ [BREAKER]: breakerSettings, [HEALTH]: { interval: '10s' } })],
    });
    expect(await statusOf(m)).toBe(500);
    expect(tracker.live(MESH_TIMERS).length).toBeGreaterThan(0); // the breaker's window, the first check
    await m.close();
    expect(tracker.live(MESH_TIMERS)).toEqual([]);
  });
});
