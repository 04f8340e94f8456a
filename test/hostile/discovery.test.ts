// Discovery and config sources used the way an attacker, a buggy plugin or a careless
// writer would: an open set of hosts, malformed updates, a throwing watch, a source
// shared between meshes, and config files truncated, emptied, replaced or recreated.
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, DiscoverySourceError, holdSource, InvalidConfigError, MeshNotReadyError, SourceClosedError, staticEndpoints, type ConfigSource, type DiscoveryListener, type DiscoverySource, type DiscoverySourceState, type Mesh, type ServiceQuery, type ServicesEvictedInfo } from 'proxyless';
import { dns } from '../../src/discovery/dns/index.js';
import { file } from '../../src/discovery/file-source.js';
import { closeAll, startBackends, type Backend } from '../helpers/backends.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dns/dnsmasq.js';
import { requireBinaries } from '../helpers/system-binaries.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full collection (twice: weak maps and finalizers need a second pass). */
function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Runs `work` over `items` with `concurrency` at once. */
async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

function nextEvent<K extends 'configApplied' | 'configError'>(mesh: Mesh, ...events: K[]): Promise<{ event: K; args: unknown[] }> {
  return new Promise((resolve) => {
    const handlers = events.map((event) => {
      const handler = (...args: unknown[]): void => {
        for (const [e, h] of handlers) mesh.off(e, h as never);
        resolve({ event, args });
      };
      mesh.on(event, handler as never);
      return [event, handler] as const;
    });
  });
}

