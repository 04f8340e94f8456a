import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { closeAll, startBackends, type Backend } from '../helpers/backends.js';
import { Progress } from '../helpers/wait.js';

describe('endpoint churn under load', () => {
  let backends: Backend[];
  beforeAll(async () => {
    // A few ms of work per request keeps requests in flight while the set changes.
    backends = await startBackends(4, 'r', 3);
  });
  afterAll(() => closeAll(backends));

  it.each(['p2c-peak-ewma', 'ROUND_ROBIN', 'LEAST_REQUEST'])(
    'loses no request and sends nothing new to removed endpoints (%s)',
    async (balancer) => {
      const source = staticEndpoints({ reviews: backends.map((b) => b.address) });
      const config =
        balancer === 'p2c-peak-ewma'
          ? []
          : [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'reviews' }, spec: { host: 'reviews', trafficPolicy: { loadBalancer: { simple: balancer } } } }];
      const mesh = createMesh({ discovery: [source], config });
      const total = 1500;
      let sent = 0;
      let ok = 0;
      let done = 0;
      const finished = new Progress();
      const failures: unknown[] = [];
      // Arrivals a removed backend may still see: the requests in flight on it when removed.
      const allowance = new Map<Backend, { at: number; inFlight: number }>();
      const worker = async (): Promise<void> => {
        while (sent < total) {
          sent++;
          try {
            const res = await request('http://reviews/', { dispatcher: mesh.dispatcher });
            await res.body.text();
            if (res.statusCode === 200) ok++;
          } catch (error) {
            failures.push(error);
          }
          done++;
          finished.notify();
        }
      };
      const churn = (async () => {
        let round = 0;
        while (sent < total) {
          // A change every 40 answered requests: the set changes while requests are in flight.
          const target = Math.min(total, done + 40);
          await finished.until(`${target} answered requests`, () => done >= target);
          if (sent >= total) break;
          round++;
          // Each round keeps a different non-empty subset.
          const keep = backends.filter((_, i) => (round >> i) & 1 || i === round % 4);
          const snapshot = mesh.services().find((s) => s.name.startsWith('reviews.'));
          for (const b of backends) {
            if (keep.includes(b)) {
              allowance.delete(b);
            } else if (!allowance.has(b)) {
              const pending = snapshot?.endpoints.find((e) => e.key === b.address)?.pending ?? 0;
              allowance.set(b, { at: b.requests, inFlight: pending });
            }
          }
          source.set('reviews', keep.map((b) => b.address));
          for (const [b, { at, inFlight }] of allowance) {
            // Checked every round while b stays removed.
            expect(b.requests - at, `${b.id} got new requests after removal`).toBeLessThanOrEqual(inFlight);
          }
        }
      })();
      await Promise.all([...Array.from({ length: 16 }, worker), churn]);
      expect(failures).toEqual([]);
      expect(ok).toBe(total);
      await mesh.close();
    },
  );
});
