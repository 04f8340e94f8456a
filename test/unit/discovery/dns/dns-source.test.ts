import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DnsSource, type DnsSourceInternals } from '../../../../src/discovery/dns/dns-source.js';
import { DnsError, type DnsOptions } from '../../../../src/discovery/dns/index.js';
import { SourceClosedError } from '../../../../src/core/errors/index.js';
import { ServiceNamer } from '../../../../src/discovery/service-name.js';
import type { DiscoveryUpdate, ServiceQuery } from '../../../../src/discovery/types.js';
import { a, aaaa, FakeTransport, srv } from './fake-transport.js';

const namer = new ServiceNamer('bookinfo', 'cluster.local');
const FQDN = 'reviews.bookinfo.svc.cluster.local';
const query = (host: string, port = 9080): ServiceQuery => ({ ...namer.name(host), port });

/** A source over the fake transport, jitter pinned to the middle (refresh at 85 % of the TTL). */
function source(transport: FakeTransport, options: DnsOptions = {}, internals: Partial<DnsSourceInternals> = {}): DnsSource {
  return new DnsSource({ servers: ['127.0.0.1'], ...options }, { transport, random: () => 0.5, ...internals });
}

/** Collects a watch's updates. */
function watch(dns: DnsSource, q: ServiceQuery): { updates: DiscoveryUpdate[]; close(): void } {
  const updates: DiscoveryUpdate[] = [];
  const handle = dns.watch(q, (u) => updates.push(u));
  return { updates, close: () => handle.close() };
}

const settle = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};
const ep = (address: string, port: number, weight = 1) => ({ address, port, weight, labels: {} });