/** A discovery source the test drives by hand: it answers when told, with anything at all. */
class HandSource extends EventEmitter implements DiscoverySource {
  readonly name = 'hostile';
  readonly watchers = new Map<string, DiscoveryListener>();
  watch(service: ServiceQuery, listener: DiscoveryListener) {
    this.watchers.set(service.fqdn, listener);
    return { close: () => void this.watchers.delete(service.fqdn) };
  }
  ready(): Promise<void> {
    return Promise.resolve();
  }
  state(): DiscoverySourceState {
    return { name: this.name, ready: true, lastRefresh: undefined, lastError: undefined, services: this.watchers.size, endpoints: 0 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('hostile discovery input', () => {
  let backends: Backend[];
  let dir: string;
  beforeAll(async () => {
    backends = await startBackends(2, 'h');
    dir = await mkdtemp(join(tmpdir(), 'proxyless-hostile-'));
  });
  afterAll(async () => {
    await closeAll(backends);
    await rm(dir, { recursive: true, force: true });
  });

  it('a thousand hosts and more under a wildcard ServiceEntry: the service table stays bounded and memory stays flat', async () => {
    const [b0] = backends as [Backend];
    const maxServices = 50;
    const mesh = createMesh({
      maxServices,
      config: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'ServiceEntry',
          metadata: { name: 'wild' },
          spec: { hosts: ['*.wild.test'], ports: [{ number: b0.port, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address: '127.0.0.1' }] },
        },
      ],
    });
    const evictions: ServicesEvictedInfo[] = [];
    mesh.on('servicesEvicted', (info) => evictions.push(info));
    const statuses = new Map<number, number>();
    const send = async (i: number): Promise<void> => {
      const res = await request(`http://h${i}.wild.test:${b0.port}/`, { dispatcher: mesh.dispatcher });
      await res.body.dump();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    };
    const hosts = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
    // Warm-up: the table fills and the first evictions run (one-time allocations happen here).
    // Each host costs a service, a pool and a connection: 1,200 of them take about 15 s on a
    // loaded 2-core machine, hence the test's own timeout below.
    const start = heapAfterGc();
    await pool(hosts(0, 200), 8, send);
    const warm = heapAfterGc();
    await pool(hosts(200, 1200), 8, send);
    const end = heapAfterGc();

    expect(statuses).toEqual(new Map([[200, 1200]]));
    const stats = mesh.serviceStats();
    expect(stats).toMatchObject({ maxServices, busy: 0 });
    expect(stats.services).toBeLessThanOrEqual(maxServices);
    expect(mesh.services()).toHaveLength(stats.services);
    expect(stats.evicted).toBe(1200 - stats.services);
    expect(evictions.reduce((n, e) => n + e.services.length, 0)).toBe(stats.evicted);
    expect(evictions.every((e) => e.maxServices === maxServices && e.remaining < maxServices)).toBe(true);
    // 1,000 more hosts cost less than the first 200 did (before eviction covered every
    // source, each host kept a service and a pool: about 6 KB each, plus its connection).
    console.log(`heap: +${((warm - start) / 1e6).toFixed(1)} MB for the first 200 hosts, +${((end - warm) / 1e6).toFixed(1)} MB for the next 1,000`);
    expect(end - warm).toBeLessThan(Math.max(warm - start, 2e6));
    await mesh.close();
  }, 60_000);

  it('a malformed update of any shape is reported as the source\'s error, never thrown back, and the last good set stays', async () => {
    const [b0] = backends as [Backend];
    const source = new HandSource();
    const mesh = createMesh({ discovery: [source] });
    const errors: Array<[Error, string]> = [];
    mesh.on('discoveryError', (error, name) => errors.push([error, name]));
    const first = request('http://reviews/', { dispatcher: mesh.dispatcher });
    const fqdn = 'reviews.default.svc.cluster.local';
    await expect.poll(() => source.watchers.has(fqdn)).toBe(true);
    const send = source.watchers.get(fqdn)!;
    send({ type: 'reset', endpoints: [{ address: '127.0.0.1', port: b0.port, weight: 1, labels: {} }] });
    expect((await first).statusCode).toBe(200);

    const endpoint = (over: Record<string, unknown>) => ({ address: '127.0.0.1', port: 80, weight: 1, labels: {}, ...over });
    // What any update must get right: an endpoint object with a usable address and port.
    const badIdentity = fc.oneof(
      fc.constantFrom(null, undefined, 5, 'x', [], true),
      fc.record({ address: fc.oneof(fc.integer(), fc.constant(''), fc.constant(null), fc.constant('a b')) }).map(endpoint),
      fc.record({ port: fc.oneof(fc.integer({ min: 65536 }), fc.integer({ max: 0 }), fc.double({ noInteger: true }), fc.string()) }).map(endpoint),
    );
    // What only reset and add read (a removal needs the identity alone).
    const badEndpoint = fc.oneof(
      badIdentity,
      fc.record({ weight: fc.oneof(fc.integer({ max: 0 }), fc.constant(null), fc.string()) }).map(endpoint),
      fc.record({ labels: fc.oneof(fc.constant(null), fc.integer(), fc.dictionary(fc.string(), fc.integer(), { minKeys: 1 })) }).map(endpoint),
    );
    const validType = (v: unknown) => typeof v === 'object' && v !== null && ['reset', 'add', 'remove', 'missing'].includes((v as { type?: unknown }).type as string);
    const malformed = fc.oneof(
      fc.anything().filter((v) => !validType(v)),
      fc.record({ type: fc.constantFrom('reset', 'add', 'remove'), endpoints: fc.anything().filter((v) => !Array.isArray(v)) }),
      fc.record({ type: fc.constantFrom('reset', 'add'), endpoints: fc.array(badEndpoint, { minLength: 1, maxLength: 3 }) }),
      fc.record({ type: fc.constant('remove'), endpoints: fc.array(badIdentity, { minLength: 1, maxLength: 3 }) }),
      fc.constant(
        Object.defineProperty({}, 'type', {
          get() {
            throw new Error('a getter that throws');
          },
        }),
      ),
    );
    let runs = 0;
    fc.assert(
      fc.property(malformed, (update) => {
        runs++;
        expect(() => send(update as never)).not.toThrow();
        const [service] = mesh.services();
        expect(service!.endpoints.map((e) => e.key)).toEqual([b0.address]);
      }),
      { numRuns: 300 },
    );
    expect(errors).toHaveLength(runs);
    for (const [error, name] of errors) {
      expect(name).toBe('hostile');
      expect(error).toBeInstanceOf(DiscoverySourceError);
      expect(error.message).toMatch(/^discovery source hostile, service reviews\.default\.svc\.cluster\.local:80: malformed update: .+; keeping its last good set \(1 endpoints\)$/);
    }
    const res = await request('http://reviews/', { dispatcher: mesh.dispatcher });
    expect(await res.body.text()).toBe(b0.id);
    await mesh.close();
  });

  it('a source whose watch() throws fails the request at once, is reported, and leaks no watch on the other sources', async () => {
    let open = 0;
    const registry = staticEndpoints({ reviews: [backends[0]!.address] });
    // Wraps a real source to count its open watches.
    const counted: DiscoverySource = Object.assign(new EventEmitter(), {
      name: 'counted',
      watch: (query: ServiceQuery, listener: DiscoveryListener) => {
        const watch = registry.watch(query, listener);
        open++;
        return { close: () => (open--, watch.close()) };
      },
      ready: () => registry.ready(),
      state: () => registry.state(),
      close: () => registry.close(),
    });
    const broken: DiscoverySource = Object.assign(new EventEmitter(), {
      name: 'broken',
      watch: (): never => {
        throw new TypeError("Cannot read properties of undefined (reading 'names')");
      },
      ready: () => Promise.resolve(),
      state: () => ({ name: 'broken', ready: true, lastRefresh: undefined, lastError: undefined, services: 0, endpoints: 0 }),
      close: () => Promise.resolve(),
    });
    const mesh = createMesh({ discovery: [counted, broken] });
    const reported: Error[] = [];
    mesh.on('discoveryError', (error) => reported.push(error));
    for (let i = 0; i < 5; i++) {
      const failure = await request('http://reviews/', { dispatcher: mesh.dispatcher }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(DiscoverySourceError);
      expect((failure as DiscoverySourceError).code).toBe('PROXYLESS_ERR_DISCOVERY_SOURCE');
      expect((failure as Error).message).toBe(
        "discovery source broken, service reviews.default.svc.cluster.local:80: watch() threw: Cannot read properties of undefined (reading 'names'); " +
          'requests to this service fail until the source can watch it',
      );
      expect(open).toBe(0);
    }
    expect(reported).toHaveLength(5);
    await mesh.close();
  });

  it('a source shared by two meshes survives one closing; the last closes it; a closed source fails at once', async () => {
    const [b0] = backends as [Backend];
    const registry = staticEndpoints({ reviews: [b0.address], ratings: [b0.address] });
    let configClosed = 0;
    const config: ConfigSource = Object.assign(new EventEmitter(), {
      name: 'shared-config',
      watch: (listener: (resources: readonly unknown[]) => void) => (listener([]), { close: () => {} }),
      ready: () => Promise.resolve(),
      close: () => (configClosed++, Promise.resolve()),
    });
    // discoveryTimeout is short so the old behaviour (a discovery timeout) shows quickly.
    const blue = createMesh({ discovery: [registry], config: [config], discoveryTimeout: 1000 });
    const green = createMesh({ discovery: [registry], config: [config], discoveryTimeout: 1000 });
    expect((await request('http://reviews/', { dispatcher: blue.dispatcher })).statusCode).toBe(200);
    await blue.close();
    expect(configClosed).toBe(0);
    // A service green never asked for before: a new watch on the shared source.
    const res = await request('http://ratings/', { dispatcher: green.dispatcher });
    expect(await res.body.text()).toBe(b0.id);
    await green.close();
    expect(configClosed).toBe(1);
    expect(() => registry.watch({ host: 'x', fqdn: 'x', names: ['x'], port: 80 }, () => {})).toThrow(SourceClosedError);
    expect(() => createMesh({ discovery: [registry] })).toThrow(SourceClosedError);
    expect(() => createMesh({ discovery: [registry] })).toThrow(/source static is closed, so it cannot be used by a new mesh/);

    // A config source closed by hand (its watch() throws): createMesh fails at once and leaves no listener behind.
    const good: ConfigSource = Object.assign(new EventEmitter(), {
      name: 'good-config',
      watch: (listener: (resources: readonly unknown[]) => void) => (listener([]), { close: () => {} }),
      ready: () => Promise.resolve(),
      close: () => Promise.resolve(),
    });
    const closedByHand: ConfigSource = Object.assign(new EventEmitter(), {
      name: 'closed-config',
      watch: (): never => {
        throw new SourceClosedError('closed-config', 'watch its key');
      },
      ready: () => Promise.reject(new SourceClosedError('closed-config', 'become ready')),
      close: () => Promise.resolve(),
    });
    expect(() => createMesh({ discovery: [staticEndpoints({})], config: [good, closedByHand] })).toThrow(SourceClosedError);
    expect([(good as unknown as EventEmitter).listenerCount('error'), (closedByHand as unknown as EventEmitter).listenerCount('error')]).toEqual([0, 0]);

    // Held by the program, a source outlives meshes created one after another.
    const held = staticEndpoints({ reviews: [b0.address] });
    const release = holdSource(held);
    for (let i = 0; i < 2; i++) {
      const mesh = createMesh({ discovery: [held] });
      expect((await request('http://reviews/', { dispatcher: mesh.dispatcher })).statusCode).toBe(200);
      await mesh.close();
    }
    await release();
    await expect(held.ready()).resolves.toBeUndefined();
    expect(() => createMesh({ discovery: [held] })).toThrow(SourceClosedError);

    // Closed by hand while a mesh uses it: a request needing a new watch fails at once.
    const manual = staticEndpoints({ reviews: [b0.address], ratings: [b0.address] });
    const mesh = createMesh({ discovery: [manual], discoveryTimeout: 5000 });
    await manual.close();
    const failed = await request('http://ratings/', { dispatcher: mesh.dispatcher }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(SourceClosedError);
    await mesh.close();
  });

  it('mesh.ready() gives up after its timeout naming the silent source, and stops on a signal', { timeout: 10_000 }, async () => {
    const missing = file(join(dir, 'never', 'endpoints.yaml'));
    const mesh = createMesh({ discovery: [missing, staticEndpoints({})] });
    const error = await mesh.ready({ timeout: 50 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MeshNotReadyError);
    expect((error as MeshNotReadyError).pending).toEqual([`file(${join(dir, 'never', 'endpoints.yaml')})`]);
    const controller = new AbortController();
    const waiting = mesh.ready({ timeout: 60_000, signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
    await expect(mesh.ready({ timeout: -1 })).rejects.toThrow(/timeout: -1 \(expected: a whole number of milliseconds/);
    await mesh.close();
  });

  describe('a config file truncated, emptied, replaced by a directory, or deleted with its directory and recreated', () => {
    const subsets = (host: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
    - route: [{ destination: { host: ${host} } }]
`;
    let mesh: Mesh;
    let b0: Backend;
    let b1: Backend;
    const answer = async () => (await request('http://reviews/', { dispatcher: mesh.dispatcher })).body.text();

    it('keeps the last good config for an emptied or comment-only file, and says how to empty it on purpose', async () => {
      [b0, b1] = backends as [Backend, Backend];
      const path = join(dir, 'mesh.yaml');
      await writeFile(path, subsets('reviews-v2'));
      mesh = createMesh({ discovery: [staticEndpoints({ reviews: [b0.address], 'reviews-v2': [b1.address] })], config: path });
      expect(await answer()).toBe(b1.id);
      for (const text of ['', '# emptied by a deploy script\n', '---\n']) {
        const next = nextEvent(mesh, 'configApplied', 'configError');
        await writeFile(path, text);
        const { event, args } = await next;
        expect(event).toBe('configError');
        const error = args[0] as InvalidConfigError;
        expect(error).toBeInstanceOf(InvalidConfigError);
        expect(error.message).toContain(`${path}: is empty (no resources), where the config in force has 1.`);
        expect(error.message).toContain('apiVersion: v1, kind: List, items: []');
        expect(await answer()).toBe(b1.id);
      }
      // `{}` is a document, not the absence of one: an invalid resource, refused as such.
      const invalid = nextEvent(mesh, 'configApplied', 'configError');
      await writeFile(path, '{}\n');
      expect((await invalid).event).toBe('configError');
      expect(await answer()).toBe(b1.id);
      // The explicit empty list removes every resource.
      const applied = nextEvent(mesh, 'configApplied', 'configError');
      await writeFile(path, 'apiVersion: v1\nkind: List\nitems: []\n');
      expect((await applied).event).toBe('configApplied');
      expect(await answer()).toBe(b0.id);
      await mesh.close();
    });

    it('a file replaced by an empty directory keeps the last good config', async () => {
      const path = join(dir, 'replaced.yaml');
      await writeFile(path, subsets('reviews-v2'));
      mesh = createMesh({ discovery: [staticEndpoints({ reviews: [b0.address], 'reviews-v2': [b1.address] })], config: path });
      const next = nextEvent(mesh, 'configApplied', 'configError');
      await unlink(path);
      await mkdir(path);
      const { event, args } = await next;
      expect(event).toBe('configError');
      expect((args[0] as Error).message).toContain(`${path}: was a file, is now a directory`);
      expect(await answer()).toBe(b1.id);
      await mesh.close();
    });

    it('a config directory removed and created again is watched again: later edits apply', async () => {
      const sub = join(dir, 'conf.d');
      await mkdir(sub);
      await writeFile(join(sub, 'mesh.yaml'), subsets('reviews-v2'));
      mesh = createMesh({ discovery: [staticEndpoints({ reviews: [b0.address], 'reviews-v2': [b1.address] })], config: join(sub, 'mesh.yaml') });
      expect(await answer()).toBe(b1.id);
      await rm(sub, { recursive: true });
      await mkdir(sub);
      const applied = nextEvent(mesh, 'configApplied');
      await writeFile(join(sub, 'mesh.yaml'), subsets('reviews'));
      await applied;
      expect(await answer()).toBe(b0.id);
      // And the edits after that too.
      const again = nextEvent(mesh, 'configApplied');
      await writeFile(join(sub, 'mesh.yaml'), subsets('reviews-v2'));
      await again;
      expect(await answer()).toBe(b1.id);
      await mesh.close();
    });
  });
});

const needsDnsmasq = requireBinaries([{ bin: 'dnsmasq', pkg: 'dnsmasq-base' }]);

describe.skipIf(needsDnsmasq.skip)(`hostile hosts through DNS with ALLOW_ANY${needsDnsmasq.note}`, () => {
  let dnsmasq: Dnsmasq;
  let backend: Backend;
  beforeAll(async () => {
    [backend] = (await startBackends(1, 'd')) as [Backend];
    // A real DNS server answering every name under the domain: an open set of hosts.
    dnsmasq = await startDnsmasq({ wildcards: [['anyhost.test', '127.0.0.1']], localDomains: ['test'] });
  });
  afterAll(async () => {
    await backend.close();
    await dnsmasq.stop();
  });

  it('evicted services stop their DNS refreshes: names resolved stay bounded by maxServices', async () => {
    const source = dns({ servers: [dnsmasq.address], family: 4 });
    const maxServices = 20;
    const mesh = createMesh({ discovery: [source], maxServices });
    const names = Array.from({ length: 200 }, (_, i) => `n${i}.anyhost.test`);
    let most = 0;
    await pool(names, 4, async (name) => {
      const res = await request(`http://${name}:${backend.port}/`, { dispatcher: mesh.dispatcher });
      expect(await res.body.text()).toBe(backend.id);
      most = Math.max(most, source.state().names);
    });
    // Each name refreshes (TTL 1 s) until its service is evicted and its watch closed.
    expect(most).toBeLessThanOrEqual(maxServices + 4);
    expect(source.state().names).toBeLessThanOrEqual(maxServices);
    expect(mesh.serviceStats().evicted).toBe(200 - mesh.serviceStats().services);
    await mesh.close();
  });
});
