// The verification half of the issue-14 attack matrix: real certificates made at test time,
// each broken in one way, each refused with its own rule and code.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SvidError } from '../../../src/core/errors/index.js';
import { keyMismatchProblem } from '../../../src/tls/svid-rules.js';
import { KeyUsageBits, loadSvid, trustBundleFromPem, verifySvid, type CertificateInfo, type TrustBundle } from '../../../src/tls/index.js';
import { testIntermediate, testLeaf, testRoot } from '../../helpers/svid-certs.js';

const TD = 'cluster.local';
const ID = `spiffe://${TD}/ns/default/sa/reviews`;
const HOUR = 3600_000;

const root = testRoot(TD);
const bundle: TrustBundle = { trustDomain: TD, roots: [root.info] };
const otherRoot = testRoot(TD); // same trust domain name, another CA: not trusted
const good = testLeaf(root, ID);

function refusal(chain: readonly CertificateInfo[], bundles: TrustBundle | TrustBundle[] = bundle, options: Parameters<typeof verifySvid>[2] = {}): SvidError {
  try {
    verifySvid(chain, bundles, options);
  } catch (error) {
    expect(error).toBeInstanceOf(SvidError);
    return error as SvidError;
  }
  throw new Error('verifySvid accepted the chain');
}

describe('verifySvid', () => {
  it('accepts a valid SVID and returns its ID and the path to the root', () => {
    const verified = verifySvid([good.info], bundle, { expect: { ids: [ID] } });
    expect(verified.spiffeId.uri).toBe(ID);
    expect(verified.spiffeId.principal).toBe(`${TD}/ns/default/sa/reviews`);
    expect(verified.path.map((c) => c.fingerprint256)).toEqual([good.info.fingerprint256, root.info.fingerprint256]);
  });

  it('accepts a chain through an intermediate, and one that also carries the root', () => {
    const mid = testIntermediate(root, 'mid');
    const leaf = testLeaf(mid, ID);
    expect(verifySvid([leaf.info, mid.info], bundle).path).toHaveLength(3);
    expect(verifySvid([leaf.info, mid.info, root.info], bundle).path).toHaveLength(3);
  });

  // One row per attack: the chain, what to verify it against, and the rule expected.
  const now = Date.now();
  const other = testRoot('other.org');
  const mid = testIntermediate(root, 'mid');
  const midNotCa = testIntermediate(root, 'not-a-ca', { basicConstraints: { ca: false } });
  const midNoCertSign = testIntermediate(root, 'no-cert-sign', { keyUsage: { flags: KeyUsageBits.cRLSign, critical: true } });
  const midPathZero = testIntermediate(root, 'path-0', { basicConstraints: { ca: true, pathLength: 0 } });
  const midBelowPathZero = testIntermediate(midPathZero, 'below-path-0');
  const expiredMid = testIntermediate(root, 'expired-mid', { notBefore: new Date(now - 3 * HOUR), notAfter: new Date(now - HOUR) });
  const cases: Array<{ attack: string; chain: () => CertificateInfo[]; against?: TrustBundle | TrustBundle[]; options?: Parameters<typeof verifySvid>[2]; rule: string; says: RegExp }> = [
    {
      attack: 'wrong SPIFFE ID',
      chain: () => [testLeaf(root, `spiffe://${TD}/ns/default/sa/ratings`).info],
      options: { expect: { ids: [ID] } },
      rule: 'unexpected_id',
      says: /SPIFFE ID spiffe:\/\/cluster\.local\/ns\/default\/sa\/ratings \(expected: spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews\)/,
    },
    { attack: 'untrusted CA (same trust domain name)', chain: () => [testLeaf(otherRoot, ID).info], rule: 'untrusted', says: /not a root of trust domain cluster\.local/ },
    { attack: 'expired leaf', chain: () => [testLeaf(root, ID, { notBefore: new Date(now - 2 * HOUR), notAfter: new Date(now - 1000) }).info], rule: 'expired', says: /expired at/ },
    { attack: 'leaf not yet valid', chain: () => [testLeaf(root, ID, { notBefore: new Date(now + HOUR), notAfter: new Date(now + 2 * HOUR) }).info], rule: 'not_yet_valid', says: /valid from/ },
    { attack: 'two URI SANs', chain: () => [testLeaf(root, ID, { uris: [ID, `spiffe://${TD}/ns/admin/sa/root`] }).info], rule: 'multiple_uri_sans', says: /2 URI SANs/ },
    { attack: 'no URI SAN', chain: () => [testLeaf(root, ID, { uris: [], dnsNames: ['reviews'] }).info], rule: 'no_uri_san', says: /no URI SAN/ },
    { attack: 'a CA certificate used as a leaf', chain: () => [testIntermediate(root, 'ca-as-leaf', { uris: [ID] }).info], rule: 'leaf_is_ca', says: /CA:TRUE/ },
    {
      attack: 'leaf without digitalSignature',
      chain: () => [testLeaf(root, ID, { keyUsage: { flags: KeyUsageBits.keyEncipherment, critical: true } }).info],
      rule: 'no_digital_signature',
      says: /keyUsage keyEncipherment \(expected: keyUsage with digitalSignature\)/,
    },
    { attack: 'leaf without keyUsage', chain: () => [testLeaf(root, ID, { keyUsage: undefined }).info], rule: 'no_digital_signature', says: /no keyUsage extension/ },
    {
      attack: 'keyUsage not critical',
      chain: () => [testLeaf(root, ID, { keyUsage: { flags: KeyUsageBits.digitalSignature, critical: false } }).info],
      rule: 'key_usage_not_critical',
      says: /not marked critical/,
    },
    {
      attack: 'leaf with keyCertSign',
      chain: () => [testLeaf(root, ID, { keyUsage: { flags: KeyUsageBits.digitalSignature | KeyUsageBits.keyCertSign, critical: true } }).info],
      rule: 'leaf_can_sign',
      says: /keyCertSign/,
    },
    { attack: 'EKU without clientAuth', chain: () => [testLeaf(root, ID, { extendedKeyUsage: ['1.3.6.1.5.5.7.3.1'] }).info], rule: 'extended_key_usage', says: /without clientAuth/ },
    { attack: 'trust-domain mismatch (no bundle for it)', chain: () => [testLeaf(other, 'spiffe://other.org/ns/default/sa/reviews').info], rule: 'trust_domain', says: /of trust domain other\.org/ },
    {
      attack: 'trust-domain mismatch (bundle of the other domain signs an ID of ours)',
      chain: () => [testLeaf(other, ID).info],
      against: [bundle, { trustDomain: 'other.org', roots: [other.info] }],
      rule: 'untrusted',
      says: /not a root of trust domain cluster\.local/,
    },
    {
      attack: 'trust domain other than the one expected',
      chain: () => [testLeaf(other, 'spiffe://other.org/ns/default/sa/reviews').info],
      against: [bundle, { trustDomain: 'other.org', roots: [other.info] }],
      options: { expect: { trustDomain: TD } },
      rule: 'trust_domain',
      says: /an identity of trust domain cluster\.local/,
    },
    { attack: 'invalid SPIFFE ID (upper-case trust domain)', chain: () => [testLeaf(root, 'spiffe://Cluster.local/ns/a/sa/b').info], rule: 'invalid_spiffe_id', says: /upper-case/ },
    { attack: 'SPIFFE ID of a trust domain on a leaf', chain: () => [testLeaf(root, `spiffe://${TD}`).info], rule: 'invalid_spiffe_id', says: /ID of a trust domain/ },
    {
      attack: 'forged signature (issuer named, signed by another key)',
      chain: () => [testLeaf({ ...otherRoot, info: root.info }, ID).info],
      rule: 'bad_signature',
      says: /signature does not verify/,
    },
    { attack: 'intermediate not a CA', chain: () => [testLeaf(midNotCa, ID).info, midNotCa.info], rule: 'signing_cert', says: /not a CA/ },
    { attack: 'intermediate without keyCertSign', chain: () => [testLeaf(midNoCertSign, ID).info, midNoCertSign.info], rule: 'signing_cert', says: /without keyUsage keyCertSign/ },
    { attack: 'intermediate beyond pathLenConstraint', chain: () => [testLeaf(midBelowPathZero, ID).info, midBelowPathZero.info, midPathZero.info], rule: 'path_length', says: /pathLenConstraint of 0/ },
    { attack: 'expired intermediate', chain: () => [testLeaf(expiredMid, ID).info, expiredMid.info], rule: 'expired', says: /issuer .*expired-mid/ },
    { attack: 'intermediate missing from the chain', chain: () => [testLeaf(mid, ID).info], rule: 'untrusted', says: /ends at O=test, CN=mid/ },
    {
      attack: 'leaf with an unknown critical extension',
      chain: () => [testLeaf(root, ID, { extraExtensions: [{ id: '1.3.6.1.4.1.99999.1', critical: true, value: Buffer.from([0x05, 0x00]) }] }).info],
      rule: 'unhandled_critical_extension',
      says: /critical extension 1\.3\.6\.1\.4\.1\.99999\.1/,
    },
    {
      attack: 'intermediate with an unknown critical extension',
      chain: () => {
        const odd = testIntermediate(root, 'odd', { extraExtensions: [{ id: '1.3.6.1.4.1.99999.2', critical: true, value: Buffer.from([0x05, 0x00]) }] });
        return [testLeaf(odd, ID).info, odd.info];
      },
      rule: 'unhandled_critical_extension',
      says: /issuer O=test, CN=odd: critical extension 1\.3\.6\.1\.4\.1\.99999\.2/,
    },
    { attack: 'a chain looping on itself, too long', chain: () => Array.from({ length: 11 }, () => mid.info), rule: 'path_length', says: /11 certificates/ },
  ];

  it.each(cases)('refuses: $attack ($rule)', ({ chain, against, options, rule, says }) => {
    const error = refusal(chain(), against, options);
    expect(error.rule).toBe(rule);
    expect(error.code).toBe(`PROXYLESS_ERR_SVID_${rule.toUpperCase()}`);
    expect(error.message).toMatch(says);
    expect(error.message).toContain('(expected: ');
  });

  it('gives each attack of the issue its own code', () => {
    const matrix = ['wrong SPIFFE ID', 'untrusted CA (same trust domain name)', 'expired leaf', 'leaf not yet valid', 'two URI SANs', 'a CA certificate used as a leaf', 'leaf without digitalSignature', 'trust-domain mismatch (no bundle for it)'];
    const codes = matrix.map((attack) => cases.find((c) => c.attack === attack)!).map((c) => refusal(c.chain(), c.against, c.options).code);
    expect(new Set(codes).size).toBe(matrix.length);
  });

  it('checks validity at the time given (injectable clock)', () => {
    expect(() => verifySvid([good.info], bundle, { now: good.info.notAfter.getTime() })).not.toThrow();
    expect(refusal([good.info], bundle, { now: good.info.notAfter.getTime() + 1000 }).rule).toBe('expired');
    expect(refusal([good.info], bundle, { now: new Date(good.info.notBefore.getTime() - 1000) }).rule).toBe('not_yet_valid');
  });

  it('refuses an expired root of the bundle', () => {
    const oldRoot = testRoot(TD, { notBefore: new Date(Date.now() - 3 * HOUR), notAfter: new Date(Date.now() - HOUR) });
    const leaf = testLeaf(oldRoot, ID, { notBefore: new Date(Date.now() - 2 * HOUR) });
    expect(refusal([leaf.info], { trustDomain: TD, roots: [oldRoot.info] }).rule).toBe('expired');
  });
});

