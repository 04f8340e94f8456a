// Istio's traffic-shifting task (bookinfo reviews v1/v2/v3) against real servers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints } from 'proxyless';
import { closeAll } from '../../helpers/backends.js';
import { countAnswers, reviewsSubsets, startBookinfo, weightedReviews, type Bookinfo } from './bookinfo.js';

describe('weighted routing over subsets', () => {
  let app: Bookinfo;
  beforeAll(async () => {
    app = await startBookinfo();
  });
  afterAll(() => closeAll(app.all));

  it.each<[number, number, number]>([
    [50, 25, 25],
    [80, 10, 10],
    [70, 30, 0],
  ])('%i/%i/%i within 4 points over 2,000 requests', async (a, b, c) => {
    const mesh = createMesh({ discovery: [staticEndpoints(app.endpoints)], config: [reviewsSubsets, weightedReviews([a, b, c])] });
    const n = 2000;
    const counts = await countAnswers(mesh, 'http://reviews/', n);
    const share = (id: string): number => ((counts.get(id) ?? 0) / n) * 100;
    expect(share('reviews-v1')).toBeGreaterThan(a - 4);
    expect(share('reviews-v1')).toBeLessThan(a + 4);
    expect(share('reviews-v2')).toBeGreaterThan(b - 4);
    expect(share('reviews-v2')).toBeLessThan(b + 4);
    if (c === 0) expect(counts.get('reviews-v3')).toBeUndefined();
    else expect(Math.abs(share('reviews-v3') - c)).toBeLessThan(4);
    await mesh.close();
  });

  it('weights are relative (1:3 is 25/75)', async () => {
    const vs = weightedReviews([1, 3, 0]);
    const mesh = createMesh({ discovery: [staticEndpoints(app.endpoints)], config: [reviewsSubsets, vs] });
    const counts = await countAnswers(mesh, 'http://reviews/', 1200);
    expect(Math.abs(((counts.get('reviews-v1') ?? 0) / 1200) * 100 - 25)).toBeLessThan(5);
    await mesh.close();
  });

  it('a subset selects the endpoints whose labels match', async () => {
    const vs = weightedReviews([0, 0, 100]);
    const mesh = createMesh({ discovery: [staticEndpoints(app.endpoints)], config: [reviewsSubsets, vs] });
    const counts = await countAnswers(mesh, 'http://reviews/', 50);
    expect([...counts.keys()]).toEqual(['reviews-v3']);
    const services = mesh.services().filter((s) => s.subset === 'v3');
    expect(services[0]!.endpoints.map((e) => e.labels.version)).toEqual(['v3']);
    await mesh.close();
  });
});
