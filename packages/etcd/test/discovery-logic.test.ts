import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DiscoveryUpdate, ServiceQuery } from 'proxyless';
import { EtcdDiscoverySource, etcdDiscovery, EtcdUnavailableError, EtcdValueError } from '../src/index.js';
import { FakeEtcd } from './helpers/fake-etcd.js';

const query = (service: string): ServiceQuery => ({ host: service, fqdn: `${service}.default.svc.cluster.local`, names: [service], port: 80 });
const value = (port: number, extra: object = {}) => JSON.stringify({ address: '127.0.0.1', port, ...extra });

function watchAll(source: EtcdDiscoverySource, service: string) {
  const updates: DiscoveryUpdate[] = [];
  const watch = source.watch(query(service), (u) => updates.push(u));
  const ports = () => {
    const last = updates.at(-1);
    return last?.type === 'reset' ? last.endpoints.map((e) => e.port) : last?.type;
  };
  return { updates, watch, ports };
}

describe('etcdDiscovery (decision logic, fake etcd)', () => {
  let etcd: FakeEtcd;
  let source: EtcdDiscoverySource;
  let errors: Error[];
  beforeEach(() => {
    vi.useFakeTimers();
    etcd = new FakeEtcd();
    errors = [];
  });
  afterEach(async () => {
    await source?.close();
    vi.useRealTimers();
  });
  const start = async (prefix = '/services') => {
    source = etcdDiscovery({ client: etcd.client, prefix });
    source.on('error', (e) => errors.push(e));
    await vi.advanceTimersByTimeAsync(0);
    return source;
  };

  it('holds watches until the first read, then answers per service; names are case-insensitive', async () => {
    etcd.put('/services/Reviews/a', value(9080, { weight: 2, labels: { version: 'v2' } }));
    etcd.put('/services/reviews/b', value(9081));
    source = etcdDiscovery({ client: etcd.client });
    const reviews = watchAll(source, 'reviews');
    const ratings = watchAll(source, 'ratings');
    expect(reviews.updates).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    await source.ready();
    expect(source.name).toBe('etcd(/services)');
    expect(reviews.updates).toEqual([
      {
        type: 'reset',
        endpoints: [
          { address: '127.0.0.1', port: 9080, weight: 2, labels: { version: 'v2' } },
          { address: '127.0.0.1', port: 9081, weight: 1, labels: {} },
        ],
      },
    ]);
    expect(ratings.updates).toEqual([{ type: 'missing' }]);
    expect(source.state()).toMatchObject({ ready: true, services: 1, endpoints: 2 });
  });

  it('follows puts and deletes; a service whose last instance leaves stays known with no endpoints', async () => {
    await start();
    const reviews = watchAll(source, 'reviews');
    expect(reviews.ports()).toBe('missing');
    etcd.put('/services/reviews/a', value(9080));
    etcd.put('/services/reviews/b', value(9081));
    expect(reviews.ports()).toEqual([9080, 9081]);
    etcd.put('/services/reviews/a', value(9090));
    expect(reviews.ports()).toEqual([9090, 9081]); // ordered by key: a, b
    etcd.delete('/services/reviews/a');
    etcd.delete('/services/reviews/b');
    expect(reviews.ports()).toEqual([]);
    // A resync agrees: still known, still empty.
    etcd.live()[0]!.emit('disconnected', new Error('gone'));
    await vi.advanceTimersByTimeAsync(0);
    expect(reviews.ports()).toEqual([]);
    expect(source.state().services).toBe(1);
  });

  it('skips malformed keys and values, naming the key, once per value; the key keeps its last good value', async () => {
    etcd.put('/services/reviews/good', value(9080));
    etcd.put('/services/reviews/text', 'hello');
    etcd.put('/services/reviews', value(1));
    etcd.put('/services/reviews/', value(1));
    etcd.put('/services/re_views/x', value(1));
    etcd.put('/services/reviews/weight', value(9082, { weight: 0 }));
    etcd.put('/services/reviews/labels', value(9083, { labels: { version: 2 } }));
    etcd.put('/services/reviews/addr', JSON.stringify({ address: '127.0.0.1:80', port: 80 }));
    await start();
    const reviews = watchAll(source, 'reviews');
    expect(reviews.ports()).toEqual([9080]);
    expect(errors.every((e) => e instanceof EtcdValueError)).toBe(true);
    expect(Object.fromEntries(errors.map((e) => [(e as EtcdValueError).key, e.message.split(': ').slice(2).join(': ')]))).toEqual({
      '/services/reviews/text': expect.stringMatching(/^value "hello" is not JSON \(.*\); expected \{ "address"/),
      '/services/reviews': 'expected a key /services/<service>/<instance-id>',
      '/services/reviews/': 'expected a key /services/<service>/<instance-id>',
      '/services/re_views/x': '"re_views" is not a service name (expected a DNS-style name such as "reviews" or "reviews.bookinfo")',
      '/services/reviews/weight': 'weight: 0 (expected: an integer from 1 to 1000000)',
      '/services/reviews/labels': 'labels.version: 2 (expected: a string)',
      '/services/reviews/addr': 'address: "127.0.0.1:80" (expected: an IP address or host name, without a port)',
    });
    expect(errors[0]!.message).toMatch(/^etcd\(\/services\): skipped key \/services\/reviews\/text: /);

    // A resync reads the same bad values: not reported again.
    errors.length = 0;
    etcd.live()[0]!.emit('disconnected', new Error('gone'));
    await vi.advanceTimersByTimeAsync(0);
    expect(errors.filter((e) => e instanceof EtcdValueError)).toEqual([]);

    // A good key turned bad keeps its last good value, live and across a resync.
    errors.length = 0;
    etcd.put('/services/reviews/good', '{"address":"127.0.0.1"}');
    expect(errors.map((e) => (e as EtcdValueError).key)).toEqual(['/services/reviews/good']);
    expect(reviews.ports()).toEqual([9080]);
    etcd.live()[0]!.emit('disconnected', new Error('gone'));
    await vi.advanceTimersByTimeAsync(0);
    expect(reviews.ports()).toEqual([9080]);
    // Fixed: used again.
    etcd.put('/services/reviews/good', value(9099));
    expect(reviews.ports()).toEqual([9099]);
  });

  it('two keys for the same address:port give one endpoint, the more recently written', async () => {
    await start();
    const reviews = watchAll(source, 'reviews');
    etcd.put('/services/reviews/old-id', value(9080, { weight: 1 }));
    etcd.put('/services/reviews/new-id', value(9080, { weight: 5 }));
    const last = reviews.updates.at(-1);
    expect(last).toEqual({ type: 'reset', endpoints: [{ address: '127.0.0.1', port: 9080, weight: 5, labels: {} }] });
    etcd.delete('/services/reviews/new-id');
    expect(reviews.updates.at(-1)).toEqual({ type: 'reset', endpoints: [{ address: '127.0.0.1', port: 9080, weight: 1, labels: {} }] });
  });

  it('keeps the last known endpoints while etcd is unreachable, reports it, and catches up on a resync', async () => {
    etcd.put('/services/reviews/a', value(9080));
    await start();
    const reviews = watchAll(source, 'reviews');
    etcd.failReads = 3;
    etcd.live()[0]!.emit('disconnected', new Error('14 UNAVAILABLE: Connection dropped'));
    // Changes made while "down" reach nobody but etcd.
    etcd.store.delete('/services/reviews/a');
    etcd.put('/services/reviews/b', value(9081));
    await vi.advanceTimersByTimeAsync(0);
    expect(reviews.ports()).toEqual([9080]);
    expect(errors[0]).toBeInstanceOf(EtcdUnavailableError);
    expect(errors[0]!.message).toBe(
      'etcd(/services): lost the watch on /services/ from etcd (the given etcd3 client): 14 UNAVAILABLE: Connection dropped; ' +
        'keeping the last known endpoints (1 services, 1 endpoints); reading again in 0 ms',
    );
    expect(errors[1]!.message).toMatch(/^etcd\(\/services\): cannot read \/services\/ from etcd .*: 14 UNAVAILABLE: No connection established; keeping/);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(reviews.ports()).toEqual([9081]);
    expect(errors).toHaveLength(4);
  });

  it('ready() stays pending while the first read fails, and resolves once it succeeds', async () => {
    etcd.failReads = 2;
    await start();
    let ready = false;
    void source.ready().then(() => (ready = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(ready).toBe(false);
    expect(errors[0]!.message).toContain('its services wait for the first read');
    await vi.advanceTimersByTimeAsync(5000);
    expect(ready).toBe(true);
  });

  it('close() stops the watch and does not close a client passed in', async () => {
    await start();
    const reviews = watchAll(source, 'reviews');
    await source.close();
    expect(etcd.live()).toHaveLength(0);
    expect(etcd.closed).toBe(false);
    etcd.put('/services/reviews/a', value(9080));
    expect(reviews.updates).toEqual([{ type: 'missing' }]);
  });

  it('a prefix with a trailing slash, or "/", works the same', async () => {
    etcd.put('/reviews/a', value(9080));
    await start('/');
    expect(source.name).toBe('etcd(/)');
    expect(watchAll(source, 'reviews').ports()).toEqual([9080]);
    await source.close();
    etcd.put('/x/reviews/a', value(9081));
    await start('/x/');
    expect(source.prefix).toBe('/x');
    expect(watchAll(source, 'reviews').ports()).toEqual([9081]);
  });
});
