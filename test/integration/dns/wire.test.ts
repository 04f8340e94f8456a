import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dns, DnsError, type DnsOptions, type DnsSource } from '../../../src/discovery/dns/index.js';
import type { DiscoveryUpdate, ServiceQuery } from '../../../src/discovery/types.js';
import { FakeDnsServer } from '../../helpers/dns/fake-dns-server.js';
import { Progress } from '../../helpers/wait.js';

/**
 * The DNS source against our own dns-packet server on 127.0.0.1, for what real servers
 * do not do on demand: truncation, SERVFAIL/REFUSED, silence, malformed packets,
 * replies with a wrong id or from another port. Real sockets, real (short) timers.
 */

const q = (name: string, port = 8080): ServiceQuery => ({ host: name, fqdn: name, names: [name], port });
const ep = (address: string, port: number, weight = 1) => ({ address, port, weight, labels: {} });

interface Watched {
  readonly updates: DiscoveryUpdate[];
  readonly errors: DnsError[];
  /** Resolves with the first update that satisfies `test` (checked on each new one). */
  next(test?: (u: DiscoveryUpdate) => boolean, timeoutMs?: number): Promise<DiscoveryUpdate>;
  /** Resolves once `check` holds, checked again on each update and error. */
  until(what: string, check: () => boolean): Promise<void>;
}

