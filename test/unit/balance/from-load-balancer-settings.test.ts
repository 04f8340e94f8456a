import { describe, expect, it } from 'vitest';
import { balancerFromSettings } from '../../../src/balance/from-load-balancer-settings.js';
import { LeastRequestBalancer } from '../../../src/balance/least-request.js';
import { P2cPeakEwmaBalancer } from '../../../src/balance/p2c-peak-ewma.js';
import { RandomBalancer } from '../../../src/balance/random.js';
import { RingHashBalancer } from '../../../src/balance/ring-hash.js';
import { RoundRobinBalancer } from '../../../src/balance/round-robin.js';
import type { PickRequest } from '../../../src/balance/types.js';
import { endpoints, seeded, type TestEndpoint } from './helpers.js';

describe('balancerFromSettings', () => {
  it('maps simple algorithms; P2C Peak EWMA when unset', () => {
    expect(balancerFromSettings(undefined)).toBeInstanceOf(P2cPeakEwmaBalancer);
    expect(balancerFromSettings({})).toBeInstanceOf(P2cPeakEwmaBalancer);
    expect(balancerFromSettings({ simple: 'UNSPECIFIED' })).toBeInstanceOf(P2cPeakEwmaBalancer);
    expect(balancerFromSettings({ simple: 'ROUND_ROBIN' })).toBeInstanceOf(RoundRobinBalancer);
    expect(balancerFromSettings({ simple: 'RANDOM' })).toBeInstanceOf(RandomBalancer);
    expect(balancerFromSettings({ simple: 'LEAST_REQUEST' })).toBeInstanceOf(LeastRequestBalancer);
    expect(balancerFromSettings({ simple: 'LEAST_CONN' })).toBeInstanceOf(LeastRequestBalancer);
    expect(balancerFromSettings({ simple: 'LEAST_CONN' }).name).toBe('least-request');
  });

  it('refuses PASSTHROUGH, which the mesh handles without a balancer', () => {
    expect(() => balancerFromSettings({ simple: 'PASSTHROUGH' })).toThrow(/PASSTHROUGH has no balancer/);
  });

  it('passes the runtime on', () => {
    const set = endpoints(4);
    const run = () => {
      const balancer = balancerFromSettings<TestEndpoint>({ simple: 'RANDOM' }, { random: seeded(1) });
      balancer.update(set);
      return Array.from({ length: 20 }, () => balancer.pick({ path: '/', method: 'GET' })!.key);
    };
    expect(run()).toEqual(run());
  });

  it('maps consistentHash to a ring hash with its key and ring size', () => {
    const set = endpoints(8);
    const request = (headers: Record<string, string>, path = '/'): PickRequest => ({ path, method: 'GET', headers });
    const byHeader = balancerFromSettings<TestEndpoint>({ consistentHash: { httpHeaderName: 'x-user' } });
    expect(byHeader).toBeInstanceOf(RingHashBalancer);
    byHeader.update(set);
    const expected = byHeader.pick(request({ 'x-user': 'carol' }));

    const byCookie = balancerFromSettings<TestEndpoint>({ consistentHash: { httpCookie: { name: 'sid', ttl: '10s' } } });
    byCookie.update(set);
    expect(byCookie.pick(request({ cookie: 'sid=carol' }))).toBe(expected);

    const byQuery = balancerFromSettings<TestEndpoint>({ consistentHash: { httpQueryParameterName: 'u' } });
    byQuery.update(set);
    expect(byQuery.pick(request({}, '/a?u=carol'))).toBe(expected);

    const bySource = balancerFromSettings<TestEndpoint>({ consistentHash: { useSourceIp: true } });
    bySource.update(set);
    const source = bySource.pick(request({ 'x-user': 'a' }));
    expect(bySource.pick(request({ 'x-user': 'b' }))).toBe(source);

    const ringSize = (settings: Parameters<typeof balancerFromSettings>[0]) => {
      const balancer = balancerFromSettings<TestEndpoint>(settings);
      balancer.update(set);
      return (balancer as unknown as { hashes: Uint32Array }).hashes.length;
    };
    expect(ringSize({ consistentHash: { httpHeaderName: 'x' } })).toBe(1024);
    expect(ringSize({ consistentHash: { httpHeaderName: 'x', ringHash: { minimumRingSize: 4096 } } })).toBe(4096);
    expect(ringSize({ consistentHash: { httpHeaderName: 'x', minimumRingSize: 2048 } })).toBe(2048);
  });
});
