import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidSpiffeIdError, SpiffeId, spiffeIdProblem } from '../../../src/tls/spiffe-id.js';

describe('SpiffeId', () => {
  it('parses the trust domain and path, and gives Istio principal', () => {
    const id = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/reviews');
    expect(id.trustDomain).toBe('cluster.local');
    expect(id.path).toBe('/ns/default/sa/reviews');
    expect(id.principal).toBe('cluster.local/ns/default/sa/reviews');
    expect(id.trustDomainId.uri).toBe('spiffe://cluster.local');
    expect(JSON.stringify({ id })).toBe('{"id":"spiffe://cluster.local/ns/default/sa/reviews"}');
    expect(SpiffeId.parse('spiffe://example.org').path).toBe('');
  });

  it('builds Istio IDs from namespace and service account, refusing what Kubernetes would', () => {
    expect(SpiffeId.forServiceAccount('cluster.local', 'default', 'bookinfo-reviews').uri).toBe('spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
    expect(() => SpiffeId.forServiceAccount('cluster.local', 'Default', 'x')).toThrow(/namespace is not a DNS label/);
    expect(() => SpiffeId.forServiceAccount('cluster.local', 'default', 'a/b')).toThrow(/service account is not a DNS subdomain/);
  });

  const invalid: Array<[string, RegExp]> = [
    ['http://cluster.local/ns/a', /does not start with "spiffe:\/\/"/],
    ['SPIFFE://cluster.local/ns/a', /scheme must be "spiffe" in lower case/],
    ['spiffe://', /trust domain is empty/],
    ['spiffe:///ns/a', /trust domain is empty/],
    ['spiffe://Cluster.local/ns/a', /upper-case letter/],
    ['spiffe://cluster.local:8443/ns/a', /port or a colon/],
    ['spiffe://user@cluster.local/ns/a', /user info/],
    ['spiffe://cluster.local/ns/a?x=1', /query/],
    ['spiffe://cluster.local/ns/a#frag', /fragment/],
    ['spiffe://cluster.local/ns/%61', /percent-encoded/],
    ['spiffe://cluster.local/ns//a', /empty segment/],
    ['spiffe://cluster.local/ns/a/', /ends with "\/"/],
    ['spiffe://cluster.local/ns/./a', /"\." segment/],
    ['spiffe://cluster.local/ns/../a', /"\.\." segment/],
    ['spiffe://cluster.local/ns/a b', /character outside/],
    ['spiffe://cluster.local/ns/é', /character outside/],
    [`spiffe://${'a'.repeat(256)}/x`, /256 characters long/],
    [`spiffe://cluster.local/${'a'.repeat(2048)}`, /longer than 2048 bytes/],
  ];
  it.each(invalid)('refuses %s', (uri, reason) => {
    expect(spiffeIdProblem(uri)).toMatch(reason);
    expect(() => SpiffeId.parse(uri)).toThrow(InvalidSpiffeIdError);
  });

  const tdChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789.-_'.split(''));
  const pathChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_'.split(''));
  const trustDomain = fc.string({ unit: tdChar, minLength: 1, maxLength: 40 });
  const segment = fc.string({ unit: pathChar, minLength: 1, maxLength: 12 }).filter((s) => s !== '.' && s !== '..');
  const validId = fc.tuple(trustDomain, fc.array(segment, { maxLength: 6 })).map(([td, segs]) => `spiffe://${td}${segs.map((s) => `/${s}`).join('')}`);

  it('accepts every ID the grammar generates, and parse/toString round-trips', () => {
    fc.assert(
      fc.property(validId, (uri) => {
        const id = SpiffeId.parse(uri);
        expect(id.uri).toBe(uri);
        expect(`spiffe://${id.trustDomain}${id.path}`).toBe(uri);
      }),
    );
  });

  it('refuses a valid ID with a character outside the grammar inserted anywhere after the scheme', () => {
    const bad = fc.constantFrom(...':@?#% \t\nÀé\u0000+'.split(''));
    fc.assert(
      fc.property(validId, bad, fc.nat(), (uri, char, at) => {
        const position = 9 + (at % (uri.length - 9 + 1));
        expect(spiffeIdProblem(uri.slice(0, position) + char + uri.slice(position))).toBeDefined();
      }),
    );
  });

  it('refuses an upper-case letter in the trust domain, wherever it is', () => {
    fc.assert(
      fc.property(validId, fc.nat(), (uri, at) => {
        const tdEnd = uri.indexOf('/', 9) === -1 ? uri.length : uri.indexOf('/', 9);
        const position = 9 + (at % (tdEnd - 9 + 1));
        expect(spiffeIdProblem(uri.slice(0, position) + 'Q' + uri.slice(position))).toMatch(/upper-case/);
      }),
    );
  });

  it('never throws anything but InvalidSpiffeIdError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `spiffe://${s}`)), (text) => {
        try {
          SpiffeId.parse(text);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidSpiffeIdError);
        }
      }),
    );
  });
});
