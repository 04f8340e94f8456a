// The deadline travels to the callee in x-envoy-expected-rq-timeout-ms inside the mesh,
// and never to a service outside it (a ServiceEntry with location MESH_EXTERNAL, Istio's
// default location).
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

const entry = (host: string, port: number, location: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host.split('.')[0]} }
spec:
  hosts: [${host}]
  ${location}
  resolution: STATIC
  ports: [{ number: 80, name: http }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${host.split('.')[0]} }
spec:
  hosts: [${host}]
  http:
  - timeout: 3s
    route: [{ destination: { host: ${host} } }]
`;

async function headersSeen(location: string): Promise<Record<string, unknown>> {
  const echo = await startBackend({ id: 'echo' });
  servers.push(echo);
  const m = createMesh({ config: entry('pay.example.com', echo.port, location) });
  meshes.push(m);
  const res = await request('http://pay.example.com/echo', { dispatcher: m.dispatcher });
  return ((await res.body.json()) as { headers: Record<string, unknown> }).headers;
}

describe('the deadline header', () => {
  it('is not sent to a MESH_EXTERNAL service', async () => {
    expect(await headersSeen('location: MESH_EXTERNAL')).not.toHaveProperty('x-envoy-expected-rq-timeout-ms');
  });

  it('is not sent to a ServiceEntry with no location (MESH_EXTERNAL is the default)', async () => {
    expect(await headersSeen('')).not.toHaveProperty('x-envoy-expected-rq-timeout-ms');
  });

  it('is sent to a MESH_INTERNAL service', async () => {
    expect(await headersSeen('location: MESH_INTERNAL')).toMatchObject({ 'x-envoy-expected-rq-timeout-ms': '3000' });
  });
});
