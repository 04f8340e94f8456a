import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { ConnectionPool } from 'etcd3/lib/connection-pool.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, InvalidConfigError, type Endpoint, type Mesh, type ServiceQuery } from 'proxyless';
import { etcdConfig, etcdDiscovery, EtcdValueError, register, type Registration } from '../src/index.js';
import { closeAll, startBackends, type Backend } from '../../../test/helpers/backends.js';
import { startCluster, type EtcdCluster } from './helpers/cluster.js';
import { eventually } from './helpers/eventually.js';
import { Progress } from '../../../test/helpers/wait.js';
import { requireBinaries } from '../../../test/helpers/system-binaries.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Round robin, so every endpoint is certain to get requests (the default balancer favours the fastest). */
const config = ['reviews', 'ratings', 'details', 'child'].map((host) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: host },
  spec: { host, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
}));

const query = (service: string): ServiceQuery => ({ host: service, fqdn: service, names: [service], port: 80 });

/** Sends `count` requests to `url` through the mesh, `concurrency` at a time; returns the bodies and failures. */
async function traffic(mesh: Mesh, url: string, count: number, concurrency: number) {
  const bodies: string[] = [];
  const failures: unknown[] = [];
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      try {
        const res = await request(url, { dispatcher: mesh.dispatcher });
        const body = await res.body.text();
        if (res.statusCode === 200) bodies.push(body);
        else failures.push(new Error(`status ${res.statusCode}: ${body}`));
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { bodies, failures };
}

const needs = requireBinaries([{ bin: process.env.ETCD_BIN ?? '/usr/bin/etcd', pkg: 'etcd-server' }]);

// Skipped only off CI where the program is not installed (never in CI: it fails there);
// the test's name then says what is missing and the apt-get command (requireBinaries).
describe.skipIf(needs.skip)(`@proxyless/etcd against a real 3-member etcd cluster${needs.note}`, () => {
  let cluster: EtcdCluster;
  let backends: Backend[];
  let etcd: Etcd3; // the test's own view of etcd
  let endpoints: string[];

  beforeAll(async () => {
    [cluster, backends] = await Promise.all([startCluster(3), startBackends(4, 'e')]);
    endpoints = [...cluster.endpoints];
    etcd = new Etcd3({ hosts: endpoints });
  }, 60_000);

  afterAll(async () => {
    etcd?.close();
    await Promise.all([cluster?.close(), backends && closeAll(backends)]);
  });

  it('a registration appears in discovery and a mesh sends traffic to it; update() and close() follow', async () => {
    const discovery = etcdDiscovery({ endpoints, prefix: '/t1/services' });
    const registrations = backends.slice(0, 2).map((b, i) =>
      register({
        endpoints,
        prefix: '/t1/services',
        service: 'reviews',
        endpoint: { address: '127.0.0.1', port: b.port, labels: { version: `v${i + 1}`, zone: 'a' } },
      }),
    );
    await Promise.all(registrations.map((r) => r.ready()));
    expect(registrations[0]!.key).toBe(`/t1/services/reviews/127.0.0.1:${backends[0]!.port}`);
    expect(JSON.parse((await etcd.get(registrations[0]!.key).string())!)).toEqual({
      address: '127.0.0.1',
      port: backends[0]!.port,
      weight: 1,
      labels: { version: 'v1', zone: 'a' },
    });

    // Discovery started before the registrations: their puts reach it through the watch.
    await eventually('both instances in discovery', () => discovery.state().endpoints === 2);
    const mesh = createMesh({ discovery: [discovery], config });
    const { bodies, failures } = await traffic(mesh, 'http://reviews/', 40, 4);
    expect(failures).toEqual([]);
    expect(new Set(bodies)).toEqual(new Set(['e0', 'e1']));

    // update(): discovery sees the new weight and labels.
    let seen: readonly Endpoint[] = [];
    const watch = discovery.watch(query('reviews'), (u) => {
      if (u.type === 'reset') seen = u.endpoints;
    });
    await registrations[1]!.update({ address: '127.0.0.1', port: backends[1]!.port, weight: 3, labels: { version: 'v3' } });
    await eventually('the updated weight in discovery', () => seen.some((e) => e.weight === 3 && e.labels.version === 'v3'));

    // close(): the key goes with the lease, discovery drops the endpoint, traffic follows.
    await registrations[0]!.close();
    expect(await etcd.get(registrations[0]!.key).string()).toBeNull();
    await eventually('the closed instance gone from discovery', () => seen.length === 1);
    const after = await traffic(mesh, 'http://reviews/', 20, 4);
    expect(after.failures).toEqual([]);
    expect(new Set(after.bodies)).toEqual(new Set(['e1']));

    watch.close();
    await registrations[1]!.close();
    await mesh.close();
  });

  it('skips malformed keys and values with an error naming the key, and keeps going', async () => {
    const p = '/t2/services';
    await etcd.put(`${p}/ratings/good`).value(JSON.stringify({ address: '127.0.0.1', port: backends[2]!.port }));
    await etcd.put(`${p}/ratings/not-json`).value('{address: 127.0.0.1');
    await etcd.put(`${p}/ratings/bad-port`).value(JSON.stringify({ address: '127.0.0.1', port: 0 }));
    await etcd.put(`${p}/no-instance-id`).value(JSON.stringify({ address: '127.0.0.1', port: 1 }));
    await etcd.put(`${p}/Bad_Name/x`).value(JSON.stringify({ address: '127.0.0.1', port: 1 }));

    const discovery = etcdDiscovery({ endpoints, prefix: p });
    const errors: Error[] = [];
    discovery.on('error', (error) => errors.push(error));
    await discovery.ready();
    const keys = errors.map((e) => (e as EtcdValueError).key).sort();
    expect(keys).toEqual([`${p}/Bad_Name/x`, `${p}/no-instance-id`, `${p}/ratings/bad-port`, `${p}/ratings/not-json`].sort());
    expect(errors.every((e) => e instanceof EtcdValueError && e.code === 'PROXYLESS_ERR_ETCD_VALUE')).toBe(true);
    expect(errors.find((e) => (e as EtcdValueError).key.endsWith('bad-port'))!.message).toBe(
      `etcd(${p}): skipped key ${p}/ratings/bad-port: port: 0 (expected: an integer from 1 to 65535)`,
    );
    expect(errors.find((e) => (e as EtcdValueError).key.endsWith('not-json'))!.message).toContain('is not JSON');

    let seen: readonly Endpoint[] = [];
    discovery.watch(query('ratings'), (u) => {
      if (u.type === 'reset') seen = u.endpoints;
    });
    expect(seen.map((e) => e.port)).toEqual([backends[2]!.port]);

    // While watching: a bad value for an existing good key keeps its last good value.
    errors.length = 0;
    await etcd.put(`${p}/ratings/good`).value('{"address":"127.0.0.1","port":"80"}');
    await etcd.put(`${p}/ratings/second`).value(JSON.stringify({ address: '127.0.0.1', port: backends[3]!.port, weight: 2 }));
    await eventually('the second instance', () => seen.length === 2);
    expect(seen.map((e) => e.port).sort()).toEqual([backends[2]!.port, backends[3]!.port].sort());
    expect(errors.map((e) => (e as EtcdValueError).key)).toEqual([`${p}/ratings/good`]);
    expect(errors[0]!.message).toContain('port: "80" (expected: an integer from 1 to 65535)');
    await discovery.close();
  });

  it('etcdConfig delivers parsed mesh YAML on every change and reports unparsable text, keeping the last good set', async () => {
    const key = '/t3/mesh/config';
    const rule = (name: string) =>
      `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: ${name}\nspec:\n  host: ${name}\n`;
    await etcd.put(key).value(rule('reviews'));
    const config = etcdConfig({ endpoints, key });
    const errors: Error[] = [];
    config.on('error', (error) => errors.push(error));
    const deliveries: (readonly unknown[])[] = [];
    config.watch((resources) => deliveries.push(resources));
    await config.ready();
    expect(config.name).toBe(`etcd(${key})`);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject([{ kind: 'DestinationRule', metadata: { name: 'reviews' } }]);

    await etcd.put(key).value(`${rule('reviews')}---\n${rule('ratings')}`);
    await eventually('two resources', () => deliveries.length === 2);
    expect(deliveries[1]).toHaveLength(2);

    await etcd.put(key).value('kind: DestinationRule\nspec: [unclosed\n');
    await eventually('a parse error', () => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(InvalidConfigError);
    expect(errors[0]!.message).toMatch(new RegExp(`etcd:${key}:\\d+:\\d+: document 1: `));
    expect(deliveries).toHaveLength(2); // the last good set stays

    await etcd.delete().key(key);
    await eventually('an empty set after delete', () => deliveries.length === 3);
    expect(deliveries[2]).toEqual([]);
    // A second watcher gets the current set at once.
    let now: readonly unknown[] | undefined;
    config.watch((resources) => (now = resources));
    expect(now).toEqual([]);
    await config.close();
  });

  it('a mesh follows mesh YAML kept in an etcd key: routes apply, an edit re-routes live, a bad edit keeps the last good config', async () => {
    const key = '/t3b/mesh/config';
    const [a, b] = [backends[0]!, backends[1]!];
    const vs = (target: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop }
spec:
  hosts: [shop]
  http: [{ route: [{ destination: { host: ${target} } }] }]
`;
    await etcd.put(key).value(vs('alpha'));
    const { staticEndpoints } = await import('proxyless');
    const mesh = createMesh({
      discovery: [staticEndpoints({ alpha: [a.address], beta: [b.address] })],
      config: [etcdConfig({ endpoints, key })],
    });
    const errors: string[] = [];
    mesh.on('configError', (error, source) => errors.push(`${source}: ${error.message}`));
    await mesh.ready();
    const get = async () => (await request('http://shop/', { dispatcher: mesh.dispatcher })).body.text();
    expect(await get()).toBe(a.id);
    await etcd.put(key).value(vs('beta'));
    await eventually('the edit re-routes', async () => (await get()) === b.id);
    await etcd.put(key).value(vs('beta').replace('hosts: [shop]', 'hosts: shop'));
    await eventually('the bad edit is reported', () => errors.length === 1);
    expect(errors[0]).toContain(`etcd(${key}): invalid mesh config`);
    expect(errors[0]).toContain('spec.hosts: "shop" (expected: an array)');
    expect(await get()).toBe(b.id);
    await mesh.close();
  });

  it('SIGTERM (a real signal to a child process): deregisters, then closes the server; the process then ends by itself', async () => {
    const child = spawn(
      process.execPath,
      [
        `${root}node_modules/tsx/dist/cli.mjs`,
        '--tsconfig',
        `${root}packages/etcd/test/fixtures/tsconfig.json`,
        `${root}packages/etcd/test/fixtures/sigterm-child.ts`,
        JSON.stringify(endpoints),
        '/t4/services',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      await eventually('the child to register', () => /registered \S+ \d+/.test(output), 60_000); // tsx compiles the child first: slow on a loaded machine
      const [, key, port] = /registered (\S+) (\d+)/.exec(output)!;
      expect(key).toBe(`/t4/services/child/127.0.0.1:${port}`);
      expect(await etcd.get(key!).string()).not.toBeNull();

      const discovery = etcdDiscovery({ endpoints, prefix: '/t4/services' });
      const mesh = createMesh({ discovery: [discovery], config });
      const res = await request('http://child/', { dispatcher: mesh.dispatcher });
      expect(await res.body.text()).toBe('child');

      child.kill('SIGTERM');
      const { code, signal } = await exited;
      expect({ code, signal, output }).toMatchObject({ code: 0, signal: null });
      // Deregistered before the server was asked to close; then the process ended on its own.
      expect(output).toMatch(/server-close key-present=false\n(.|\n)*server-closed/);
      expect(await etcd.get(key!).string()).toBeNull();
      await eventually('the child gone from discovery', () => discovery.state().endpoints === 0);
      await mesh.close();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 90_000);

  it('loses no request of 32-concurrent traffic while the member its watch runs on is killed; later changes still arrive', async () => {
    const p = '/t5/services';
    const registrations = backends.slice(0, 3).map((b) =>
      register({ endpoints, prefix: p, service: 'details', endpoint: { address: '127.0.0.1', port: b.port }, ttl: 5 }),
    );
    await Promise.all(registrations.map((r) => r.ready()));
    // The etcd3 client's switch for tests: hosts are tried in a fixed order (the last one
    // first), so discovery's read and watch go to the member killed below, not a random one.
    ConnectionPool.deterministicOrder = true;
    const victim = endpoints.length - 1;
    let extra: Registration | undefined;
    try {
      const discovery = etcdDiscovery({ endpoints, prefix: p });
      const errors: Error[] = [];
      discovery.on('error', (error) => errors.push(error));
      const mesh = createMesh({ discovery: [discovery], config });
      await discovery.ready();

      let stop = false;
      const bodies: string[] = [];
      const failures: unknown[] = [];
      const answered = new Progress();
      const worker = async (): Promise<void> => {
        while (!stop) {
          try {
            const res = await request('http://details/', { dispatcher: mesh.dispatcher });
            const body = await res.body.text();
            if (res.statusCode === 200) bodies.push(body);
            else failures.push(new Error(`status ${res.statusCode}: ${body}`));
          } catch (error) {
            failures.push(error);
          }
          answered.notify();
        }
      };
      const workers = Promise.all(Array.from({ length: 32 }, worker));
      try {
        // Traffic flows to all three before the kill.
        await answered.until('answers from e0, e1 and e2', () => ['e0', 'e1', 'e2'].every((id) => bodies.includes(id)) && bodies.length >= 100);
        const before = bodies.length;
        await cluster.kill(victim);
        await eventually('discovery to notice the lost watch', () => errors.some((e) => /lost the watch/.test(e.message)), 10_000);
        // With one member down, a new instance still shows up, while traffic goes on.
        ConnectionPool.deterministicOrder = false;
        extra = register({ endpoints, prefix: p, service: 'details', endpoint: { address: '127.0.0.1', port: backends[3]!.port } });
        await extra.ready();
        await eventually('the fourth instance in discovery', () => discovery.state().endpoints === 4, 15_000);
        await eventually('traffic to the fourth instance', () => bodies.includes('e3'), 5000);
        expect(bodies.length - before).toBeGreaterThan(100);
      } finally {
        stop = true;
        await workers;
      }
      expect(failures).toEqual([]);
      expect(new Set(bodies)).toEqual(new Set(['e0', 'e1', 'e2', 'e3']));
      await mesh.close();
    } finally {
      ConnectionPool.deterministicOrder = false;
      await Promise.all([...registrations, ...(extra ? [extra] : [])].map((r) => r.close()));
      await cluster.start(victim);
    }
  }, 50_000);

  it('with every member down the mesh serves the last known endpoints, then catches up when etcd returns', async () => {
    const p = '/t6/services';
    const steady = register({ endpoints, prefix: p, service: 'ratings', endpoint: { address: '127.0.0.1', port: backends[0]!.port }, ttl: 30 });
    // A short lease that expires while etcd is down: it must be re-registered afterwards.
    const short = register({ endpoints, prefix: p, service: 'ratings', endpoint: { address: '127.0.0.1', port: backends[1]!.port }, ttl: 1 });
    await Promise.all([steady.ready(), short.ready()]);
    const discovery = etcdDiscovery({ endpoints, prefix: p });
    const discoveryErrors: Error[] = [];
    const mesh = createMesh({ discovery: [discovery], config });
    mesh.on('discoveryError', (error) => discoveryErrors.push(error));
    expect((await traffic(mesh, 'http://ratings/', 20, 4)).failures).toEqual([]);

    await cluster.killAll();
    // A new instance registers while etcd is down: it keeps trying.
    const late = register({ endpoints, prefix: p, service: 'ratings', endpoint: { address: '127.0.0.1', port: backends[2]!.port } });
    const shortErrors: Error[] = [];
    short.on('error', (error) => shortErrors.push(error));
    const leaseLost = (): boolean => shortErrors.some((e) => (e as { code?: string }).code === 'PROXYLESS_ERR_ETCD_LEASE_LOST');
    // Serve from the last known set while etcd is gone: until the short lease's TTL has
    // passed (the registration reports it lost) and discovery has reported the outage,
    // then one batch more.
    let batches = 0;
    for (let done = false; !done; batches++) {
      done = leaseLost() && discoveryErrors.length > 0;
      const { bodies, failures } = await traffic(mesh, 'http://ratings/', 40, 8);
      expect(failures).toEqual([]);
      expect(new Set(bodies)).toEqual(new Set(['e0', 'e1']));
      expect(batches, 'the short lease is lost and discovery reports the outage while etcd is down').toBeLessThan(1000);
    }
    expect(late.registered).toBe(false);
    expect(discoveryErrors[0]!.message).toMatch(/^etcd\(\/t6\/services\): (lost the watch on|cannot read) \/t6\/services\/ from etcd/);

    await cluster.startAll();
    await late.ready();
    await eventually('the late instance in discovery', () => discovery.state().endpoints === 3, 20_000);
    const { bodies, failures } = await traffic(mesh, 'http://ratings/', 60, 6);
    expect(failures).toEqual([]);
    expect(new Set(bodies)).toEqual(new Set(['e0', 'e1', 'e2']));
    // The short lease was lost client-side and registered again under a new one.
    await eventually('the short registration back', () => short.registered, 20_000);
    expect(shortErrors.some((e) => (e as { code?: string }).code === 'PROXYLESS_ERR_ETCD_LEASE_LOST')).toBe(true);
    expect(await etcd.get(short.key).string()).not.toBeNull();

    await Promise.all([steady, short, late].map((r: Registration) => r.close()));
    await eventually('every instance gone', () => discovery.state().endpoints === 0);
    await mesh.close();
  }, 60_000);
});
