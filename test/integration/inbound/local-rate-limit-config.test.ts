// LocalRateLimit (proxyless.dev/v1alpha1) in the mesh YAML: validated at load with the
// field path, selected by the workload's labels, followed across reloads, enforced by a
// real server.
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, inbound, InvalidConfigError, staticEndpoints, type Mesh } from 'proxyless';
import { closeServer, listen } from '../../helpers/listen.js';

const servers: Server[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
  await Promise.all(meshes.splice(0).map((m) => m.close()));
});

const limit = (name: string, maxTokens: number, selector?: Record<string, string>) => `---
apiVersion: proxyless.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: ${name} }
spec:
  ${selector ? `selector: { matchLabels: ${JSON.stringify(selector)} }` : ''}
  tokenBucket: { maxTokens: ${maxTokens}, tokensPerFill: ${maxTokens}, fillInterval: 1h }
`;

async function statuses(base: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = await request(`${base}/`);
    await r.body.text();
    out.push(r.statusCode);
  }
  return out;
}

describe('LocalRateLimit in the mesh YAML', () => {
  it('the resource selecting this workload by its labels wins over a namespace-wide one; a reload starts new buckets; removing it lifts the limit', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints({})],
      labels: { app: 'reviews' },
      config: limit('everyone', 5) + limit('other-app', 1, { app: 'ratings' }) + limit('reviews', 2, { app: 'reviews' }),
    });
    meshes.push(mesh);
    expect(mesh.warnings).toEqual([]);
    const side = inbound(mesh);
    const server = side.attach(createServer(side.handler((_req, res) => res.end('ok'))));
    servers.push(server);
    const base = await listen(server);
    expect(await statuses(base, 3)).toEqual([200, 200, 429]);
    mesh.applyConfig(limit('reviews', 3, { app: 'reviews' }));
    expect(await statuses(base, 4)).toEqual([200, 200, 200, 429]);
    mesh.applyConfig(limit('someone-else', 1, { app: 'details' }));
    expect(await statuses(base, 5)).toEqual([200, 200, 200, 200, 200]);
  });

  it('code options win over the YAML', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({})], config: limit('everyone', 1) });
    meshes.push(mesh);
    const side = inbound(mesh, { rateLimit: { tokenBucket: { maxTokens: 2, fillInterval: '1h' } } });
    const server = side.attach(createServer(side.handler((_req, res) => res.end('ok'))));
    servers.push(server);
    expect(await statuses(await listen(server), 3)).toEqual([200, 200, 429]);
  });

  it('an invalid resource fails createMesh with the document, the field path, the value and what was expected; a bad reload keeps the last good one', () => {
    const bad = `apiVersion: proxyless.dev/v1alpha1
kind: LocalRateLimit
metadata: { name: broken }
spec:
  tokenBucket: { maxTokens: 0, fillInterval: 10ms }
  descriptors: [{ header: X-User, tokenBucket: { maxTokens: 1, fillInterval: 1s } }]
`;
    let error: unknown;
    try {
      createMesh({ discovery: [staticEndpoints({})], config: bad });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).problems).toEqual([
      'LocalRateLimit/broken (config[0]#1): spec.tokenBucket.maxTokens: 0 (expected: >= 1)',
      `LocalRateLimit/broken (config[0]#1): spec.tokenBucket.fillInterval: "10ms" (expected: a fill interval from 50 ms (Envoy's minimum) to 596h31m23.647s)`,
      'LocalRateLimit/broken (config[0]#1): spec.descriptors[0].header: "X-User" (expected: a lower-case header name such as "x-user")',
    ]);
    expect(() => createMesh({ config: bad.replace('proxyless.dev/v1alpha1', 'proxyless.dev/v1') })).toThrow(/apiVersion: "proxyless\.dev\/v1" \(expected: "proxyless\.dev\/v1alpha1"\)/);
    const mesh = createMesh({ discovery: [staticEndpoints({})], config: limit('ok', 2) });
    meshes.push(mesh);
    expect(() => mesh.applyConfig(bad)).toThrow(InvalidConfigError);
    expect(mesh.inboundConfig().localRateLimits.map((l) => l.resource.metadata.name)).toEqual(['ok']);
  });
});
