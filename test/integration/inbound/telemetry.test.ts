// Inbound telemetry with the real SDK: the Istio preset (reporter="destination"), and the
// inbound side without @opentelemetry/api installed (the loader made to fail, as a
// missing package fails it: a fake stands in because the package is installed here).
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, inbound, staticEndpoints, type InboundOptions, type Mesh } from 'proxyless';
import { setOtelApiLoaderForTests } from '../../../src/telemetry/otel-api.js';
import { closeServer, listen } from '../../helpers/listen.js';
import { dataPoints, registerTestSdk, type TestSdk } from '../../helpers/otel-sdk.js';

let sdk: TestSdk;
beforeAll(() => {
  sdk = registerTestSdk();
});
afterAll(() => sdk.shutdown());

const servers: Server[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  setOtelApiLoaderForTests();
  await Promise.all(servers.splice(0).map(closeServer));
  await Promise.all(meshes.splice(0).map((m) => m.close()));
});

async function serve(options: InboundOptions): Promise<string> {
  const mesh = createMesh({ discovery: [staticEndpoints({})], namespace: 'shop' });
  meshes.push(mesh);
  const side = inbound(mesh, options);
  const server = side.attach(createServer(side.handler((req, res) => res.end(JSON.stringify({ trace: req.mesh.trace ?? null })))));
  servers.push(server);
  return listen(server);
}

describe('inbound metrics', () => {
  it("metricNames 'both': http.server.request.duration and Istio's istio_requests_total / istio_request_duration_milliseconds with reporter=destination", async () => {
    const base = await serve({
      telemetry: { metricNames: 'both', workload: { name: 'reviews-v1' }, service: 'reviews.shop.svc.cluster.local' },
      rateLimit: { tokenBucket: { maxTokens: 1, fillInterval: '1h' } },
    });
    for (let i = 0; i < 2; i++) await (await request(`${base}/istio`)).body.text();
    const metrics = await sdk.metrics();
    const requests = dataPoints(metrics, 'istio_requests_total');
    expect(requests.map((p) => [p.attributes.response_code, p.attributes.response_flags, p.value]).sort()).toEqual([
      ['200', '-', 1],
      ['429', 'RL', 1],
    ]);
    expect(requests[0]!.attributes).toMatchObject({
      reporter: 'destination',
      destination_workload: 'reviews-v1',
      destination_workload_namespace: 'shop',
      destination_service: 'reviews.shop.svc.cluster.local',
      destination_service_name: 'reviews',
      source_workload: 'unknown',
      request_protocol: 'http',
      connection_security_policy: 'none',
    });
    expect(dataPoints(metrics, 'istio_request_duration_milliseconds').reduce((n, p) => n + (p.value as { count: number }).count, 0)).toBe(2);
    expect(dataPoints(metrics, 'http.server.request.duration').reduce((n, p) => n + (p.value as { count: number }).count, 0)).toBe(2);
  });

  it('tracing: false and metrics: false record nothing', async () => {
    const base = await serve({ telemetry: { tracing: false, metrics: false } });
    await (await request(`${base}/silent`)).body.text();
    expect((await sdk.spans()).filter((s) => s.attributes['url.path'] === '/silent')).toEqual([]);
  });
});

describe('without @opentelemetry/api', () => {
  it("requests are served with no span; req.mesh.trace is read from the W3C headers by proxyless's own parser", async () => {
    setOtelApiLoaderForTests(() => {
      throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: 'MODULE_NOT_FOUND' });
    });
    const base = await serve({});
    const r = await request(`${base}/no-api`, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-envoy-expected-rq-timeout-ms': '1000' } });
    expect([r.statusCode, await r.body.json()]).toEqual([200, { trace: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 } }]);
    expect((await sdk.spans()).filter((s) => s.attributes['url.path'] === '/no-api')).toEqual([]);
  });
});
