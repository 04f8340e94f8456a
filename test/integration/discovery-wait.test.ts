import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, DiscoveryTimeoutError, NoEndpointsError, staticEndpoints } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';
import { ManualSource } from '../helpers/manual-source.js';

const FQDN = 'reviews.default.svc.cluster.local';

describe('waiting for discovery', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await startBackend({ id: 'r1' });
  });
  afterAll(() => closeAll([backend]));

  it('a request to a known service with no endpoints yet waits and goes out when one arrives', async () => {
    const source = staticEndpoints({ reviews: [] });
    const mesh = createMesh({ discovery: [source], discoveryTimeout: 10_000 });
    const pending = request('http://reviews/', { dispatcher: mesh.dispatcher });
    // Routing is synchronous: the request is already waiting for an endpoint.
    expect(mesh.dispatcher.inFlight).toBe(1);
    expect(mesh.services()).toMatchObject([{ name: 'reviews.default.svc.cluster.local', status: 'known', endpoints: [] }]);
    source.set('reviews', [backend.address]);
    expect(await (await pending).body.text()).toBe('r1');
    await mesh.close();
  });

  it('fails after discoveryTimeout with an error naming the service and the sources asked', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [] })], discoveryTimeout: 100 });
    const error = await request('http://reviews/', { dispatcher: mesh.dispatcher }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoEndpointsError);
    expect((error as NoEndpointsError).code).toBe('PROXYLESS_ERR_NO_ENDPOINTS');
    expect((error as Error).message).toMatch(/service "reviews" has no available endpoint after waiting \d+ ms \(sources asked: ServiceEntry, static\)/);
    await mesh.close();
  });

  it('waits for a source that has not answered yet, then routes by its answer', async () => {
    const slow = new ManualSource('slow-registry');
    const mesh = createMesh({ discovery: [slow], discoveryTimeout: 10_000, outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    const pending = request('http://reviews/', { dispatcher: mesh.dispatcher });
    // Routing is synchronous: the service is watched and the request waits for its answer.
    expect(mesh.dispatcher.inFlight).toBe(1);
    expect([...slow.watches.keys()]).toEqual([FQDN]);
    expect(mesh.services()).toMatchObject([{ name: FQDN, status: 'pending' }]);
    slow.send(FQDN, { type: 'reset', endpoints: [{ address: '127.0.0.1', port: backend.port, weight: 1, labels: {} }] });
    expect(await (await pending).body.text()).toBe('r1');
    await mesh.close();
  });

  it('a source that never answers gives a discovery timeout naming it', async () => {
    const silent = new ManualSource('silent-registry');
    const mesh = createMesh({ discovery: [staticEndpoints({}), silent], discoveryTimeout: 100 });
    const error = await request('http://reviews/', { dispatcher: mesh.dispatcher }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscoveryTimeoutError);
    expect((error as Error).message).toContain('still waiting on: silent-registry');
    await mesh.close();
  });

  it('the first source that knows a service wins; a later source fills in when the first forgets it', async () => {
    const other = await startBackend({ id: 'other' });
    const first = staticEndpoints({ reviews: [backend.address] });
    const second = staticEndpoints({ reviews: [other.address] });
    const mesh = createMesh({ discovery: [first, second] });
    const get = async (): Promise<string> => (await request('http://reviews/', { dispatcher: mesh.dispatcher })).body.text();
    expect(await get()).toBe('r1');
    first.delete('reviews');
    expect(await get()).toBe('other');
    await mesh.close();
    await other.close();
  });

  it('a service that appears later in a source stops being passed through', async () => {
    const source = staticEndpoints({});
    const mesh = createMesh({ discovery: [source] });
    // Unknown: ALLOW_ANY passes "localhost:<port>" straight to the backend.
    const direct = await request(`http://localhost:${backend.port}/echo`, { dispatcher: mesh.dispatcher });
    expect(((await direct.body.json()) as { id: string }).id).toBe('r1');
    const other = await startBackend({ id: 'registered' });
    source.set('localhost', [other.address]);
    const routed = await request(`http://localhost:${backend.port}/`, { dispatcher: mesh.dispatcher });
    expect(await routed.body.text()).toBe('registered');
    await mesh.close();
    await other.close();
  });
});

describe('several discovery sources', () => {
  it("discoveryStrategy 'merge' takes the union of every source that knows the service", async () => {
    const [a, b] = await Promise.all([startBackend({ id: 'from-first' }), startBackend({ id: 'from-second' })]);
    const config = [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'r' }, spec: { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } }];
    const first = staticEndpoints({ reviews: [a.address] });
    const second = staticEndpoints({ reviews: [b.address, a.address] });
    const merged = createMesh({ discovery: [first, second], discoveryStrategy: 'merge', config });
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(await (await request('http://reviews/', { dispatcher: merged.dispatcher })).body.text());
    expect(seen).toEqual(new Set(['from-first', 'from-second']));
    expect(merged.services()[0]!.endpoints).toHaveLength(2);
    await merged.close();
    const firstOnly = createMesh({ discovery: [staticEndpoints({ reviews: [a.address] }), staticEndpoints({ reviews: [b.address] })], config });
    for (let i = 0; i < 4; i++) expect(await (await request('http://reviews/', { dispatcher: firstOnly.dispatcher })).body.text()).toBe('from-first');
    await firstOnly.close();
    await Promise.all([a.close(), b.close()]);
  });

  it('mesh.sources() shows each source: name, ready, last refresh, last error, counts', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: ['127.0.0.1:1', '127.0.0.1:2'], ratings: ['127.0.0.1:3'] })] });
    const [serviceEntries, statics] = mesh.sources();
    expect(serviceEntries).toMatchObject({ name: 'ServiceEntry', ready: true, services: 0 });
    expect(statics).toMatchObject({ name: 'static', ready: true, services: 2, endpoints: 3, lastError: undefined });
    expect(statics!.lastRefresh).toBeInstanceOf(Date);
    await mesh.close();
  });
});
