// ServiceEntryIndex answers as the scan it replaced did (every entry in order, hosts
// matched exactly after namespace resolution, `*` and `*suffix` by suffix): a property
// test against that scan, written out here as the specification.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServiceEntryIndex, serviceEntryIndex } from '../../../src/compile/service-entry-index.js';
import type { Located, ServiceEntryResource } from '../../../src/config/load-config.js';
import { ServiceNamer } from '../../../src/discovery/service-name.js';

const namer = new ServiceNamer('frontend', 'cluster.local');

function entry(i: number, hosts: string[], namespace: string): Located<ServiceEntryResource> {
  return {
    resource: {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: { name: `se${i}`, namespace },
      spec: { hosts, ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] },
    } as ServiceEntryResource,
    where: `ServiceEntry/se${i}`,
    namespace,
  };
}

/** The specification: does one host of an entry name the service? */
function hostNames(host: string, namespace: string, name: { host: string; fqdn: string }): boolean {
  if (host === '*') return true;
  if (host.startsWith('*')) {
    const suffix = host.slice(1).toLowerCase();
    return name.host.endsWith(suffix) || name.fqdn.endsWith(suffix);
  }
  return namer.nameIn(host, namespace).fqdn === name.fqdn;
}

const scan = (entries: Located<ServiceEntryResource>[], name: { host: string; fqdn: string }): Located<ServiceEntryResource>[] =>
  entries.filter(({ resource, namespace }) => resource.spec.hosts.some((h) => hostNames(h, namespace, name)));

const label = fc.constantFrom('a', 'b', 'api', 'shop', 'example', 'com');
const plainHost = fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
const host = fc.oneof(plainHost, plainHost.map((h) => `*.${h}`), plainHost.map((h) => `*${h}`), fc.constant('*'), plainHost.map((h) => h.toUpperCase()));
const namespace = fc.constantFrom('frontend', 'shop', 'payments');
const entries = fc.array(fc.tuple(fc.array(host, { minLength: 1, maxLength: 3 }), namespace), { maxLength: 8 }).map((list) => list.map(([hosts, ns], i) => entry(i, hosts, ns)));
const query = fc.tuple(plainHost, namespace).map(([h, ns]) => namer.nameIn(h, ns));

describe('ServiceEntryIndex', () => {
  it('lists the entries declaring a name in config order, each once, as a scan of every entry does (property)', () => {
    fc.assert(
      fc.property(entries, query, (list, name) => {
        const index = new ServiceEntryIndex(list, namer);
        const expected = scan(list, name);
        expect([...index.declaring(name)].map((e) => e.where)).toEqual(expected.map((e) => e.where));
        expect(index.first(name)?.where).toBe(expected[0]?.where);
      }),
      { numRuns: 500 },
    );
  });

  it('a wildcard entry listed before an exact one comes first, and an entry matching by two hosts comes once', () => {
    const list = [entry(0, ['*.example.com', '*.com'], 'shop'), entry(1, ['api.example.com'], 'shop'), entry(2, ['*'], 'shop')];
    const name = namer.nameIn('api.example.com', 'frontend');
    const index = new ServiceEntryIndex(list, namer);
    expect([...index.declaring(name)].map((e) => e.where)).toEqual(['ServiceEntry/se0', 'ServiceEntry/se1', 'ServiceEntry/se2']);
    expect(index.first(name)?.where).toBe('ServiceEntry/se0');
  });

  it('is built once per entries array and namer', () => {
    const list = [entry(0, ['a.b'], 'shop')];
    expect(serviceEntryIndex(list, namer)).toBe(serviceEntryIndex(list, namer));
    expect(serviceEntryIndex(list, new ServiceNamer('frontend', 'cluster.local'))).not.toBe(serviceEntryIndex(list, namer));
    expect(serviceEntryIndex([...list], namer)).not.toBe(serviceEntryIndex(list, namer));
  });
});
