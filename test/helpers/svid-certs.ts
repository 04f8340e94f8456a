// Certificates made at test time: a CA per trust domain, intermediates, and leaves that
// follow every SVID rule unless a test asks for one broken.
import { ExtKeyUsageOids, KeyUsageBits, parseCertificate, toPem, type CertificateInfo } from '../../src/tls/certificate.js';
import { createCertificate, generateKeyPair, type CertificateSpec } from '../../src/tls/create-certificate.js';
import type { KeyObject } from 'node:crypto';

/** A certificate with its key. */
export interface TestCert {
  readonly info: CertificateInfo;
  readonly key: KeyObject;
  readonly pem: string;
  readonly keyPem: string;
}

const HOUR = 3600_000;

function make(spec: CertificateSpec, key: KeyObject): TestCert {
  const info = parseCertificate(createCertificate(spec));
  return { info, key, pem: toPem(info.der), keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A self-signed root for `trustDomain`. */
export function testRoot(trustDomain: string, overrides: Partial<CertificateSpec> = {}, now = Date.now()): TestCert {
  const keys = generateKeyPair();
  return make(
    {
      publicKey: keys.publicKey,
      signingKey: keys.privateKey,
      subject: { O: trustDomain, CN: `root ${Math.random().toString(36).slice(2, 8)}` },
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 24 * HOUR),
      basicConstraints: { ca: true },
      keyUsage: { flags: KeyUsageBits.keyCertSign | KeyUsageBits.cRLSign, critical: true },
      uris: [`spiffe://${trustDomain}`],
      ...overrides,
    },
    keys.privateKey,
  );
}

/** An intermediate CA under `issuer`. */
export function testIntermediate(issuer: TestCert, name: string, overrides: Partial<CertificateSpec> = {}, now = Date.now()): TestCert {
  const keys = generateKeyPair();
  return make(
    {
      publicKey: keys.publicKey,
      signingKey: issuer.key,
      issuer: issuer.info.der,
      subject: { O: 'test', CN: name },
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 12 * HOUR),
      basicConstraints: { ca: true },
      keyUsage: { flags: KeyUsageBits.keyCertSign | KeyUsageBits.cRLSign, critical: true },
      ...overrides,
    },
    keys.privateKey,
  );
}

/** A leaf SVID for `spiffeId` under `issuer`, following every rule unless overridden. */
export function testLeaf(issuer: TestCert, spiffeId: string, overrides: Partial<CertificateSpec> = {}, now = Date.now()): TestCert {
  const keys = generateKeyPair();
  return make(
    {
      publicKey: keys.publicKey,
      signingKey: issuer.key,
      issuer: issuer.info.der,
      subject: { O: 'test' },
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + HOUR),
      basicConstraints: { ca: false },
      keyUsage: { flags: KeyUsageBits.digitalSignature | KeyUsageBits.keyEncipherment, critical: true },
      extendedKeyUsage: [ExtKeyUsageOids.serverAuth, ExtKeyUsageOids.clientAuth],
      uris: [spiffeId],
      ...overrides,
    },
    keys.privateKey,
  );
}
