// Connection settings: pass-through hosts are bounded by endpointPool.connections like
// mesh endpoints, and a reload of a DestinationRule's connection settings applies to the
// pools made after it.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

/**
 * A backend that holds every request until `release()`, recording the most requests it
 * held at once (one per connection: HTTP/1.1 without pipelining).
 */
async function holdingBackend(id: string): Promise<Backend & { most: () => number; held: () => number; release: () => void }> {
  const held: Array<() => void> = [];
  let most = 0;
  const backend = await startBackend({
    id,
    handle: (_req, res) => {
      held.push(() => res.end(id));
      most = Math.max(most, held.length);
    },
  });
  servers.push(backend);
  return Object.assign(backend, {
    most: () => most,
    held: () => held.length,
    release: () => held.splice(0).forEach((answer) => answer()),
  });
}

async function until(condition: () => boolean): Promise<void> {
  // Bounded: each round waits for the event loop to handle what arrived meanwhile.
  for (let round = 0; round < 2000 && !condition(); round++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
}

describe('connection settings', () => {
  it('pass-through hosts get endpointPool.connections per origin, like mesh endpoints', async () => {
    const outside = await holdingBackend('outside');
    const m = createMesh({ discovery: [staticEndpoints({})], endpointPool: { connections: 2 } });
    meshes.push(m);
    // 127.0.0.1 is known to no source: ALLOW_ANY passes it through.
    const calls = Array.from({ length: 6 }, () => request(`http://${outside.address}/`, { dispatcher: m.dispatcher }).then((r) => r.body.text()));
    await until(() => outside.held() >= 2);
    // Release in waves: every request is served, two at a time.
    while ((await Promise.race([Promise.all(calls).then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))])) === false) outside.release();
    expect(await Promise.all(calls)).toEqual(new Array(6).fill('outside'));
    expect(outside.most()).toBe(2);
  });

  it('a reload of connectionPool.tcp.maxConnections applies to endpoints that get a pool after it', async () => {
    const first = await holdingBackend('first');
    const second = await holdingBackend('second');
    const registry = staticEndpoints({ api: [first.address] });
    const rule = (connectionPool?: object) => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'api' },
      spec: { host: 'api', trafficPolicy: connectionPool ? { connectionPool } : {} },
    });
    const m = createMesh({ discovery: [registry], config: [rule()] });
    meshes.push(m);
    const warm = request('http://api/', { dispatcher: m.dispatcher }).then((r) => r.body.text());
    await until(() => first.held() === 1);
    first.release();
    expect(await warm).toBe('first');

    m.applyConfig([rule({ tcp: { maxConnections: 1 } })]);
    registry.set('api', [second.address]); // a new endpoint: its pool is made after the reload
    const calls = Array.from({ length: 3 }, () => request('http://api/', { dispatcher: m.dispatcher }).then((r) => r.body.text()));
    await until(() => second.held() >= 1);
    while ((await Promise.race([Promise.all(calls).then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))])) === false) second.release();
    expect(await Promise.all(calls)).toEqual(['second', 'second', 'second']);
    expect(second.most()).toBe(1);
  });
});
