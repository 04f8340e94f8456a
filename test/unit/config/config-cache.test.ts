// Incremental reloads: compileConfig with a ConfigCache redoes only the resources that changed,
// and gives the same result as a compile from scratch.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ConfigCache } from '../../../src/config/config-cache.js';
import { compileConfig } from '../../../src/compile/compile-config.js';
import type { ConfigEntry } from '../../../src/config/load-config.js';
import { InvalidConfigError } from '../../../src/core/errors/index.js';
import { ServiceNamer } from '../../../src/discovery/service-name.js';

const namer = new ServiceNamer('shop', 'cluster.local');
const API = 'networking.istio.io/v1';

const virtualService = (name: string, weightV2: number, extra: object = {}) => ({
  apiVersion: API,
  kind: 'VirtualService',
  metadata: { name },
  spec: {
    hosts: [name],
    http: [{ route: [{ destination: { host: name, subset: 'v1' }, weight: 100 - weightV2 }, { destination: { host: name, subset: 'v2' }, weight: weightV2 }], ...extra }],
  },
});
const destinationRule = (name: string, subsets = ['v1', 'v2']) => ({
  apiVersion: API,
  kind: 'DestinationRule',
  metadata: { name },
  spec: { host: name, subsets: subsets.map((s) => ({ name: s, labels: { version: s } })) },
});
const entries = (resources: readonly object[]): ConfigEntry[] => resources.map((resource, i) => ({ resource, origin: `config[${i}]` }));
const lookup = (compiled: ReturnType<typeof compileConfig>, host: string) => compiled.routes.lookup(namer.name(host));

function compileAndCommit(cache: ConfigCache, resources: readonly object[]): ReturnType<typeof compileConfig> {
  const compiled = compileConfig(entries(resources), namer, {}, cache);
  cache.commit();
  return compiled;
}

describe('ConfigCache', () => {
  it('reuses what an unchanged resource compiled to, and compiles a changed one again', () => {
    const cache = new ConfigCache();
    const first = compileAndCommit(cache, [virtualService('cart', 10), virtualService('pay', 10), destinationRule('cart')]);
    // New objects with the same content (a file read again), one resource edited.
    const second = compileAndCommit(cache, [virtualService('cart', 10), virtualService('pay', 20), destinationRule('cart')]);
    expect(lookup(second, 'cart')).toBe(lookup(first, 'cart'));
    expect(lookup(second, 'pay')).not.toBe(lookup(first, 'pay'));
    const rule = (c: ReturnType<typeof compileConfig>) => c.destinationRules.lookup('cart.shop.svc.cluster.local', 'cart', 'shop');
    expect(rule(second)).toEqual(rule(first));
    expect(rule(second)?.subsets.map((s) => s.name)).toEqual(['v1', 'v2']);
    // A resource that moved (another origin) is validated again: messages name its new place.
    const moved = compileAndCommit(cache, [virtualService('pay', 20), virtualService('cart', 10), destinationRule('cart')]);
    expect(lookup(moved, 'cart')!.where).toBe('VirtualService/cart (config[1])');
  });

  it('gives a cached resource its warnings again, and the config-wide checks run every time', () => {
    const cache = new ConfigCache();
    const withUnknownField = virtualService('cart', 10, { corsPolicy: { allowOrigins: [] } });
    const expected = [
      'VirtualService/cart (config[0]): spec.http[0].corsPolicy: not supported by proxyless, ignored: answers CORS preflight requests for the route and adds the CORS response headers',
      'VirtualService/cart (config[0]): route destination cart subset "v2" is not defined by any DestinationRule for cart.shop.svc.cluster.local; requests to it get no endpoint',
    ];
    expect(compileAndCommit(cache, [withUnknownField, destinationRule('cart', ['v1'])]).warnings).toEqual(expected);
    expect(compileAndCommit(cache, [withUnknownField, destinationRule('cart', ['v1'])]).warnings).toEqual(expected);
    // The DestinationRule now defines v2: the unchanged VirtualService's subset warning goes.
    expect(compileAndCommit(cache, [withUnknownField, destinationRule('cart')]).warnings).toEqual([expected[0]]);
  });

  it('rejects a bad resource every time, and a failed compile leaves the cache of the config in force', () => {
    const cache = new ConfigCache();
    const good = compileAndCommit(cache, [virtualService('cart', 10)]);
    const bad = { ...virtualService('pay', 10), spec: { hosts: 'pay' } };
    for (let i = 0; i < 2; i++) {
      expect(() => compileConfig(entries([virtualService('cart', 10), bad]), namer, {}, cache)).toThrow(InvalidConfigError);
    }
    expect(lookup(compileAndCommit(cache, [virtualService('cart', 10)]), 'cart')).toBe(lookup(good, 'cart'));
  });

  it('drops what the config in force no longer uses', () => {
    const cache = new ConfigCache();
    const first = compileAndCommit(cache, [virtualService('cart', 10)]);
    compileAndCommit(cache, [virtualService('cart', 30)]);
    // Back to the first content: it was forgotten, so it is compiled anew.
    expect(lookup(compileAndCommit(cache, [virtualService('cart', 10)]), 'cart')).not.toBe(lookup(first, 'cart'));
  });

  it('does not cache a resource that cannot be written as JSON, and still loads it', () => {
    const cache = new ConfigCache();
    // A BigInt in `status` (the cluster's part, which the loader leaves out) makes no JSON.
    const resource = { ...virtualService('cart', 10), status: { observedGeneration: 10n } };
    expect(ConfigCache.contentOf(resource)).toBeUndefined();
    const first = lookup(compileAndCommit(cache, [resource]), 'cart');
    const second = lookup(compileAndCommit(cache, [resource]), 'cart');
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
  });

  it('a cached compile equals a compile from scratch, whatever the sequence of edits (property)', () => {
    const resource = fc.oneof(
      fc.record({ kind: fc.constant('vs' as const), name: fc.constantFrom('cart', 'pay', 'ship'), weight: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ kind: fc.constant('dr' as const), name: fc.constantFrom('cart', 'pay'), subsets: fc.subarray(['v1', 'v2']) }),
    );
    const toResource = (r: { kind: 'vs'; name: string; weight: number } | { kind: 'dr'; name: string; subsets: string[] }) =>
      r.kind === 'vs' ? virtualService(r.name, r.weight) : destinationRule(r.name, r.subsets);
    fc.assert(
      fc.property(fc.array(fc.array(resource, { maxLength: 6 }), { minLength: 1, maxLength: 5 }), (versions) => {
        const cache = new ConfigCache();
        for (const version of versions) {
          const resources = version.map(toResource);
          const cached = compileAndCommit(cache, resources);
          const scratch = compileConfig(entries(resources), namer, {});
          expect(cached.warnings).toEqual(scratch.warnings);
          expect([...cached.config.destinationRules]).toEqual([...scratch.config.destinationRules]);
          for (const name of ['cart', 'pay', 'ship']) expect(lookup(cached, name)).toEqual(lookup(scratch, name));
        }
      }),
      { numRuns: 100 },
    );
  });
});
