// External services get the same routing and policies as internal ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh } from 'proxyless';
import { closeAll, startBackends, type Backend } from '../../helpers/backends.js';

describe('ServiceEntry', () => {
  let backends: Backend[];
  beforeAll(async () => {
    backends = await startBackends(3, 'ext');
  });
  afterAll(() => closeAll(backends));

  const get = async (mesh: ReturnType<typeof createMesh>, url: string) => (await request(url, { dispatcher: mesh.dispatcher })).body.text();

  it('STATIC endpoints with a DestinationRule balancer, under REGISTRY_ONLY', async () => {
    const mesh = createMesh({
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
      config: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: payments }
spec:
  hosts: [payments.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints:
${backends.map((b) => `  - address: 127.0.0.1\n    ports: { http: ${b.port} }\n    labels: { id: ${b.id} }`).join('\n')}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments.example.com
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
`,
    });
    const seq = [];
    for (let i = 0; i < 6; i++) seq.push(await get(mesh, 'http://payments.example.com/'));
    expect(new Set(seq.slice(0, 3)).size).toBe(3);
    expect(seq.slice(3)).toEqual(seq.slice(0, 3));
    // A port the entry does not declare is not the entry's: refused under REGISTRY_ONLY.
    await expect(request('http://payments.example.com:8080/', { dispatcher: mesh.dispatcher })).rejects.toMatchObject({ code: 'PROXYLESS_ERR_UNKNOWN_SERVICE' });
    await mesh.close();
  });

  it('DNS resolution: endpoints by host name, resolved when connecting; a VirtualService routes to it', async () => {
    const target = backends[1]!;
    const mesh = createMesh({
      config: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: local-api }
spec:
  hosts: [api.local.test]
  resolution: DNS
  ports: [{ number: 80, name: http, targetPort: ${target.port} }]
  endpoints: [{ address: localhost }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: local-api }
spec:
  hosts: [api.local.test]
  http:
  - match: [{ uri: { prefix: /v2 } }]
    rewrite: { uri: /echo }
    route: [{ destination: { host: api.local.test } }]
`,
    });
    const res = await request('http://api.local.test/v2/x', { dispatcher: mesh.dispatcher });
    const echo = (await res.body.json()) as { id: string; url: string; headers: Record<string, string> };
    expect(echo.id).toBe(target.id);
    expect(echo.url).toBe('/echo/x');
    expect(echo.headers.host).toBe('api.local.test');
    await mesh.close();
  });

  it('resolution NONE knows the host but balances nothing: requests go where the caller sent them', async () => {
    const target = backends[2]!;
    const mesh = createMesh({
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
      config: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: any-localhost }
spec:
  hosts: [localhost]
  resolution: NONE
  ports: [{ number: ${target.port}, name: http }]
`,
    });
    expect(await get(mesh, `http://localhost:${target.port}/`)).toBe(target.id);
    expect(mesh.sources()[0]).toMatchObject({ name: 'ServiceEntry', services: 1 });
    await mesh.close();
  });
});
