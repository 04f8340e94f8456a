import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NamespaceSet, principalsWithAliases, ServiceAccountSet, TrustDomainSet } from '../../../src/security/identity-match.js';
import { IpBlockSet, parseBlock } from '../../../src/security/ip-match.js';
import { PathTemplate } from '../../../src/security/path-template.js';
import { ValueSet } from '../../../src/security/value-match.js';

const hex = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
/** IPv6 in full form, compressed at a random run of groups, or with an IPv4 tail. */
const ipv6 = fc.tuple(fc.array(hex, { minLength: 8, maxLength: 8 }), fc.nat(8), fc.nat(8), fc.boolean()).map(([groups, a, b, v4tail]) => {
  const [from, to] = [Math.min(a, b), Math.max(a, b)];
  if (v4tail) return `${groups.slice(0, 6).join(':')}:${[1, 2, 3, 4].map((i) => parseInt(groups[6 + (i > 2 ? 1 : 0)]!, 16) % 256).join('.')}`;
  if (from === to) return groups.join(':');
  return `${groups.slice(0, from).join(':')}::${groups.slice(to).join(':')}`;
});
const mapped = fc.oneof(
  ipv4.map((a) => `::ffff:${a}`),
  fc.tuple(hex, hex).map(([a, b]) => `0:0:0:0:0:ffff:${a}:${b}`),
);

/** The IPv4 address an IPv4-mapped IPv6 address maps (via the WHATWG URL canonical form), or undefined. */
function mappedV4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const m = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(new URL(`http://[${address}]`).hostname);
  if (m === null) return undefined;
  const [hi, lo] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** What an address reads as in our matcher: IPv4-mapped IPv6 as IPv4. */
function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 4 || mappedV4(address) !== undefined ? 'ipv4' : 'ipv6';
}

describe('IP blocks', () => {
  it('property: membership agrees with node:net BlockList (same IP version only)', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6, mapped), fc.nat(128), fc.oneof(ipv4, ipv6, mapped), (written, bits, address) => {
        const prefix = Math.min(bits, isIP(written) === 4 ? 32 : 128);
        const set = new IpBlockSet([`${written}/${prefix}`]);
        // A block in IPv4-mapped form with a prefix of 96 or more is its IPv4 block.
        const asV4 = mappedV4(written) !== undefined && prefix >= 96;
        const [net, netPrefix, fam] = asV4 ? [mappedV4(written)!, prefix - 96, 'ipv4' as const] : [written, prefix, isIP(written) === 4 ? ('ipv4' as const) : ('ipv6' as const)];
        const list = new BlockList();
        list.addSubnet(net, netPrefix, fam);
        const addressFamily = family(address);
        const plain = addressFamily === 'ipv4' ? (mappedV4(address) ?? address) : address;
        const expected = addressFamily === fam && list.check(plain, addressFamily);
        expect(set.matches(address)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: every text node:net calls an address parses, and nothing else does', () => {
    const texts = fc.oneof(ipv4, ipv6, fc.string({ maxLength: 20 }), fc.stringMatching(/^[0-9a-f:.]{1,40}$/));
    fc.assert(
      fc.property(texts, (text) => {
        expect(parseBlock(text) !== undefined).toBe(isIP(text) !== 0);
      }),
      { numRuns: 3000 },
    );
  });

  it('single addresses, zones, junk', () => {
    const set = new IpBlockSet(['10.0.0.1', 'fe80::/10']);
    expect(set.matches('10.0.0.1')).toBe(true);
    expect(set.matches('10.0.0.2')).toBe(false);
    expect(set.matches('fe80::1%eth0')).toBe(true);
    expect(set.matches(undefined)).toBe(false);
    expect(set.matches('not an ip')).toBe(false);
    expect(set.matches('010.0.0.1')).toBe(false);
    // A block in IPv4-mapped form: the IPv4 block it maps when its prefix covers the mapping.
    expect(new IpBlockSet(['::ffff:10.0.0.0/104']).matches('10.200.0.1')).toBe(true);
    expect(new IpBlockSet(['::ffff:0.0.0.0/0']).matches('2001:db8::1')).toBe(true);
    expect(() => new IpBlockSet(['10.0.0.0/33'])).toThrow(/not an IP address or a CIDR block/);
    expect(() => new IpBlockSet(['10.0.0.1:80'])).toThrow(/not an IP address/);
  });
});

describe('path templates', () => {
  const SEGMENT = "[a-zA-Z0-9\\-._~%!$&'()+,;:@=]";
  const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const regexOf = (template: string): RegExp =>
    new RegExp(`^/${template.replace(/^\//, '').split('/').map((s) => (s === '{*}' ? `${SEGMENT}+` : s === '{**}' ? `(?:${SEGMENT}|/)*` : quote(s))).join('/')}$`);

  it('property: agrees with the regular expression Envoy builds from the template', () => {
    const literal = fc.constantFrom('api', 'v1', 'items', 'static', 'a.css', '');
    const segment = fc.oneof({ weight: 3, arbitrary: literal }, { weight: 2, arbitrary: fc.constant('{*}') });
    const template = fc.tuple(fc.array(segment, { maxLength: 4 }), fc.boolean(), fc.array(literal, { maxLength: 2 })).map(([head, any, tail]) => `/${[...head, ...(any ? ['{**}', ...tail] : [])].join('/')}`).filter((t) => t.includes('{'));
    const pathSegment = fc.constantFrom('api', 'v1', 'items', 'static', 'a.css', '', 'x y', 'é', '*', 'a:b@c');
    const path = fc.array(pathSegment, { maxLength: 6 }).map((s) => `/${s.join('/')}`);
    fc.assert(
      fc.property(template, path, (t, p) => {
        expect(new PathTemplate(t).matches(p)).toBe(regexOf(t).test(p));
      }),
      { numRuns: 3000 },
    );
  });

  it('examples from the reference', () => {
    expect(new PathTemplate('/static/{**}').matches('/static/')).toBe(true);
    expect(new PathTemplate('/static/{**}').matches('/static')).toBe(false);
    expect(new PathTemplate('/{**}/b').matches('/x/y/b')).toBe(true);
    expect(new PathTemplate('/{*}').matches('/')).toBe(false);
    expect(new PathTemplate('/{*}').matches('a')).toBe(false);
    expect(() => new PathTemplate('/{**}/{*}')).toThrow(/last operator/);
  });
});