describe('key matching and loadSvid', () => {
  it('refuses a key that does not match the certificate (key_mismatch), in words that show no key', () => {
    const stranger = testLeaf(root, ID);
    expect(keyMismatchProblem(good.info, good.key, 'pair')).toBeUndefined();
    const error = keyMismatchProblem(good.info, stranger.key, 'pair')!;
    expect(error.code).toBe('PROXYLESS_ERR_SVID_KEY_MISMATCH');
    expect(() => loadSvid({ certChain: good.pem, key: stranger.keyPem, roots: root.pem })).toThrow(/does not belong to the certificate/);
    expect(() => loadSvid({ certChain: good.pem, key: stranger.keyPem, roots: root.pem })).not.toThrow(/BEGIN|PRIVATE/);
  });

  it('loads a good pair; the SVID prints and serialises without its key', () => {
    const svid = loadSvid({ certChain: good.pem, key: good.keyPem, roots: root.pem });
    expect(svid.spiffeId.uri).toBe(ID);
    expect(svid.bundle.trustDomain).toBe(TD);
    const shown = `${JSON.stringify(svid)} ${inspect(svid)}`;
    expect(shown).toContain(ID);
    expect(shown).not.toMatch(/PRIVATE KEY|BEGIN/);
  });

  it('refuses text that is not a key without echoing it', () => {
    const error = (() => {
      try {
        loadSvid({ certChain: good.pem, key: 'secret-looking-text', roots: root.pem });
      } catch (e) {
        return e as SvidError;
      }
      throw new Error('accepted');
    })();
    expect(error.rule).toBe('malformed');
    expect(error.message).not.toContain('secret-looking-text');
  });

  it('reads the trust domain from the roots, or takes it given', () => {
    expect(trustBundleFromPem(root.pem).trustDomain).toBe(TD);
    const unnamed = testRoot(TD, { uris: [] });
    expect(() => trustBundleFromPem(unnamed.pem)).toThrow(/name no trust domain/);
    expect(trustBundleFromPem(unnamed.pem, { trustDomain: TD }).trustDomain).toBe(TD);
    // Istio's root-cert.pem names no trust domain: the SVID's own is taken.
    const leaf = testLeaf(unnamed, ID);
    expect(loadSvid({ certChain: leaf.pem, key: leaf.keyPem, roots: unnamed.pem }).bundle.trustDomain).toBe(TD);
  });

  it('refuses PEM without a certificate, and a file of too many', () => {
    expect(() => loadSvid({ certChain: '', key: good.keyPem, roots: root.pem })).toThrow(/an empty file/);
    expect(() => loadSvid({ certChain: good.keyPem, key: good.keyPem, roots: root.pem })).toThrow(/no PEM "CERTIFICATE" block/);
    expect(() => loadSvid({ certChain: good.pem.repeat(17), key: good.keyPem, roots: root.pem })).toThrow(/more than 16 certificates/);
  });
});
