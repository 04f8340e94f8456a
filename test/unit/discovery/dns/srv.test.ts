import { describe, expect, it } from 'vitest';
import type { SrvRecord } from '../../../../src/discovery/dns/internal-message.js';
import { mergeTargets, selectSrvEndpoints, srvEndpointWeight } from '../../../../src/discovery/dns/internal-srv.js';

const record = (target: string, port: number, priority: number, weight: number, addresses?: string[]): SrvRecord => ({
  target,
  port,
  priority,
  weight,
  addresses,
});

const resolved =
  (table: Record<string, string[] | 'pending'>) =>
  (r: SrvRecord): readonly string[] | 'pending' =>
    r.addresses ?? table[r.target] ?? [];

describe('SRV selection (RFC 2782)', () => {
  it('weights become endpoint weights, 0 becoming 1', () => {
    expect(srvEndpointWeight(0)).toBe(1);
    expect(srvEndpointWeight(1)).toBe(1);
    expect(srvEndpointWeight(65535)).toBe(65535);
  });

  it('gives every tier, ranked: the lowest priority value is tier 0, the next tier 1 (the mesh fails over to it on health)', () => {
    const records = [record('a', 8001, 10, 60, ['127.0.0.1']), record('b', 8002, 10, 0, ['127.0.0.1']), record('c', 8003, 20, 100, ['127.0.0.1'])];
    expect(selectSrvEndpoints(records, resolved({}))).toEqual([
      { address: '127.0.0.1', port: 8001, weight: 60, tier: 0 },
      { address: '127.0.0.1', port: 8002, weight: 1, tier: 0 },
      { address: '127.0.0.1', port: 8003, weight: 100, tier: 1 },
    ]);
  });

  it('skips a tier whose targets give no address: the next tier with addresses is tier 0', () => {
    const records = [record('gone', 8001, 0, 5), record('.', 8002, 0, 5), record('backup', 9000, 5, 1), record('last', 9100, 9, 1)];
    expect(selectSrvEndpoints(records, resolved({ gone: [], backup: ['127.0.0.1', '::1'] }))).toEqual([
      { address: '127.0.0.1', port: 9000, weight: 1, tier: 0 },
      { address: '::1', port: 9000, weight: 1, tier: 0 },
    ]);
  });

  it('an address and port in two tiers stays in the more preferred one', () => {
    const records = [record('a', 8001, 0, 5, ['127.0.0.1']), record('b', 8001, 1, 5, ['127.0.0.1']), record('c', 8002, 1, 5, ['127.0.0.1'])];
    expect(selectSrvEndpoints(records, resolved({}))).toEqual([
      { address: '127.0.0.1', port: 8001, weight: 5, tier: 0 },
      { address: '127.0.0.1', port: 8002, weight: 5, tier: 1 },
    ]);
  });

  it('is pending while a target of the tier in use is being resolved', () => {
    const records = [record('a', 8001, 0, 5), record('b', 8002, 0, 5, ['127.0.0.2'])];
    expect(selectSrvEndpoints(records, resolved({ a: 'pending' }))).toBe('pending');
  });

  it('a higher tier still resolving does not hold back a lower tier with endpoints', () => {
    const records = [record('a', 8001, 0, 5, ['127.0.0.1']), record('b', 8002, 1, 5)];
    expect(selectSrvEndpoints(records, resolved({ b: 'pending' }))).toEqual([{ address: '127.0.0.1', port: 8001, weight: 5, tier: 0 }]);
  });

  it('a set whose only target is "." has no endpoints (service decidedly absent)', () => {
    expect(selectSrvEndpoints([record('.', 0 + 1, 0, 0)], resolved({}))).toEqual([]);
  });

  it('folds one address and port named twice into one endpoint with the summed weight', () => {
    const records = [record('a', 8001, 0, 3, ['127.0.0.1']), record('alias-of-a', 8001, 0, 4, ['127.0.0.1'])];
    expect(selectSrvEndpoints(records, resolved({}))).toEqual([{ address: '127.0.0.1', port: 8001, weight: 7, tier: 0 }]);
    expect(mergeTargets([{ address: 'x', port: 1, weight: 999_999 }, { address: 'x', port: 1, weight: 5 }])).toEqual([{ address: 'x', port: 1, weight: 1_000_000 }]);
  });
});