describe('dns source (fake transport, fake timers)', () => {
  let transport: FakeTransport;
  beforeEach(() => {
    vi.useFakeTimers();
    transport = new FakeTransport();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers a watch with the A records and the caller port; two watches share the queries', async () => {
    transport.set('A', FQDN, { records: [a(FQDN, '127.0.0.1'), a(FQDN, '127.0.0.2')] });
    transport.set('AAAA', FQDN, { rcode: 'NOERROR' });
    const dns = source(transport);
    const first = watch(dns, query('reviews', 9080));
    const second = watch(dns, query('reviews.bookinfo', 9443));
    expect(first.updates).toEqual([]);
    await settle();
    expect(first.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.1', 9080), ep('127.0.0.2', 9080)] }]);
    expect(second.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.1', 9443), ep('127.0.0.2', 9443)] }]);
    expect(transport.log).toEqual([`A ${FQDN}`, `AAAA ${FQDN}`]);
    // A third watch of a resolved name hears the answer at once, without a query.
    const third = watch(dns, query('reviews.bookinfo.svc.cluster.local', 80));
    expect(third.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.1', 80), ep('127.0.0.2', 80)] }]);
    expect(transport.log).toHaveLength(2);
    expect(dns.state()).toMatchObject({ name: 'dns(127.0.0.1)', ready: true, services: 3, endpoints: 6, names: 2, queries: 2, failures: 0 });
    await dns.close();
  });

  it('refreshes at 80-90 % of the clamped TTL and sends only what changed', async () => {
    transport.set('A', FQDN, { records: [a(FQDN, '127.0.0.1', 10)] });
    const dns = source(transport, { family: 4 });
    const w = watch(dns, query('reviews'));
    await settle();
    expect(transport.count('A', FQDN)).toBe(1);
    await vi.advanceTimersByTimeAsync(8499); // random 0.5: 85 % of 10 s
    expect(transport.count('A', FQDN)).toBe(1);
    transport.set('A', FQDN, { records: [a(FQDN, '127.0.0.1', 10), a(FQDN, '127.0.0.3', 10)] });
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.count('A', FQDN)).toBe(2);
    expect(w.updates.at(-1)).toEqual({ type: 'add', endpoints: [ep('127.0.0.3', 9080)] });
    transport.set('A', FQDN, { records: [a(FQDN, '127.0.0.3', 10)] });
    await vi.advanceTimersByTimeAsync(8500);
    expect(w.updates.at(-1)).toEqual({ type: 'remove', endpoints: [{ address: '127.0.0.1', port: 9080 }] });
    transport.set('A', FQDN, { records: [a(FQDN, '127.0.0.4', 10)] });
    await vi.advanceTimersByTimeAsync(8500);
    expect(w.updates.at(-1)).toEqual({ type: 'reset', endpoints: [ep('127.0.0.4', 9080)] });
    const count = w.updates.length;
    await vi.advanceTimersByTimeAsync(8500); // same answer again: no update
    expect(transport.count('A', FQDN)).toBe(5);
    expect(w.updates).toHaveLength(count);
    await dns.close();
  });

  it('clamps TTLs: 0 s refreshes after minTtl, a day after maxTtl', async () => {
    transport.set('A', 'zero.ns.test', { records: [a('zero.ns.test', '127.0.0.1', 0)] });
    transport.set('A', 'day.ns.test', { records: [a('day.ns.test', '127.0.0.1', 86_400)] });
    const dns = source(transport, { family: 4, minTtl: 2000, maxTtl: 60_000 });
    watch(dns, query('zero.ns.test'));
    watch(dns, query('day.ns.test'));
    await settle();
    await vi.advanceTimersByTimeAsync(1700);
    expect(transport.count('A', 'zero.ns.test')).toBe(2);
    await vi.advanceTimersByTimeAsync(51_000 - 1700 - 1);
    expect(transport.count('A', 'day.ns.test')).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.count('A', 'day.ns.test')).toBe(2);
    await dns.close();
  });

  it('serves the last answer while refreshes fail, then drops the endpoints after maxStale', async () => {
    transport.set('A', FQDN, { records: [a(FQDN, '127.0.0.1', 10)] });
    const dns = source(transport, { family: 4, maxStale: 20_000 });
    const errors: Error[] = [];
    dns.on('error', (e) => errors.push(e));
    const w = watch(dns, query('reviews'));
    await settle();
    expect(w.updates).toHaveLength(1);
    transport.set('A', FQDN, { fail: 'SERVFAIL' });
    await vi.advanceTimersByTimeAsync(8500); // the refresh fails
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(DnsError);
    expect(errors[0]!.message).toContain(`dns(127.0.0.1): A ${FQDN}: SERVFAIL (127.0.0.1:53)`);
    expect((errors[0] as DnsError).reason).toBe('SERVFAIL');
    expect(dns.state().lastError).toBe(errors[0]);
    await vi.advanceTimersByTimeAsync(1500); // 10 s: past the TTL, served stale
    expect(dns.state().stale).toBe(1);
    expect(w.updates).toHaveLength(1);
    // Retries back off (1 s, 2 s, 4 s, ... × 0.75) and end at the close of the stale window: 10 s + 20 s.
    await vi.advanceTimersByTimeAsync(29_999 - 10_000);
    expect(w.updates).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(w.updates.at(-1)).toEqual({ type: 'reset', endpoints: [] });
    expect(dns.state()).toMatchObject({ services: 1, endpoints: 0, stale: 0 });
    // DNS answers again: the endpoints come back.
    transport.set('A', FQDN, { records: [a(FQDN, '127.0.0.2', 10)] });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(w.updates.at(-1)).toEqual({ type: 'add', endpoints: [ep('127.0.0.2', 9080)] });
    await dns.close();
  });

  it('NXDOMAIN for every name is "missing", cached per the SOA, and a name that appears is found', async () => {
    transport.set('A', FQDN, { rcode: 'NXDOMAIN', soa: { ttl: 60, minimum: 5 } });
    transport.set('A', 'reviews', { rcode: 'NXDOMAIN', soa: { ttl: 60, minimum: 5 } });
    const dns = source(transport, { family: 4 });
    const w = watch(dns, query('reviews'));
    await settle();
    expect(transport.log).toEqual([`A ${FQDN}`, 'A reviews']);
    expect(w.updates).toEqual([{ type: 'missing' }]);
    await vi.advanceTimersByTimeAsync(4249);
    expect(transport.count('A', FQDN)).toBe(1);
    transport.set('A', FQDN, { records: [a(FQDN, '127.0.0.1', 30)] });
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.count('A', FQDN)).toBe(2);
    expect(w.updates.at(-1)).toEqual({ type: 'reset', endpoints: [ep('127.0.0.1', 9080)] });
    // The host as written is no longer needed: its refreshes stop.
    expect(dns.state().names).toBe(1);
    await dns.close();
  });

  it('asks the host as written when the FQDN is NXDOMAIN', async () => {
    transport.set('A', 'reviews', { records: [a('reviews', '127.0.0.9')] });
    const dns = source(transport, { family: 4 });
    const w = watch(dns, query('reviews'));
    await settle();
    await settle();
    expect(transport.log).toEqual([`A ${FQDN}`, 'A reviews']);
    expect(w.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.9', 9080)] }]);
    await dns.close();
  });

  it('a name without addresses (NODATA) is known with no endpoints; A and AAAA are merged', async () => {
    transport.set('A', 'empty.ns.test', { rcode: 'NOERROR', soa: { ttl: 5, minimum: 5 } });
    transport.set('AAAA', 'empty.ns.test', { rcode: 'NOERROR', soa: { ttl: 5, minimum: 5 } });
    transport.set('A', 'dual.ns.test', { records: [a('dual.ns.test', '127.0.0.1')] });
    transport.set('AAAA', 'dual.ns.test', { records: [aaaa('dual.ns.test', '::1')] });
    const dns = source(transport);
    const empty = watch(dns, query('empty.ns.test'));
    const dual = watch(dns, query('dual.ns.test', 80));
    await settle();
    expect(empty.updates).toEqual([{ type: 'reset', endpoints: [] }]);
    expect(dual.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.1', 80), ep('::1', 80)] }]);
    await dns.close();
  });

  it('answers with the A records while AAAA is slow; the AAAA addresses join with an add', async () => {
    transport.set('A', 'dual.ns.test', { records: [a('dual.ns.test', '127.0.0.1')] });
    transport.set('AAAA', 'dual.ns.test', { records: [aaaa('dual.ns.test', '::1')] });
    transport.hold = new Set(['AAAA dual.ns.test']);
    const dns = source(transport);
    const w = watch(dns, query('dual.ns.test', 80));
    await settle();
    expect(w.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.1', 80)] }]);
    transport.release();
    await settle();
    expect(w.updates.at(-1)).toEqual({ type: 'add', endpoints: [ep('::1', 80)] });
    await dns.close();
  });

  it('a listener that throws is reported as an error; the other watchers are still served', async () => {
    transport.set('A', 'x.ns.test', { records: [a('x.ns.test', '127.0.0.1')] });
    const dns = source(transport, { family: 4 });
    const errors: Error[] = [];
    dns.on('error', (e) => errors.push(e));
    dns.watch(query('x.ns.test'), () => {
      throw new Error('boom');
    });
    const healthy = watch(dns, query('x.ns.test', 81));
    await settle();
    expect(healthy.updates).toHaveLength(1);
    expect(errors.map((e) => e.message)).toEqual(['dns(127.0.0.1): a discovery listener threw: Error: boom']);
    await dns.close();
  });

  it('follows an alias the server left unresolved, the shortest TTL on the chain deciding the refresh', async () => {
    transport.set('A', 'www.ns.test', { records: [{ type: 'CNAME', name: 'www.ns.test', ttl: 4, data: 'edge.example.net' }] });
    transport.set('A', 'edge.example.net', { records: [a('edge.example.net', '127.0.0.7', 60)] });
    const dns = source(transport, { family: 4 });
    const w = watch(dns, query('www.ns.test'));
    await settle();
    expect(w.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.7', 9080)] }]);
    expect(transport.log).toEqual(['A www.ns.test', 'A edge.example.net']);
    await vi.advanceTimersByTimeAsync(3400); // 85 % of 4 s
    expect(transport.count('A', 'www.ns.test')).toBe(2);
    await dns.close();
  });

  it('a CNAME loop is an error, not a hang', async () => {
    transport.set('A', 'loop.ns.test', { records: [{ type: 'CNAME', name: 'loop.ns.test', ttl: 30, data: 'pool.ns.test' }] });
    transport.set('A', 'pool.ns.test', { records: [{ type: 'CNAME', name: 'pool.ns.test', ttl: 30, data: 'loop.ns.test' }] });
    const dns = source(transport, { family: 4 });
    const errors: DnsError[] = [];
    dns.on('error', (e) => errors.push(e as DnsError));
    const w = watch(dns, query('loop.ns.test'));
    await settle();
    expect(w.updates).toEqual([]);
    expect(errors[0]!.reason).toBe('cname-loop');
    expect(errors[0]!.message).toBe('dns(127.0.0.1): A loop.ns.test: CNAME chain longer than 8 names.');
    await dns.close();
  });

  it('an IP address is not a DNS name: missing at once, no query', async () => {
    const dns = source(transport);
    const w = watch(dns, query('10.0.0.1'));
    expect(w.updates).toEqual([{ type: 'missing' }]);
    await settle();
    expect(transport.log).toEqual([]);
    await dns.close();
  });

  it('a first resolution that fails reports errors, waits (no update), retries with backoff and then answers', async () => {
    transport.set('A', 'flaky.ns.test', { fail: 'timeout' });
    const dns = source(transport, { family: 4 });
    const errors: DnsError[] = [];
    dns.on('error', (e) => errors.push(e as DnsError));
    const w = watch(dns, query('flaky.ns.test'));
    let ready = false;
    void dns.ready().then(() => (ready = true));
    await settle();
    expect(w.updates).toEqual([]);
    expect(errors.map((e) => e.reason)).toEqual(['timeout']);
    expect(errors[0]!.message).toMatch(/A flaky\.ns\.test: no reply within 1000 ms \(127\.0\.0\.1:53\)/);
    expect(dns.state().ready).toBe(false);
    await vi.advanceTimersByTimeAsync(749); // retry 1: 1 s × 0.75
    expect(transport.count('A', 'flaky.ns.test')).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.count('A', 'flaky.ns.test')).toBe(2);
    transport.set('A', 'flaky.ns.test', { records: [a('flaky.ns.test', '127.0.0.1')] });
    await vi.advanceTimersByTimeAsync(1500); // retry 2: 2 s × 0.75
    expect(w.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.1', 9080)] }]);
    expect(ready).toBe(true);
    expect(dns.state()).toMatchObject({ ready: true, queries: 3, failures: 2 });
    await dns.close();
  });

  it('ready() resolves at once with no watch, and after every watch has its first answer', async () => {
    const dns = source(transport, { family: 4 });
    await dns.ready();
    transport.hold = true;
    transport.set('A', 'x.ns.test', { records: [a('x.ns.test', '127.0.0.1')] });
    watch(dns, query('x.ns.test'));
    let ready = false;
    void dns.ready().then(() => (ready = true));
    await settle();
    expect(ready).toBe(false);
    transport.release();
    await settle();
    expect(ready).toBe(true);
    await dns.close();
  });

  it('SRV: ports and weights from the records, targets from the additional section or resolved', async () => {
    const name = `_http._tcp.${FQDN}`;
    transport.set('SRV', name, {
      records: [srv(name, 'a.test', 8001, 10, 60), srv(name, 'b.test', 8002, 10, 0), srv(name, 'c.test', 8003, 20, 100)],
      additionals: [a('a.test', '127.0.0.1')],
    });
    transport.set('A', 'b.test', { records: [a('b.test', '127.0.0.2')] });
    const dns = source(transport, { family: 4, srv: true });
    const w = watch(dns, query('reviews', 80));
    await settle();
    await settle();
    expect(w.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.1', 8001, 60), ep('127.0.0.2', 8002, 1)] }]);
    // a.test came with the answer and was not asked; c.test, the backup tier, is asked
    // (it would be served as tier 1 by health; here it resolves to nothing).
    expect(transport.log.sort()).toEqual([`SRV ${name}`, 'A b.test', 'A c.test'].sort());
    await dns.close();
  });

  it('SRV: a higher tier serves when the lowest has no address; no SRV falls back to A with the URL port', async () => {
    const name = `_http._tcp.${FQDN}`;
    transport.set('SRV', name, { records: [srv(name, 'gone.test', 8001, 1, 5), srv(name, 'backup.test', 9000, 2, 5)] });
    transport.set('A', 'backup.test', { records: [a('backup.test', '127.0.0.5')] });
    transport.set('A', 'plain.ns.test', { records: [a('plain.ns.test', '127.0.0.6')] });
    const dns = source(transport, { family: 4, srv: true });
    const tiered = watch(dns, query('reviews'));
    const plain = watch(dns, query('plain.ns.test', 8080));
    for (let i = 0; i < 4; i++) await settle();
    expect(tiered.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.5', 9000, 5)] }]);
    expect(plain.updates).toEqual([{ type: 'reset', endpoints: [ep('127.0.0.6', 8080)] }]);
    expect(transport.log).toContain('SRV _http._tcp.plain.ns.test');
    await dns.close();
  });

  it('closing the last watch of a name stops its refreshes; close() leaves no timer', async () => {
    transport.set('A', 'x.ns.test', { records: [a('x.ns.test', '127.0.0.1')] });
    transport.set('A', 'y.ns.test', { records: [a('y.ns.test', '127.0.0.1')] });
    const dns = source(transport, { family: 4 });
    const x = watch(dns, query('x.ns.test'));
    watch(dns, query('y.ns.test'));
    await settle();
    expect(dns.state().names).toBe(2);
    x.close();
    expect(dns.state().names).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.count('A', 'x.ns.test')).toBe(1);
    expect(transport.count('A', 'y.ns.test')).toBeGreaterThan(1);
    await dns.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(transport.closed).toBe(true);
    const before = transport.log.length;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(transport.log).toHaveLength(before);
    // Watching after close fails at once, saying so (a request would otherwise wait for a discovery timeout).
    expect(() => watch(dns, query('x.ns.test'))).toThrow(SourceClosedError);
    await expect(dns.ready()).rejects.toThrow(/source dns\(127\.0\.0\.1\) is closed, so it cannot become ready/);
  });

  it('a reply that arrives after close is dropped silently', async () => {
    transport.hold = true;
    transport.set('A', 'x.ns.test', { records: [a('x.ns.test', '127.0.0.1')] });
    const dns = source(transport, { family: 4 });
    const w = watch(dns, query('x.ns.test'));
    await settle();
    await dns.close();
    transport.release();
    await settle();
    expect(w.updates).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
