import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDevCa, issueSvid, loadDevCa, loadSvid, writeDevCa } from '../../../src/tls/index.js';
import { testIntermediate, testRoot } from '../../helpers/svid-certs.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'proxyless-dev-ca-unit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('dev CA', () => {
  it('writes a CA that loads back, the key 0600, and refuses to overwrite it without force', () => {
    const ca = createDevCa({ trustDomain: 'example.org' });
    writeDevCa(join(dir, 'ca'), ca);
    expect(statSync(join(dir, 'ca', 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'ca')).mode & 0o777).toBe(0o700);
    const loaded = loadDevCa(join(dir, 'ca'));
    expect(loaded.trustDomain).toBe('example.org');
    expect(loaded.chain[0]!.fingerprint256).toBe(ca.chain[0]!.fingerprint256);
    expect(() => writeDevCa(join(dir, 'ca'), createDevCa({ trustDomain: 'example.org' }))).toThrow(/already holds ca-key\.pem/);
    writeDevCa(join(dir, 'ca'), createDevCa({ trustDomain: 'example.org' }), { force: true });
    expect(loadDevCa(join(dir, 'ca')).chain[0]!.fingerprint256).not.toBe(ca.chain[0]!.fingerprint256);
  });

  it('refuses a CA whose key is not its certificate, and one that is not a CA', () => {
    writeDevCa(join(dir, 'ca'), createDevCa({ trustDomain: 'example.org' }));
    writeFileSync(join(dir, 'ca', 'ca-key.pem'), createDevCa({ trustDomain: 'example.org' }).key.export({ type: 'pkcs8', format: 'pem' }));
    expect(() => loadDevCa(join(dir, 'ca'))).toThrow(/does not belong to the certificate/);
    const root = testRoot('example.org');
    const notCa = testIntermediate(root, 'x', { basicConstraints: { ca: false } });
    writeFileSync(join(dir, 'ca', 'ca-cert.pem'), notCa.pem);
    writeFileSync(join(dir, 'ca', 'ca-key.pem'), notCa.keyPem);
    expect(() => loadDevCa(join(dir, 'ca'))).toThrow(/not a CA/);
  });

  it('issues SVIDs from an intermediate CA with the chain below the root, never outliving the CA', () => {
    const root = testRoot('example.org');
    const mid = testIntermediate(root, 'issuing');
    const ca = { trustDomain: 'example.org', chain: [mid.info, root.info], roots: [root.info], key: mid.key };
    const svid = issueSvid(ca, { spiffeId: 'spiffe://example.org/ns/a/sa/b', ttl: '100000h' });
    expect(svid.notAfter.getTime()).toBe(mid.info.notAfter.getTime());
    const loaded = loadSvid({ certChain: svid.certChain, key: svid.key, roots: svid.roots });
    expect(loaded.chain.map((c) => c.fingerprint256)).toEqual([loaded.leaf.fingerprint256, mid.info.fingerprint256]);
    expect(() => issueSvid(ca, { spiffeId: 'spiffe://other.org/ns/a/sa/b' })).toThrow(/an ID of the CA's trust domain example\.org/);
    expect(() => issueSvid(ca, { spiffeId: 'spiffe://example.org' })).toThrow(/a workload ID with a path/);
    expect(() => issueSvid(ca, { spiffeId: 'spiffe://example.org/x', ttl: 'forever' })).toThrow(/ttl: "forever" \(expected: a positive duration/);
  });
});
