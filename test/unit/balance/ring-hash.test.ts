import { describe, expect, it } from 'vitest';
import { murmurHash3 } from '../../../src/balance/hash.js';
import { ringHash, type RingHashBalancer } from '../../../src/balance/ring-hash.js';
import type { PickRequest } from '../../../src/balance/types.js';
import { endpoints, expectWeightedShares, plainRequest, seeded, type TestEndpoint } from './helpers.js';

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

function byHeader(value: string): PickRequest {
  return { path: '/', method: 'GET', headers: { 'x-user': value } };
}

function headerRing(set: readonly TestEndpoint[], minimumRingSize?: number): RingHashBalancer<TestEndpoint> {
  const balancer = ringHash<TestEndpoint>({ key: { httpHeaderName: 'X-User' }, minimumRingSize });
  balancer.update(set);
  return balancer;
}

function assign(balancer: RingHashBalancer<TestEndpoint>): TestEndpoint[] {
  return KEYS.map((key) => balancer.pick(byHeader(key))!);
}

function keyShares(balancer: RingHashBalancer<TestEndpoint>, set: readonly TestEndpoint[]): number[] {
  const owners = assign(balancer);
  return set.map((endpoint) => owners.filter((owner) => owner === endpoint).length / owners.length);
}

function ringOf(balancer: RingHashBalancer<TestEndpoint>): Uint32Array {
  return (balancer as unknown as { hashes: Uint32Array }).hashes;
}

