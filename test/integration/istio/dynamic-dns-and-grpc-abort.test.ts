// ServiceEntry resolution DYNAMIC_DNS and fault abort grpcStatus (semantics.md §9, §12):
// both load and behave as in Istio, where they used to be refused as invalid.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

let backend: Backend;
const meshes: Mesh[] = [];
beforeAll(async () => {
  backend = await startBackend({ id: 'backend' });
});
afterAll(async () => {
  await Promise.all(meshes.map((m) => m.close()));
  await closeAll([backend]);
});

describe('ServiceEntry resolution: DYNAMIC_DNS', () => {
  it("sends each request to its own host name, resolved when connecting, under the entry's wildcard", async () => {
    // The partial wildcard `*localhost` covers `localhost` (suffix match, as Istio's), which
    // the system resolver knows. REGISTRY_ONLY proves the entry, not pass-through, carried it.
    const m = createMesh({
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
      config: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: anything }
spec:
  hosts: ["*localhost"]
  location: MESH_EXTERNAL
  ports: [{ number: ${backend.port}, name: http, protocol: HTTP }]
  resolution: DYNAMIC_DNS
`,
    });
    meshes.push(m);
    expect(m.warnings).toEqual([]);
    const res = await request(`http://localhost:${backend.port}/`, { dispatcher: m.dispatcher });
    expect(await res.body.text()).toBe('backend');
    // The endpoint is the request's own name and port, for the resolver at connect time.
    expect(m.services().flatMap((s) => s.endpoints.map((e) => e.key))).toEqual([`localhost:${backend.port}`]);
    // A port the entry does not declare is not the entry's: refused under REGISTRY_ONLY.
    await expect(request('http://localhost:1/', { dispatcher: m.dispatcher })).rejects.toMatchObject({ code: 'PROXYLESS_ERR_UNKNOWN_SERVICE' });
  });
});

describe('fault abort grpcStatus', () => {
  it('answers a gRPC trailers-only response (HTTP 200, application/grpc, grpc-status) without calling the service', async () => {
    const m = createMesh({
      config: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - fault: { abort: { grpcStatus: UNAVAILABLE, percentage: { value: 100 } } }
    route: [{ destination: { host: ratings } }]
`,
    });
    meshes.push(m);
    const before = backend.requests;
    const res = await request('http://ratings/ratings.Ratings/Get', { method: 'POST', body: '', dispatcher: m.dispatcher, headers: { 'content-type': 'application/grpc' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({ 'content-type': 'application/grpc', 'grpc-status': '14' });
    expect(await res.body.text()).toBe('');
    expect(backend.requests).toBe(before);
    expect((await m.explain('http://ratings/')).policies).toContain('fault abort grpc-status 14 on 100 %');
  });

  it('an abort with neither httpStatus nor grpcStatus loads with a warning and aborts nothing', async () => {
    const m = createMesh({
      config: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - fault: { abort: { percentage: { value: 100 } } }
    route: [{ destination: { host: ratings } }]
`,
      discovery: [staticEndpoints({ ratings: [backend.address] })],
    });
    meshes.push(m);
    expect(m.warnings).toEqual([expect.stringContaining('spec.http[0].fault.abort: an abort without httpStatus, grpcStatus or http2Error aborts nothing')]);
    expect(await (await m.fetch('http://ratings/')).text()).toBe('backend');
  });
});
