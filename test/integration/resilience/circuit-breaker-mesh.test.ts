// The service-level circuit breaker in the mesh (annotation proxyless.dev/circuit-breaker).
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

const rule = (breaker: object) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'api', annotations: { 'proxyless.dev/circuit-breaker': JSON.stringify(breaker) } },
  spec: { host: 'api' },
});

describe('circuit breaker in the mesh', () => {
  it('opens on errors, refuses at once, probes after resetTimeout, closes on recovery; events and state export', async () => {
    let failing = true;
    const api = await startBackend({ id: 'api', handle: (_req, res) => { res.statusCode = failing ? 500 : 200; res.end(); } });
    servers.push(api);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [api.address] })],
      config: [rule({ volumeThreshold: 5, errorThresholdPercentage: 50, resetTimeout: '300ms', halfOpenSuccesses: 2 })],
    });
    meshes.push(m);
    const events: string[] = [];
    m.on('circuitOpen', () => events.push('open'));
    m.on('circuitHalfOpen', () => events.push('half-open'));
    m.on('circuitClose', () => events.push('close'));
    const call = async () => {
      try {
        const res = await request('http://api/', { dispatcher: m.dispatcher });
        await res.body.text();
        return res.statusCode;
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    const halfOpen = once(m, 'circuitHalfOpen'); // resetTimeout after it opens
    for (let i = 0; i < 6; i++) await call();
    expect(events).toEqual(['open']);
    const before = api.requests;
    expect(await call()).toBe('PROXYLESS_ERR_CIRCUIT_OPEN');
    expect(api.requests).toBe(before);
    expect(m.circuitBreakers()['api.default.svc.cluster.local:80']).toMatchObject({ state: 'open' });
    failing = false;
    await halfOpen;
    expect(await call()).toBe(200);
    expect(await call()).toBe(200);
    expect(events).toEqual(['open', 'half-open', 'close']);
  });

  it('a restarted mesh starts from an exported open state', async () => {
    const api = await startBackend({ id: 'api2' });
    servers.push(api);
    const settings = { volumeThreshold: 1, resetTimeout: '30s' };
    const first = createMesh({ discovery: [staticEndpoints({ api: ['127.0.0.1:1'] })], config: [rule(settings)] });
    meshes.push(first);
    for (let i = 0; i < 3; i++) await request('http://api/', { dispatcher: first.dispatcher }).catch(() => undefined);
    const saved = first.circuitBreakers();
    expect(saved['api.default.svc.cluster.local:80']).toMatchObject({ state: 'open' });
    const second = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], config: [rule(settings)] });
    meshes.push(second);
    second.restoreCircuitBreakers(JSON.parse(JSON.stringify(saved)) as Record<string, unknown>);
    await expect(request('http://api/', { dispatcher: second.dispatcher })).rejects.toMatchObject({ code: 'PROXYLESS_ERR_CIRCUIT_OPEN' });
    expect(api.requests).toBe(0);
  });
});
