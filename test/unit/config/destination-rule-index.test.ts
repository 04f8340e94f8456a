// DestinationRuleIndex: Istio's most-specific host match and namespace steps, as a decision
// function (the integration test drives the same rules with real servers).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DestinationRuleIndex } from '../../../src/config/destination-rule-index.js';
import type { DestinationRuleResource, Located } from '../../../src/config/load-config.js';
import { ServiceNamer } from '../../../src/discovery/service-name.js';

const namer = new ServiceNamer('frontend', 'cluster.local');
const client = { namespace: 'frontend', rootNamespace: 'istio-system', labels: {} };

function located(name: string, host: string, namespace = 'frontend', spec: Partial<DestinationRuleResource['spec']> = {}): Located<DestinationRuleResource> {
  return {
    resource: { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace }, spec: { host, ...spec } },
    where: `DestinationRule/${name}`,
    namespace,
  };
}

/** Istio's host.MoreSpecific between two wildcards: longer first, then alphabetical. */
const moreSpecific = (a: string, b: string): boolean => (a.length === b.length ? a < b : a.length > b.length);

describe('DestinationRuleIndex', () => {
  it('picks the most specific wildcard whose suffix the host ends with, as Istio does (property)', () => {
    const label = fc.constantFrom('a', 'b', 'eu', 'x1');
    const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
    fc.assert(
      fc.property(fc.uniqueArray(domain, { maxLength: 6 }), domain, fc.boolean(), (suffixes, host, star) => {
        const patterns = [...suffixes.map((s) => `*.${s}`), ...(star ? ['*'] : [])];
        const index = new DestinationRuleIndex(patterns.map((p, i) => located(`r${i}`, p)), namer, client);
        const expected = patterns.filter((p) => host.endsWith(p.slice(1))).reduce<string | undefined>((best, p) => (best === undefined || moreSpecific(p, best) ? p : best), undefined);
        expect(index.lookup(host, host, undefined)?.host).toBe(expected);
      }),
    );
  });

  it('an exact rule beats any wildcard', () => {
    const index = new DestinationRuleIndex([located('w', '*.example.com'), located('e', 'api.example.com')], namer, client);
    expect(index.lookup('api.example.com', 'api.example.com', undefined)?.where).toBe('DestinationRule/e');
  });

  it('a wildcard does not cover the bare domain (*.example.com is not example.com)', () => {
    const index = new DestinationRuleIndex([located('w', '*.example.com')], namer, client);
    expect(index.lookup('example.com', 'example.com', undefined)).toBeUndefined();
  });

  it('the service namespace step needs the rule exported to the client; a fourth namespace is never looked in', () => {
    const fqdn = 'reviews.bookinfo.svc.cluster.local';
    const rules = [located('far', fqdn, 'team-z'), located('svc', fqdn, 'bookinfo', { exportTo: ['team-b'] }), located('root', fqdn, 'istio-system')];
    const index = new DestinationRuleIndex(rules, namer, client);
    expect(index.lookup(fqdn, fqdn, 'bookinfo')?.where).toBe('DestinationRule/root');
    expect(index.lookup(fqdn, fqdn, 'team-z')?.where).toBe('DestinationRule/far');
  });

  it('merges rules of equal exportTo; a different exportTo stays a separate candidate (the later one is the catch-all)', () => {
    const a = located('a', 'cart', 'frontend', { subsets: [{ name: 'v1' }] });
    const b = located('b', 'cart', 'frontend', { subsets: [{ name: 'v2' }] });
    const merged = new DestinationRuleIndex([a, b], namer, client).lookup('cart.frontend.svc.cluster.local', 'cart', 'frontend');
    expect(merged?.subsets.map((s) => s.name)).toEqual(['v1', 'v2']);
    const separate = new DestinationRuleIndex([a, { ...b, resource: { ...b.resource, spec: { ...b.resource.spec, exportTo: ['.'] } } }], namer, client);
    expect(separate.lookup('cart.frontend.svc.cluster.local', 'cart', 'frontend')?.subsets.map((s) => s.name)).toEqual(['v2']);
  });
});