describe('value sets', () => {
  it('exact, prefix, suffix and * per kind; absent never matches', () => {
    const plain = new ValueSet(['/exact', '/pre*', '*.php', '*'], 'plain');
    expect(plain.matches('/exact')).toBe(true);
    expect(plain.matches('/prefix')).toBe(true);
    expect(plain.matches('x.php')).toBe(true);
    expect(plain.matches('')).toBe(false);
    expect(plain.matches(undefined)).toBe(false);
    expect(new ValueSet(['*'], 'header').matches('')).toBe(true);
    expect(new ValueSet(['API.example.com', '*.Internal'], 'host').matches('api.EXAMPLE.com')).toBe(true);
    expect(new ValueSet(['*.Internal'], 'host').matches('db.internal')).toBe(true);
    const principals = new ValueSet(['cluster.local/ns/a/sa/b', '*/sa/reader', 'cluster.local/ns/x/*'], 'spiffe');
    expect(principals.matches('spiffe://cluster.local/ns/a/sa/b')).toBe(true);
    expect(principals.matches('cluster.local/ns/a/sa/b')).toBe(false);
    expect(principals.matches('spiffe://td/ns/q/sa/reader')).toBe(true);
    expect(principals.matches('spiffe://cluster.local/ns/x/sa/y')).toBe(true);
    expect(principals.matches('https://cluster.local/ns/x/sa/reader')).toBe(false);
  });
});

describe('identity patterns', () => {
  it('namespaces: /ns/<ns>/ anywhere in the ID, * spans anything', () => {
    const set = new NamespaceSet(['prod', 'team-*', '*-dev']);
    expect(set.matches('spiffe://cluster.local/ns/prod/sa/a')).toBe(true);
    expect(set.matches('spiffe://cluster.local/ns/production/sa/a')).toBe(false);
    expect(set.matches('spiffe://cluster.local/ns/team-blue/sa/a')).toBe(true);
    expect(set.matches('spiffe://cluster.local/ns/web-dev/sa/a')).toBe(true);
    expect(set.matches(undefined)).toBe(false);
  });

  it('service accounts: the name alone is in the policy namespace; extra segments between and after are allowed', () => {
    const set = new ServiceAccountSet(['reader', 'bar/writer'], 'foo');
    expect(set.matches('spiffe://cluster.local/ns/foo/sa/reader')).toBe(true);
    expect(set.matches('spiffe://cluster.local/ns/bar/sa/reader')).toBe(false);
    expect(set.matches('spiffe://cluster.local/ns/bar/sa/writer/x')).toBe(true);
    expect(set.matches('spiffe://cluster.local/ns/bar/pod/p/sa/writer')).toBe(true);
    expect(set.matches('spiffe://cluster.local/ns/bar/sa/writer-2')).toBe(false);
    expect(set.matches('spiffe://cluster.local/ns/bar/xsa/writer')).toBe(false);
    expect(set.matches('spiffe:///ns/bar/sa/writer')).toBe(false);
  });

  it('trust domains: exact, *, prefix and suffix of the trust domain only; aliases expand', () => {
    const set = new TrustDomainSet(['corp.*', '*.partner'], ['cluster.local']);
    expect(set.matches('spiffe://corp.eu/ns/a/sa/b')).toBe(true);
    expect(set.matches('spiffe://x.partner/ns/a/sa/b')).toBe(true);
    expect(set.matches('spiffe://x.partner.evil/ns/a/sa/b')).toBe(false);
    expect(set.matches('spiffe://corp.eu')).toBe(false);
    expect(new TrustDomainSet(['old'], ['new', 'old']).matches('spiffe://new/ns/a/sa/b')).toBe(true);
    expect(new TrustDomainSet(['*'], ['x']).matches('spiffe://any/ns/a/sa/b')).toBe(true);
  });

  it("principals with aliases, as Istio's trust domain bundle rewrites them", () => {
    expect(principalsWithAliases(['cluster.local/ns/a/sa/b'], ['new', 'old'])).toEqual(['new/ns/a/sa/b', 'old/ns/a/sa/b']);
    expect(principalsWithAliases(['old/ns/a/sa/b'], ['new', 'old'])).toEqual(['new/ns/a/sa/b', 'old/ns/a/sa/b']);
    expect(principalsWithAliases(['foreign/ns/a/sa/b', '*/ns/a/sa/b', 'a*', '*'], ['new'])).toEqual(['foreign/ns/a/sa/b', '*/ns/a/sa/b', 'a*', '*']);
    expect(principalsWithAliases(['*-td/ns/a/sa/b'], ['new-td', 'old-td'])).toEqual(['*-td/ns/a/sa/b']);
  });
});
