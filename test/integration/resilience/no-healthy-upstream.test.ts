// A service whose endpoints all exist but none can take traffic answers at once, as Envoy
// answers 503 "no healthy upstream" (flag UH), instead of waiting discoveryTimeout.
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

const ejectOnFirst5xx = (baseEjectionTime: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec:
  host: api
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 1, interval: 50ms, baseEjectionTime: ${baseEjectionTime}, maxEjectionPercent: 100 }`;

describe('no healthy upstream', () => {
  it('every endpoint ejected: fails at once with NoHealthyUpstreamError (503, UH), not after discoveryTimeout', async () => {
    let failing = true;
    const handle = (_req: unknown, res: import('node:http').ServerResponse) => {
      res.statusCode = failing ? 500 : 200;
      res.end(failing ? 'down' : 'up');
    };
    const a = await startBackend({ id: 'a', handle });
    const b = await startBackend({ id: 'b', handle });
    servers.push(a, b);
    // A discoveryTimeout longer than the test's own timeout: a wait would fail the test.
    const m = createMesh({ discovery: [staticEndpoints({ api: [a.address, b.address] })], config: ejectOnFirst5xx('200ms'), discoveryTimeout: 60_000 });
    meshes.push(m);
    // Each 500 ejects the endpoint that sent it: two requests eject both. (A stall of this
    // machine longer than the 200 ms ejection lets one back in: it then answers 500 again.)
    const available = () => m.services()[0]?.endpoints.filter((e) => e.available).length ?? 2;
    let answered500 = 0;
    while (available() > 0) {
      expect((await request('http://api/', { dispatcher: m.dispatcher })).statusCode).toBe(500);
      answered500++;
    }
    // Both ejected: a request made now (in the same turn, before any sweep) is refused at once.
    const error = await request('http://api/', { dispatcher: m.dispatcher }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PROXYLESS_ERR_NO_HEALTHY_UPSTREAM', statusCode: 503, responseFlag: 'UH', service: 'api' });
    expect((error as Error).message).toMatch(/none of the 2 endpoints of service "api" can take traffic \(2 ejected by outlier detection, 0 failing health checks\)/);
    expect(answered500).toBeGreaterThanOrEqual(2);
    expect(a.requests + b.requests).toBe(answered500); // the refused request was not sent
    expect(m.dispatcher.inFlight).toBe(0);
    // Once an ejection ends, traffic flows again.
    failing = false;
    while (!m.services()[0]!.endpoints.some((e) => e.available)) await new Promise((r) => setTimeout(r, 10));
    expect(await (await request('http://api/', { dispatcher: m.dispatcher })).body.text()).toBe('up');
  });

  it('a known service with no endpoint yet still waits for one (bounded), and fails with NoEndpointsError', async () => {
    const m = createMesh({ discovery: [staticEndpoints({ api: [] })], discoveryTimeout: 50 });
    meshes.push(m);
    await expect(request('http://api/', { dispatcher: m.dispatcher })).rejects.toMatchObject({ code: 'PROXYLESS_ERR_NO_ENDPOINTS' });
  });
});