function watch(source: DnsSource, query: ServiceQuery): Watched {
  const updates: DiscoveryUpdate[] = [];
  const errors: DnsError[] = [];
  const waiters: Array<() => void> = [];
  const changed = new Progress();
  source.on('error', (e) => {
    errors.push(e as DnsError);
    changed.notify();
  });
  source.watch(query, (u) => {
    updates.push(u);
    for (const w of waiters.splice(0)) w();
    changed.notify();
  });
  let seen = 0;
  return {
    updates,
    errors,
    next(test = () => true, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching update within ${timeoutMs} ms; got ${JSON.stringify(updates)}`)), timeoutMs);
        const check = (): void => {
          while (seen < updates.length) {
            const u = updates[seen++]!;
            if (test(u)) {
              clearTimeout(timer);
              return resolve(u);
            }
          }
          waiters.push(check);
        };
        check();
      });
    },
    until: (what, check) => changed.until(what, check),
  };
}

describe('dns source on the wire (our fake server)', () => {
  let server: FakeDnsServer;
  let other: FakeDnsServer;
  const sources: DnsSource[] = [];
  // A query timeout that a loaded machine never reaches while a server answers (timers run
  // before the I/O that waited behind a stall, so a short one also fails answered queries);
  // the tests where the timeout is what happens set a short one.
  const open = (options: DnsOptions): DnsSource => {
    const source = dns({ family: 4, timeout: 5_000, attempts: 1, minTtl: 200, ...options });
    sources.push(source);
    return source;
  };

  beforeAll(async () => {
    [server, other] = await Promise.all([FakeDnsServer.start(), FakeDnsServer.start()]);
  });
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.close()));
    server.reset();
    other.reset();
  });
  afterAll(async () => {
    await Promise.all([server.close(), other.close()]);
  });

  it('a truncated UDP reply is asked again over TCP: a 300-record SRV set', async () => {
    const name = 'big.svc.test';
    server.set('h.svc.test', [{ type: 'A', ttl: 30, data: '127.0.0.1' }]);
    server.set(`_http._tcp.${name}`, Array.from({ length: 300 }, (_, i) => ({ type: 'SRV' as const, ttl: 30, data: { target: 'h.svc.test', port: 20_000 + i, priority: 0, weight: i % 7 } })));
    const source = open({ servers: [server.address], srv: true });
    const w = watch(source, q(name));
    const update = await w.next();
    expect(update.type).toBe('reset');
    const endpoints = (update as Extract<DiscoveryUpdate, { type: 'reset' }>).endpoints;
    expect(endpoints).toHaveLength(300);
    expect(endpoints.find((e) => e.port === 20_003)).toEqual(ep('127.0.0.1', 20_003, 3));
    expect(endpoints.find((e) => e.port === 20_007)!.weight).toBe(1); // weight 0 → 1
    expect(server.count(`_http._tcp.${name}`, 'SRV', 'udp')).toBe(1);
    expect(server.count(`_http._tcp.${name}`, 'SRV', 'tcp')).toBe(1);
    expect(w.errors).toEqual([]);
  });

  it('forced truncation of a small answer also goes to TCP', async () => {
    server.set('tc.svc.test', [{ type: 'A', ttl: 30, data: '127.0.0.1' }]);
    server.behave('tc.svc.test', 'truncate');
    const w = watch(open({ servers: [server.address] }), q('tc.svc.test'));
    expect(await w.next()).toEqual({ type: 'reset', endpoints: [ep('127.0.0.1', 8080)] });
    expect(server.count('tc.svc.test', 'A', 'tcp')).toBe(1);
  });

  it.each([
    ['SERVFAIL', 'servfail', 5_000],
    ['REFUSED', 'refused', 5_000],
    // The silent server is given up after the timeout; the other answers well within it.
    ['silence', 'drop', 1_000],
  ] as const)('%s from the first server: the next server answers, the failure is not reported', async (_label, behaviour, timeout) => {
    const name = `two-${behaviour}.svc.test`;
    for (const s of [server, other]) s.set(name, [{ type: 'A', ttl: 30, data: '127.0.0.1' }]);
    server.behave(name, behaviour);
    const w = watch(open({ servers: [server.address, other.address], timeout }), q(name));
    expect(await w.next()).toEqual({ type: 'reset', endpoints: [ep('127.0.0.1', 8080)] });
    expect(w.errors).toEqual([]);
    expect(server.count(name, 'A')).toBe(1);
    expect(other.count(name, 'A')).toBe(1);
  });

  it.each([
    ['SERVFAIL', 'servfail', 'SERVFAIL', /: A fail\.svc\.test: SERVFAIL \(127\.0\.0\.1:\d+\) ×2\. Check that the server runs/, 5_000],
    ['REFUSED', 'refused', 'REFUSED', /REFUSED \(127\.0\.0\.1:\d+\) ×2/, 5_000],
    ['silence', 'drop', 'timeout', /no reply within 150 ms \(127\.0\.0\.1:\d+\) ×2/, 150],
  ] as const)('%s on every attempt: an error event naming the name and server; nothing is reported as an answer', async (_label, behaviour, reason, message, timeout) => {
    server.set('fail.svc.test', [{ type: 'A', ttl: 30, data: '127.0.0.1' }]);
    server.behave('fail.svc.test', behaviour, { times: 2 });
    const source = open({ servers: [server.address], attempts: 2, timeout });
    const w = watch(source, q('fail.svc.test'));
    await w.until('an error', () => w.errors.length > 0);
    expect(w.updates).toEqual([]);
    expect(source.state().ready).toBe(false);
    expect(w.errors).toHaveLength(1);
    expect(w.errors[0]).toBeInstanceOf(DnsError);
    expect(w.errors[0]!.code).toBe('PROXYLESS_ERR_DNS');
    expect(w.errors[0]!.reason).toBe(reason);
    expect(w.errors[0]!.query).toBe('fail.svc.test');
    expect(w.errors[0]!.attempts.map((a) => a.server)).toEqual([server.address, server.address]);
    expect(w.errors[0]!.message).toMatch(message);
    expect(source.state().lastError).toBe(w.errors[0]);
  });

  it('after a failed first resolution the query is retried and answers, and ready() resolves', async () => {
    server.set('retry.svc.test', [{ type: 'A', ttl: 30, data: '127.0.0.1' }]);
    server.behave('retry.svc.test', 'servfail', { times: 1 });
    const source = open({ servers: [server.address] });
    const w = watch(source, q('retry.svc.test'));
    let ready = false;
    void source.ready().then(() => (ready = true));
    expect(await w.next()).toEqual({ type: 'reset', endpoints: [ep('127.0.0.1', 8080)] });
    expect(w.errors.map((e) => e.reason)).toEqual(['SERVFAIL']);
    await new Promise((r) => setImmediate(r));
    expect(ready).toBe(true);
    expect(source.state()).toMatchObject({ ready: true, queries: 2, failures: 1, services: 1, endpoints: 1 });
  });

  it.each([
    ['a wrong id', 'wrong-id-then-answer', 'wrong-id', 'reply with a wrong id'],
    ['another source port', 'wrong-source-then-answer', 'wrong-source', 'reply from another address or port'],
    ['a malformed packet', 'malformed-then-answer', 'malformed', 'malformed reply'],
  ] as const)('a reply with %s is ignored: the real reply that follows is taken; alone, it ends in a timeout', async (_label, thenAnswer, only, words) => {
    server.set('spoof.svc.test', [{ type: 'A', ttl: 30, data: '127.0.0.1' }]);
    server.behave('spoof.svc.test', thenAnswer);
    const first = watch(open({ servers: [server.address] }), q('spoof.svc.test'));
    expect(await first.next()).toEqual({ type: 'reset', endpoints: [ep('127.0.0.1', 8080)] });
    expect(first.errors).toEqual([]);

    const alone = `alone-${only}.svc.test`;
    server.set(alone, [{ type: 'A', ttl: 30, data: '127.0.0.1' }]);
    server.behave(alone, only, { times: 1 });
    const second = watch(open({ servers: [server.address], timeout: 150 }), q(alone));
    await second.until('an error', () => second.errors.length > 0);
    expect(second.updates).toEqual([]);
    expect(second.errors).toHaveLength(1);
    expect(second.errors[0]!.message).toContain(`no reply within 150 ms (ignored 1 ${words}) (${server.address})`);
  });

  it('a server that goes silent: the last answer is served stale while refreshes fail, then dropped; back when it answers', async () => {
    server.set('stale.svc.test', [{ type: 'A', ttl: 0, data: '127.0.0.1' }]);
    const source = open({ servers: [server.address], maxStale: 700, timeout: 150 });
    const w = watch(source, q('stale.svc.test'));
    expect(await w.next()).toEqual({ type: 'reset', endpoints: [ep('127.0.0.1', 8080)] });
    server.behave('stale.svc.test', 'drop');
    // A refresh failed and the last answer is still what the watch has: served stale.
    await w.until('a failed refresh', () => w.errors.length > 0);
    expect(w.updates).toHaveLength(1);
    expect(source.state()).toMatchObject({ services: 1, endpoints: 1 });
    // Then dropped (at TTL 0 → minTtl 200 ms plus maxStale 700 ms: timed on fake timers in
    // test/unit/discovery/dns/dns-source.test.ts).
    await w.next((u) => u.type === 'reset' && u.endpoints.length === 0, 6000);
    expect(w.errors.every((e) => e.reason === 'timeout')).toBe(true);
    expect(source.state()).toMatchObject({ services: 1, endpoints: 0 });
    server.reset();
    expect(await w.next(undefined, 4000)).toEqual({ type: 'add', endpoints: [ep('127.0.0.1', 8080)] });
  });

  it('NXDOMAIN is "missing" and re-asked no sooner than the SOA minimum; the name appearing is seen', async () => {
    server.soa = { ttl: 60, minimum: 0 }; // → minTtl, 500 ms
    const source = open({ servers: [server.address], minTtl: 500 });
    const w = watch(source, q('later.svc.test'));
    expect(await w.next()).toEqual({ type: 'missing' });
    server.set('later.svc.test', [{ type: 'A', ttl: 30, data: '127.0.0.1' }]);
    expect(await w.next()).toEqual({ type: 'reset', endpoints: [ep('127.0.0.1', 8080)] });
    // Asked once more, and no sooner than the negative answer allowed (a refresh starts at
    // 85 % of it; exact times are checked on fake timers in the unit tests). A lower bound
    // between two arrivals at the server: a busy machine only makes the gap longer.
    const asked = server.queries.filter((query) => query.name === 'later.svc.test' && query.type === 'A');
    expect(asked).toHaveLength(2);
    expect(asked[1]!.at - asked[0]!.at).toBeGreaterThanOrEqual(400);
    server.soa = { ttl: 1, minimum: 1 };
  });

  it('close() ends every query and releases every socket and timer', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'UDPWRAP' || r === 'TCPSocketWrap').length;
    server.set('c.svc.test', [{ type: 'A', ttl: 0, data: '127.0.0.1' }]);
    server.behave('slow.svc.test', 'drop');
    server.set('big2.svc.test', [{ type: 'A', ttl: 0, data: '127.0.0.1' }]);
    server.behave('big2.svc.test', 'truncate');
    // Queries time out after 60 s: a close() that waited for them would time the test out.
    const source = open({ servers: [server.address], timeout: 60_000 });
    const watched = [watch(source, q('c.svc.test')), watch(source, q('slow.svc.test'))];
    const truncated = watch(source, q('big2.svc.test'));
    watched.push(truncated);
    await truncated.next();
    server.behave('big2.svc.test', 'drop', { type: 'A' }); // the next refresh hangs in flight
    const asked = server.count('big2.svc.test', 'A');
    await server.whenCount(asked + 1, 'big2.svc.test', 'A');
    await source.close();
    const reports = watched.map((w) => w.updates.length + w.errors.length);
    await new Promise((r) => setImmediate(r));
    const after = process.getActiveResourcesInfo().filter((r) => r === 'UDPWRAP' || r === 'TCPSocketWrap').length;
    expect(after).toBe(before);
    const queries = server.queries.filter((query) => query.name !== 'witness.svc.test').length;
    // A second source refreshing a TTL-0 name is the clock: it refreshes every minTtl
    // (200 ms), as c.svc.test did. By its second refresh after close(), a refresh of the
    // closed source (due within 200 ms of its last answer) would have arrived.
    server.set('witness.svc.test', [{ type: 'A', ttl: 0, data: '127.0.0.1' }]);
    const witness = open({ servers: [server.address] });
    watch(witness, q('witness.svc.test'));
    await server.whenCount(3, 'witness.svc.test', 'A');
    await witness.close();
    expect(server.queries.filter((query) => query.name !== 'witness.svc.test')).toHaveLength(queries);
    // Nor did it try and fail (a refresh on a closed socket): no update or error since close().
    expect(watched.map((w) => w.updates.length + w.errors.length)).toEqual(reports);
  });
});
