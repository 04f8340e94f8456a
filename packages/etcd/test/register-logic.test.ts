import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from 'proxyless';
import { EtcdLeaseLostError, EtcdUnavailableError, register, type Registration } from '../src/index.js';
import { FakeEtcd } from './helpers/fake-etcd.js';

describe('register (decision logic, fake etcd, fake timers)', () => {
  let etcd: FakeEtcd;
  let registration: Registration | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(1);
    etcd = new FakeEtcd();
  });
  afterEach(async () => {
    await registration?.close();
    registration = undefined;
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  const make = (extra: Partial<Parameters<typeof register>[0]> = {}) =>
    (registration = register({
      client: etcd.client,
      service: 'Reviews',
      endpoint: { address: '10.0.0.5', port: 9080, labels: { version: 'v2' } },
      ...extra,
    }));

  it('puts <prefix>/<service>/<address:port> under a lease of the TTL, and says so', async () => {
    const r = make({ ttl: 7 });
    const registered = vi.fn();
    r.on('registered', registered);
    await r.ready();
    expect(r.key).toBe('/services/reviews/10.0.0.5:9080');
    expect(r.registered).toBe(true);
    expect(registered).toHaveBeenCalledTimes(1);
    expect(etcd.leases.map((l) => l.ttl)).toEqual([7]);
    expect(JSON.parse(etcd.store.get(r.key)!.value.toString())).toEqual({
      address: '10.0.0.5',
      port: 9080,
      weight: 1,
      labels: { version: 'v2' },
    });
    expect(etcd.store.get(r.key)!.lease).toBe(etcd.leases[0]!.id);
  });

  it('retries with backoff while etcd cannot be reached; ready() resolves once registered', async () => {
    etcd.failGrants = 3;
    const r = make();
    const errors: Error[] = [];
    r.on('error', (e) => errors.push(e));
    let ready = false;
    void r.ready().then(() => (ready = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(EtcdUnavailableError);
    expect(errors[0]!.message).toBe(
      'registration /services/reviews/10.0.0.5:9080: could not register with etcd (the given etcd3 client): ' +
        '14 UNAVAILABLE: No connection established; trying again in 200 ms',
    );
    await vi.advanceTimersByTimeAsync(200);
    expect(errors.at(-1)!.message).toMatch(/trying again in 400 ms$/);
    await vi.advanceTimersByTimeAsync(400 + 800);
    expect(ready).toBe(true);
    expect(errors).toHaveLength(3);
    expect(etcd.leases).toHaveLength(4);
    expect(etcd.leases.slice(0, 3).every((l) => l.revoked)).toBe(true); // failed leases are not left behind
  });

  it('a lost lease is reported and the key is put again under a new lease', async () => {
    const r = make();
    const errors: Error[] = [];
    r.on('error', (e) => errors.push(e));
    await r.ready();
    etcd.leases[0]!.expire();
    expect(etcd.store.has(r.key)).toBe(false);
    expect(r.registered).toBe(false);
    expect(errors[0]).toBeInstanceOf(EtcdLeaseLostError);
    expect(errors[0]!.message).toBe(
      'registration /services/reviews/10.0.0.5:9080: lost its etcd lease (etcdserver: requested lease not found); ' +
        'registering again under a new lease as soon as etcd answers',
    );
    await vi.advanceTimersByTimeAsync(200);
    expect(r.registered).toBe(true);
    expect(etcd.store.get(r.key)!.lease).toBe(etcd.leases[1]!.id);
  });

  it('update() rewrites the value under the same key; while unregistered it waits for the next registration', async () => {
    const r = make();
    await r.ready();
    await r.update({ address: '10.0.0.5', port: 9080, weight: 4 });
    expect(JSON.parse(etcd.store.get(r.key)!.value.toString())).toMatchObject({ weight: 4, labels: {} });
    etcd.leases[0]!.expire();
    let done = false;
    void r.update({ address: '10.0.0.5', port: 9080, weight: 6 }).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(done).toBe(true);
    expect(JSON.parse(etcd.store.get(r.key)!.value.toString())).toMatchObject({ weight: 6 });
    expect(() => r.update({ address: '10.0.0.5', port: 0 })).toThrow(
      new InvalidOptionError('Registration.update', ['endpoint.port: 0 (expected: an integer from 1 to 65535)']),
    );
  });

  it('close() revokes the lease (removing the key), stops retrying, and is idempotent', async () => {
    const r = make();
    await r.ready();
    await Promise.all([r.close(), r.close()]);
    expect(etcd.store.has(r.key)).toBe(false);
    expect(etcd.leases[0]!.revoked).toBe(true);
    expect(etcd.closed).toBe(false); // a client passed in stays open
    // close() while still trying: no further attempts.
    etcd.failGrants = 100;
    const r2 = make({ instanceId: 'second' });
    await vi.advanceTimersByTimeAsync(0);
    await r2.close();
    const attempts = etcd.leases.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(etcd.leases.length).toBe(attempts);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('SIGTERM with a server (the installed handler, called directly): deregister, then close the server', async () => {
    const order: string[] = [];
    const server = {
      close: () => {
        order.push(`server.close (key in etcd: ${etcd.store.has('/services/reviews/10.0.0.5:9080')})`);
      },
    };
    const before = process.listeners('SIGTERM');
    const r = make({ server, drainDelay: 500 });
    await r.ready();
    const added = process.listeners('SIGTERM').filter((l) => !before.includes(l));
    expect(added).toHaveLength(1);
    // Calling the installed listener is what the signal does; sending a real SIGTERM to
    // the test worker would reach the test runner's own handlers too (the real signal is
    // covered in etcd-cluster.test.ts with a child process).
    (added[0] as () => void)();
    await vi.advanceTimersByTimeAsync(0);
    expect(etcd.store.has(r.key)).toBe(false);
    expect(order).toEqual([]); // the drain delay runs between the two
    await vi.advanceTimersByTimeAsync(500);
    expect(order).toEqual(['server.close (key in etcd: false)']);
    expect(process.listeners('SIGTERM')).toEqual(before);
  });

  it('close() removes the SIGTERM listener it installed', async () => {
    const before = process.listenerCount('SIGTERM');
    const r = make({ server: { close: () => undefined } });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    await r.close();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('errors without an error listener are kept, never thrown', async () => {
    etcd.failGrants = 1;
    const r = make();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.lastError).toBeInstanceOf(EtcdUnavailableError);
    await vi.advanceTimersByTimeAsync(200);
    expect(r.registered).toBe(true);
  });
});
