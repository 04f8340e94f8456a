import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints } from 'proxyless';
import { closeAll } from '../../helpers/backends.js';
import { reviewsSubsets, reviewsVirtualService, startBookinfo, type Bookinfo } from './bookinfo.js';

describe('mesh.explain', () => {
  let app: Bookinfo;
  beforeAll(async () => {
    app = await startBookinfo();
  });
  afterAll(() => closeAll(app.all));

  it('shows the matched route, the ones that did not match and why, destinations, endpoints and policies', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints(app.endpoints)],
      config: [
        reviewsSubsets,
        reviewsVirtualService(`  - name: admins
    match: [{ uri: { prefix: /admin }, method: { exact: POST } }]
    route: [{ destination: { host: reviews, subset: v3 } }]
  - name: canary
    timeout: 2s
    fault: { delay: { fixedDelay: 1s, percentage: { value: 5 } } }
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 75 }
    - { destination: { host: reviews, subset: v2 }, weight: 25 }
`),
      ],
    });
    const e = await mesh.explain('http://reviews/admin/x');
    expect(e.virtualService).toContain('VirtualService/reviews');
    expect(e.routes).toEqual([
      { route: 'admins', matched: false, reason: 'match[0]: method exact "POST" does not hold' },
      { route: 'canary', matched: true, reason: 'no match conditions: matches every request' },
    ]);
    expect(e.action).toBe('route');
    expect(e.destinations.map((d) => [d.destination, d.percent, d.status])).toEqual([
      ['reviews.default.svc.cluster.local:80/v1', 75, 'known'],
      ['reviews.default.svc.cluster.local:80/v2', 25, 'known'],
    ]);
    expect(e.destinations[0]!.endpoints.map((ep) => ep.labels.version)).toEqual(['v1']);
    expect(e.policies).toContain('fault delay 1000 ms on 5 %');
    expect(e.policies.some((p) => p.startsWith('timeout 2000 ms'))).toBe(true);
    const posted = await mesh.explain('http://reviews/admin/x', { method: 'POST' });
    expect(posted.routes).toEqual([{ route: 'admins', matched: true, reason: 'match[0] holds' }]);
    const unknown = await mesh.explain('http://elsewhere/');
    expect(unknown).toMatchObject({ action: 'default', destinations: [{ status: 'missing' }] });
    await mesh.close();
  });
});