describe('ringHash', () => {
  it('sends the same key to the same endpoint, whatever the order of the update', () => {
    const set = endpoints(10);
    const balancer = headerRing(set);
    expect(balancer.name).toBe('ring-hash');
    const first = assign(balancer);
    expect(assign(balancer)).toEqual(first);
    expect(assign(headerRing([...set].reverse()))).toEqual(first);
  });

  it('spreads keys over the endpoints', () => {
    const set = endpoints(10);
    expectWeightedShares(keyShares(headerRing(set), set), Array(10).fill(1), 0.03);
  });

  it('gives endpoints shares of the ring in proportion to weight', () => {
    const set = endpoints(3, [1, 2, 3]);
    expectWeightedShares(keyShares(headerRing(set), set), [1, 2, 3], 0.03);
  });

  it('builds a sorted ring of at least minimumRingSize nodes, capped by maximumRingSize', () => {
    const ring = ringOf(headerRing(endpoints(10)));
    expect(ring.length).toBe(1030); // ceil(1024 / 10) nodes per endpoint, as in Envoy
    for (let i = 1; i < ring.length; i++) expect(ring[i]! >= ring[i - 1]!).toBe(true);
    expect(ringOf(headerRing(endpoints(3, [1, 2, 3]), 600)).length).toBe(600);
    expect(ringOf(headerRing(endpoints(3), 5_000)).length).toBe(5_001);
    const capped = ringHash<TestEndpoint>({ key: { httpHeaderName: 'x' }, minimumRingSize: 1_000, maximumRingSize: 1_000 });
    capped.update(endpoints(2, [1, 100]));
    expect(ringOf(capped).length).toBe(1_000);
  });

  it('rejects a minimum ring size above the maximum', () => {
    expect(() => ringHash({ key: { httpHeaderName: 'x' }, minimumRingSize: 2_048, maximumRingSize: 1_024 })).toThrow(
      'minimumRingSize: 2048',
    );
  });

  it('moves only the keys of a removed endpoint', () => {
    // 50 and 49 endpoints both get ceil(1024/n) = 21 nodes each: nothing else changes.
    const set = endpoints(50);
    const before = assign(headerRing(set));
    const after = assign(headerRing(set.filter((_, i) => i !== 17)));
    let moved = 0;
    before.forEach((owner, k) => {
      if (owner !== after[k]) {
        moved++;
        expect(owner).toBe(set[17]);
      } else {
        expect(owner).not.toBe(set[17]);
      }
    });
    expect(moved / KEYS.length).toBeGreaterThan(0.5 / 50);
    expect(moved / KEYS.length).toBeLessThan(1.5 / 50);
  });

  it('moves about 1/n of the keys to an added endpoint', () => {
    const set = endpoints(51);
    const before = assign(headerRing(set.slice(0, 50)));
    const after = assign(headerRing(set));
    let moved = 0;
    before.forEach((owner, k) => {
      if (owner !== after[k]) {
        moved++;
        expect(after[k]).toBe(set[50]);
      }
    });
    expect(moved / KEYS.length).toBeGreaterThan(0.5 / 51);
    expect(moved / KEYS.length).toBeLessThan(1.5 / 51);
  });

  it('moves at most about 2/n of the keys when the nodes per endpoint change (Envoy sizing)', () => {
    // 10 endpoints get 103 nodes each, 9 get 114: the extra nodes take a few more keys.
    const set = endpoints(10);
    const before = assign(headerRing(set));
    const after = assign(headerRing(set.slice(1)));
    const moved = before.filter((owner, k) => owner !== after[k]).length / KEYS.length;
    expect(moved).toBeGreaterThan(0.5 / 10);
    expect(moved).toBeLessThan(2 / 10);
    before.forEach((owner, k) => {
      if (owner === set[0]) expect(after[k]).not.toBe(set[0]);
    });
  });

  it('hashes the header value, case-insensitive name, any header shape', () => {
    const set = endpoints(10);
    const balancer = headerRing(set);
    const reference = balancer.pick(byHeader('alice'));
    expect(balancer.pick({ path: '/', method: 'GET', headers: { 'X-USER': 'alice' } })).toBe(reference);
    expect(balancer.pick({ path: '/', method: 'GET', headers: ['x-user', 'alice'] })).toBe(reference);
    expect(balancer.pick({ path: '/', method: 'GET', headers: new Map([['x-user', 'alice']]) as never })).toBe(reference);
    const differs = KEYS.slice(0, 100).some((key) => balancer.pick(byHeader(key)) !== reference);
    expect(differs).toBe(true);
  });

  it('hashes the cookie value', () => {
    const set = endpoints(10);
    const headers = headerRing(set);
    const cookies = ringHash<TestEndpoint>({ key: { httpCookie: { name: 'session', ttl: '0s' } } });
    cookies.update(set);
    const cookie = (value: string): PickRequest => ({ path: '/', method: 'GET', headers: { cookie: value } });
    for (const key of KEYS.slice(0, 200)) {
      const expected = headers.pick(byHeader(key));
      expect(cookies.pick(cookie(`a=1; session=${key}; b=2`))).toBe(expected);
      expect(cookies.pick(cookie(`session="${key}"`))).toBe(expected);
      expect(cookies.pick(cookie(`xsession=zz; a=1, session=${key}`))).toBe(expected); // repeated header, joined
    }
  });

  it('hashes the decoded query parameter value', () => {
    const set = endpoints(10);
    const headers = headerRing(set);
    const query = ringHash<TestEndpoint>({ key: { httpQueryParameterName: 'user' } });
    query.update(set);
    const get = (path: string): PickRequest => ({ path, method: 'GET' });
    for (const key of KEYS.slice(0, 200)) {
      const expected = headers.pick(byHeader(key));
      expect(query.pick(get(`/x?a=1&user=${key}&b=2`))).toBe(expected);
      expect(query.pick(get(`/x?user=${key}#frag`))).toBe(expected);
      expect(query.pick({ path: '/x', method: 'GET', query: { user: key } })).toBe(expected);
    }
    expect(query.pick(get('/x?user=J%C3%B6rg+X'))).toBe(headers.pick(byHeader('Jörg X')));
    expect(query.pick(get('/x?us%65r=bob'))).toBe(headers.pick(byHeader('bob')));
    expect(query.pick(get('/x?a=1&user'))).toBe(headers.pick(byHeader('')));
    expect(query.pick(get('/x?user=%E0%A4%A'))).toBe(headers.pick(byHeader('%E0%A4%A'))); // malformed: raw
  });

  it('hashes this instance’s own address for useSourceIp', () => {
    const set = endpoints(10);
    const headers = headerRing(set);
    const source = ringHash<TestEndpoint>({ key: { useSourceIp: true }, sourceAddress: '10.1.2.3' });
    source.update(set);
    const expected = headers.pick(byHeader('10.1.2.3'));
    for (const key of KEYS.slice(0, 50)) expect(source.pick(byHeader(key))).toBe(expected);

    const local = ringHash<TestEndpoint>({ key: { useSourceIp: true } });
    local.update(set);
    const first = local.pick(plainRequest);
    for (const key of KEYS.slice(0, 50)) expect(local.pick(byHeader(key))).toBe(first);
  });

  it('places a request without its key at random', () => {
    const set = endpoints(10);
    const balancer = ringHash<TestEndpoint>({ key: { httpHeaderName: 'x-user' } }, { random: seeded(1) });
    balancer.update(set);
    const counts = set.map(() => 0);
    for (let i = 0; i < 20_000; i++) counts[set.indexOf(balancer.pick(plainRequest)!)]!++;
    expectWeightedShares(
      counts.map((count) => count / 20_000),
      Array(10).fill(1),
      0.03,
    );
    const cookieRing = ringHash<TestEndpoint>({ key: { httpCookie: { name: 's' } } }, { random: () => 0.5 });
    cookieRing.update(set);
    const atHalf = ringHash<TestEndpoint>({ key: { httpHeaderName: 'x' } }, { random: () => 0.5 });
    atHalf.update(set);
    const random = { path: '/', method: 'GET', headers: { cookie: 'other=1' } } as const;
    expect(cookieRing.pick(random)).toBe(atHalf.pick(plainRequest));
  });

  it('walks on to the next available endpoint and comes back', () => {
    const set = endpoints(10);
    const balancer = headerRing(set);
    const before = assign(balancer);
    set[4]!.available = false;
    const during = assign(balancer);
    before.forEach((owner, k) => {
      if (owner === set[4]) expect(during[k]).not.toBe(set[4]);
      else expect(during[k]).toBe(owner);
    });
    // The keys of the unavailable endpoint spread over several others.
    const heirs = new Set(during.filter((_, k) => before[k] === set[4]));
    expect(heirs.size).toBeGreaterThan(3);
    set[4]!.available = true;
    expect(assign(balancer)).toEqual(before);
  });

  it('finds the last available endpoint; undefined when none is', () => {
    const set = endpoints(200);
    const balancer = headerRing(set);
    for (const endpoint of set) endpoint.available = false;
    set[123]!.available = true;
    for (const key of KEYS.slice(0, 100)) expect(balancer.pick(byHeader(key))).toBe(set[123]);
    set[123]!.available = false;
    expect(balancer.pick(byHeader('x'))).toBeUndefined();
    balancer.update([]);
    expect(balancer.pick(byHeader('x'))).toBeUndefined();
  });

  it('uses murmurHash3 of the key value', () => {
    // One endpoint per side of the ring is enough to see where a hash lands.
    const set = endpoints(2);
    const balancer = headerRing(set);
    const ring = ringOf(balancer);
    const owners = (balancer as unknown as { owners: Int32Array }).owners;
    const sorted = (balancer as unknown as { endpoints: TestEndpoint[] }).endpoints;
    for (const key of KEYS.slice(0, 100)) {
      const hash = murmurHash3(key);
      let index = ring.findIndex((node) => node >= hash);
      if (index < 0) index = 0;
      expect(balancer.pick(byHeader(key))).toBe(sorted[owners[index]!]);
    }
  });
});

describe('ring hash host-selection retries (Envoy: attempt nodes on)', () => {
  it('attempt 0 is the owner; attempts walk on node by node, so every endpoint is reached within one turn of the ring', () => {
    const set = endpoints(3);
    const balancer = headerRing(set, 8);
    const size = ringOf(balancer).length;
    for (const key of KEYS.slice(0, 50)) {
      expect(balancer.pick(byHeader(key), 0)).toBe(balancer.pick(byHeader(key)));
      const reached = new Set(Array.from({ length: size }, (_, attempt) => balancer.pick(byHeader(key), attempt)));
      expect(reached.size).toBe(3);
    }
  });
});
