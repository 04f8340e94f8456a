import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { closeAll, startBackends, type Backend } from '../helpers/backends.js';

const rule = (loadBalancer: object, host = 'reviews') => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: `${host}-rule` },
  spec: { host, trafficPolicy: { loadBalancer } },
});

describe('DestinationRule trafficPolicy.loadBalancer chooses the balancer per service', () => {
  let backends: Backend[];
  beforeAll(async () => {
    backends = await startBackends(3, 'r');
  });
  afterAll(() => closeAll(backends));

  const hits = async (mesh: ReturnType<typeof createMesh>, n: number, headers?: Record<string, string>): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await (await request('http://reviews/', { dispatcher: mesh.dispatcher, headers })).body.text());
    return out;
  };

  it('ROUND_ROBIN rotates through the endpoints in order', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: backends.map((b) => b.address) })], config: [rule({ simple: 'ROUND_ROBIN' })] });
    const seq = await hits(mesh, 9);
    expect(new Set(seq.slice(0, 3)).size).toBe(3);
    expect(seq.slice(3, 6)).toEqual(seq.slice(0, 3));
    expect(seq.slice(6, 9)).toEqual(seq.slice(0, 3));
    expect(mesh.services()[0]!.balancer).toMatch(/round-robin/);
    await mesh.close();
  });

  it('ROUND_ROBIN honours endpoint weights (1:2:3)', async () => {
    const endpoints = backends.map((b, i) => ({ address: '127.0.0.1', port: b.port, weight: i + 1 }));
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: endpoints })], config: [rule({ simple: 'ROUND_ROBIN' })] });
    const seq = await hits(mesh, 60);
    expect(seq.filter((s) => s === 'r0')).toHaveLength(10);
    expect(seq.filter((s) => s === 'r1')).toHaveLength(20);
    expect(seq.filter((s) => s === 'r2')).toHaveLength(30);
    await mesh.close();
  });

  it('consistentHash on a header keeps each user on one endpoint', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints({ reviews: backends.map((b) => b.address) })],
      config: [rule({ consistentHash: { httpHeaderName: 'x-user' } })],
    });
    const owners = new Set<string>();
    for (let user = 0; user < 20; user++) {
      const seq = await hits(mesh, 4, { 'x-user': `user-${user}` });
      expect(new Set(seq).size).toBe(1);
      owners.add(seq[0]!);
    }
    expect(owners.size).toBeGreaterThan(1);
    await mesh.close();
  });

  it('PASSTHROUGH sends the request to the host as written, skipping the balancer', async () => {
    const target = backends[2]!;
    const mesh = createMesh({
      discovery: [staticEndpoints({ localhost: [backends[0]!.address] })],
      config: [rule({ simple: 'PASSTHROUGH' }, 'localhost')],
    });
    const res = await request(`http://localhost:${target.port}/`, { dispatcher: mesh.dispatcher });
    expect(await res.body.text()).toBe('r2');
    await mesh.close();
  });

  it('a rule applies to the service in its own namespace only', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints({ reviews: backends.map((b) => b.address) })],
      config: [{ ...rule({ simple: 'ROUND_ROBIN' }), metadata: { name: 'r', namespace: 'other' } }],
    });
    await hits(mesh, 1);
    expect(mesh.services()[0]!.balancer).toBe('p2c-peak-ewma');
    await mesh.close();
  });
});
