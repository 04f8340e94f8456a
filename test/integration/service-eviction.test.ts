import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import {
  createMesh,
  InvalidOptionError,
  staticEndpoints,
  type DiscoveryListener,
  type DiscoverySource,
  type ServiceQuery,
  type ServicesEvictedInfo,
} from 'proxyless';
import { startBackend, type Backend } from '../helpers/backends.js';

/**
 * The service table's bound (`maxServices`): least recently used idle services are
 * evicted, whatever their source; a service with a request in flight (on an endpoint,
 * or waiting for discovery) is never evicted under it.
 */
describe('maxServices: evicting idle services', () => {
  let fast: Backend;
  let held: Backend;
  const release: Array<() => void> = [];
  beforeAll(async () => {
    fast = await startBackend({ id: 'fast' });
    // Answers only when the test says so: a request that stays in flight.
    held = await startBackend({ id: 'held', handle: (_req, res) => release.push(() => res.end('held')) });
  });
  afterAll(async () => {
    await fast.close();
    await held.close();
  });

  it('is validated', () => {
    expect(() => createMesh({ maxServices: 0 })).toThrow(InvalidOptionError);
    expect(() => createMesh({ maxServices: 1.5 })).toThrow(/maxServices: 1\.5 \(expected: a whole number of services\)/);
  });

  it('evicts the least recently used idle services first, closing their pools; a later request builds one again', async () => {
    // Connections open on the backend: each service has its own pool, so its own connection.
    let open = 0;
    const server = createServer((_req, res) => res.end('fast'));
    server.on('connection', (socket) => {
      open++;
      socket.on('close', () => open--);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const hosts = ['a', 'b', 'c', 'd', 'e'];
    const registry = staticEndpoints(Object.fromEntries(hosts.map((h) => [h, [address]])));
    const mesh = createMesh({ discovery: [registry], maxServices: 3 });
    const evicted: ServicesEvictedInfo[] = [];
    mesh.on('servicesEvicted', (info) => evicted.push(info));
    const get = async (host: string) => (await request(`http://${host}/`, { dispatcher: mesh.dispatcher })).body.text();
    for (const host of ['a', 'b', 'c']) expect(await get(host)).toBe('fast');
    expect(await get('a')).toBe('fast'); // a is now the most recently used
    expect(open).toBe(3);
    expect(await get('d')).toBe('fast'); // the table is full: b (least recent) goes, down to 90 % of 3 = 2
    expect(evicted).toEqual([{ services: ['http://b.default.svc.cluster.local:80/'], remaining: 2, maxServices: 3 }]);
    const names = () => mesh.services().map((s) => s.name.split('.')[0]).sort();
    expect(names()).toEqual(['a', 'c', 'd']);
    await expect.poll(() => open).toBe(3); // b's pool closed its connection, d opened one
    expect(await get('b')).toBe('fast'); // built again; c is the least recent now
    expect(evicted.at(-1)!.services).toEqual(['http://c.default.svc.cluster.local:80/']);
    expect(names()).toEqual(['a', 'b', 'd']);
    expect(mesh.serviceStats()).toEqual({ services: 3, maxServices: 3, busy: 0, evicted: 2 });
    await mesh.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('an evicted service whose circuit is open comes back open (its breaker state is kept)', async () => {
    const registry = staticEndpoints({ api: ['127.0.0.1:1'], other: [fast.address] });
    const mesh = createMesh({
      discovery: [registry],
      maxServices: 1,
      config: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'api', annotations: { 'proxyless.dev/circuit-breaker': JSON.stringify({ volumeThreshold: 1, resetTimeout: '30s' }) } },
          spec: { host: 'api' },
        },
      ],
    });
    for (let i = 0; i < 3; i++) await request('http://api/', { dispatcher: mesh.dispatcher }).catch(() => undefined);
    expect(mesh.circuitBreakers()['api.default.svc.cluster.local:80']).toMatchObject({ state: 'open' });
    expect(await (await request('http://other/', { dispatcher: mesh.dispatcher })).body.text()).toBe('fast');
    expect(mesh.serviceStats().evicted).toBe(1);
    expect(mesh.circuitBreakers()).toEqual({});
    // The service is healthy now, but its circuit stays open until resetTimeout: no request reaches it.
    registry.set('api', [fast.address]);
    const before = fast.requests;
    await expect(request('http://api/', { dispatcher: mesh.dispatcher })).rejects.toMatchObject({ code: 'PROXYLESS_ERR_CIRCUIT_OPEN' });
    expect(fast.requests).toBe(before);
    await mesh.close();
  });

  it('never evicts a service with a request in flight, on an endpoint or waiting for discovery', async () => {
    const fqdn = (h: string) => `${h}.default.svc.cluster.local`;
    const registry = staticEndpoints({ slow: [held.address], x1: [fast.address], x2: [fast.address], x3: [fast.address] });
    // A second source that has not answered for "later" yet: its request waits for discovery.
    const watchers = new Map<string, DiscoveryListener>();
    const pending: DiscoverySource = Object.assign(new EventEmitter(), {
      name: 'pending',
      watch: (q: ServiceQuery, listener: DiscoveryListener) => {
        if (q.fqdn === fqdn('later')) watchers.set(q.fqdn, listener);
        else listener({ type: 'missing' });
        return { close: () => void watchers.delete(q.fqdn) };
      },
      ready: () => Promise.resolve(),
      state: () => ({ name: 'pending', ready: true, lastRefresh: undefined, lastError: undefined, services: 0, endpoints: 0 }),
      close: () => Promise.resolve(),
    });
    const mesh = createMesh({ discovery: [registry, pending], maxServices: 1 });
    const slow = request('http://slow/', { dispatcher: mesh.dispatcher });
    await expect.poll(() => release.length).toBe(1);
    const later = request('http://later/', { dispatcher: mesh.dispatcher });
    await expect.poll(() => watchers.has(fqdn('later'))).toBe(true);
    for (const host of ['x1', 'x2', 'x3']) {
      expect(await (await request(`http://${host}/`, { dispatcher: mesh.dispatcher })).body.text()).toBe('fast');
    }
    // Both busy services are still there (the table is over its bound by them), and so are their watches.
    expect(mesh.serviceStats()).toMatchObject({ busy: 2, maxServices: 1 });
    expect(mesh.services().map((s) => [s.name, s.inFlight])).toEqual(expect.arrayContaining([[fqdn('slow'), 1], [fqdn('later'), 1]]));
    expect(watchers.has(fqdn('later'))).toBe(true);
    watchers.get(fqdn('later'))!({ type: 'reset', endpoints: [{ address: '127.0.0.1', port: fast.port, weight: 1, labels: {} }] });
    expect(await (await later).body.text()).toBe('fast');
    release.shift()!();
    expect(await (await slow).body.text()).toBe('held');
    expect(mesh.serviceStats().busy).toBe(0);
    await mesh.close();
  });
});
