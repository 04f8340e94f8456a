// Active health checks in the mesh (annotation proxyless.dev/health-check on the DestinationRule).
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';
import { Progress } from '../../helpers/wait.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

describe('active health checks', () => {
  it('an endpoint failing its checks gets no traffic, and comes back when they pass', async () => {
    let sick = true;
    let checks = 0;
    const checked = new Progress();
    const flaky = await startBackend({
      id: 'flaky',
      handle: (req, res, b) => {
        if (req.url === '/healthz') {
          checks++;
          checked.notify();
          res.statusCode = sick ? 500 : 200;
          res.end();
        } else res.end(b.id);
      },
    });
    // The checker sends the next check only once it has recorded the last one: when check
    // n + 1 arrives, the first n results are in. Waits for the results of `n` more checks.
    const results = (n: number) => {
      const target = checks + n + 1;
      return checked.until(`health check ${target}`, () => checks >= target);
    };
    const steady = await startBackend({ id: 'steady' });
    servers.push(flaky, steady);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [flaky.address, steady.address] })],
      config: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: {
            name: 'api',
            // Both servers answer at once: the long timeout only keeps a stall of this loaded
            // machine from failing the steady endpoint's checks too.
            annotations: { 'proxyless.dev/health-check': JSON.stringify({ interval: '100ms', jitter: 0, timeout: '10s', unhealthyThreshold: 2, healthyThreshold: 2 }) },
          },
          spec: { host: 'api', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
        },
      ],
    });
    meshes.push(m);
    await (await request('http://api/', { dispatcher: m.dispatcher })).body.text(); // creates the service, starts checks
    await results(2); // unhealthyThreshold failures
    expect(m.services()[0]!.endpoints.find((e) => e.key === flaky.address)!.available).toBe(false);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add(await (await request('http://api/', { dispatcher: m.dispatcher })).body.text());
    expect(seen).toEqual(new Set(['steady']));
    sick = false;
    await results(2); // healthyThreshold passes (the server answers at once: every check from now on passes)
    expect(m.services()[0]!.endpoints.find((e) => e.key === flaky.address)!.available).toBe(true);
    for (let i = 0; i < 10; i++) seen.add(await (await request('http://api/', { dispatcher: m.dispatcher })).body.text());
    expect(seen).toEqual(new Set(['steady', 'flaky']));
  });

  it('a bad health-check annotation fails the config load naming the rule and field', () => {
    expect(() =>
      createMesh({
        config: [
          {
            apiVersion: 'networking.istio.io/v1',
            kind: 'DestinationRule',
            metadata: { name: 'api', annotations: { 'proxyless.dev/health-check': '{"interval":"often"}' } },
            spec: { host: 'api' },
          },
        ],
      }),
    ).toThrow(/DestinationRule\/api \(config\[0\]\): metadata\.annotations\["proxyless\.dev\/health-check"\]\.interval: "often" \(expected: a duration/);
  });
});
