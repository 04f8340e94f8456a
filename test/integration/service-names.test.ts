import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

describe('service names', () => {
  let reviews: Backend;
  let ratings: Backend;
  let mesh: Mesh;

  beforeAll(async () => {
    reviews = await startBackend({ id: 'reviews' });
    ratings = await startBackend({ id: 'ratings' });
    mesh = createMesh({
      namespace: 'bookinfo',
      clusterDomain: 'cluster.example',
      discovery: [staticEndpoints({ reviews: [reviews.address], 'ratings.other': [ratings.address] })],
    });
  });
  afterAll(async () => {
    await mesh.close();
    await closeAll([reviews, ratings]);
  });

  const get = async (url: string): Promise<string> => (await request(url, { dispatcher: mesh.dispatcher })).body.text();

  it.each([
    'http://reviews/',
    'http://reviews:9080/',
    'http://reviews.bookinfo/',
    'http://reviews.bookinfo.svc/',
    'http://reviews.bookinfo.svc.cluster.example/',
    'http://REVIEWS.Bookinfo/',
  ])('%s reaches the reviews service of the local namespace', async (url) => {
    expect(await get(url)).toBe('reviews');
  });

  it('a service registered as name.namespace answers to its FQDN, not to its short name in another namespace', async () => {
    expect(await get('http://ratings.other/')).toBe('ratings');
    expect(await get('http://ratings.other.svc.cluster.example/')).toBe('ratings');
    const short = createMesh({
      namespace: 'bookinfo',
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
      discovery: [staticEndpoints({ 'ratings.other': [ratings.address] })],
    });
    await expect(request('http://ratings/', { dispatcher: short.dispatcher })).rejects.toMatchObject({
      code: 'PROXYLESS_ERR_UNKNOWN_SERVICE',
    });
    await short.close();
  });

  it('all spellings share one service per port (one set of endpoints and pools)', async () => {
    await get('http://reviews/');
    await get('http://reviews.bookinfo.svc.cluster.example/');
    const services = mesh.services().filter((s) => s.name === 'reviews.bookinfo.svc.cluster.example');
    // One service per name and port, as Envoy keeps one cluster per service port.
    expect(services.map((s) => s.port).sort()).toEqual([80, 9080]);
  });
});
