/**
 * Reading X.509 certificates: PEM blocks into DER, DER into the fields the SVID rules
 * look at. The extensions are decoded with `@peculiar/asn1-x509` because Node exposes
 * neither basicConstraints nor the keyUsage bits (its `X509Certificate.ca` is false for a
 * CA:TRUE certificate without keyCertSign, and its `keyUsage` is the extended key usage);
 * Node's `X509Certificate` is kept for what it does right: signature checks, key
 * matching, fingerprints.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  SubjectAlternativeName,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  type Name,
} from '@peculiar/asn1-x509';
import { SvidError } from '../core/errors/index.js';

/** The most certificates one PEM file or chain may hold (a real SVID chain has 1 to 4). */
export const MAX_CHAIN_CERTIFICATES = 16;
/** The largest certificate accepted, in bytes of DER. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;

/** The keyUsage bits (RFC 5280 §4.2.1.3), as `KeyUsageInfo.flags` holds them. */
export const KeyUsageBits = {
  /** Signing (the TLS handshake): required on an SVID. */
  digitalSignature: 1,
  /** Non-repudiation (content commitment). */
  nonRepudiation: 2,
  /** Key encipherment (RSA key exchange). */
  keyEncipherment: 4,
  /** Data encipherment. */
  dataEncipherment: 8,
  /** Key agreement. */
  keyAgreement: 16,
  /** Signing certificates: CAs only. */
  keyCertSign: 32,
  /** Signing CRLs: CAs only. */
  cRLSign: 64,
  /** With keyAgreement: encipher only. */
  encipherOnly: 128,
  /** With keyAgreement: decipher only. */
  decipherOnly: 256,
} as const;

/** The extended key usage OIDs the SVID rules name. */
export const ExtKeyUsageOids = {
  /** TLS server authentication. */
  serverAuth: '1.3.6.1.5.5.7.3.1',
  /** TLS client authentication. */
  clientAuth: '1.3.6.1.5.5.7.3.2',
  /** Any extended key usage. */
  any: '2.5.29.37.0',
} as const;

/** A certificate's keyUsage extension. */
export interface KeyUsageInfo {
  /** The bits set, see {@link KeyUsageBits}. */
  readonly flags: number;
  /** Whether the extension is marked critical. */
  readonly critical: boolean;
  /** The names of the bits set, e.g. `['digitalSignature', 'keyEncipherment']`. */
  readonly names: readonly string[];
}

/** A certificate's basicConstraints extension. */
export interface BasicConstraintsInfo {
  /** cA: whether the certificate may issue others. */
  readonly ca: boolean;
  /** pathLenConstraint: how many intermediates may follow below it. */
  readonly pathLength?: number;
  /** Whether the extension is marked critical. */
  readonly critical: boolean;
}

/** A parsed certificate: the fields the SVID rules and `proxyless certs inspect` use. */
export interface CertificateInfo {
  /** The DER bytes. */
  readonly der: Buffer;
  /** Node's view of it (signature checks, key matching, fingerprints). */
  readonly x509: X509Certificate;
  /** The subject, as OpenSSL prints it (one `key=value` per line). */
  readonly subject: string;
  /** The issuer, as OpenSSL prints it. */
  readonly issuer: string;
  /** The subject name's DER (issuer matching compares these). */
  readonly subjectKey: string;
  /** The issuer name's DER (issuer matching compares these). */
  readonly issuerKey: string;
  /** The serial number, hex. */
  readonly serialNumber: string;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** basicConstraints, when present. */
  readonly basicConstraints?: BasicConstraintsInfo;
  /** keyUsage, when present. */
  readonly keyUsage?: KeyUsageInfo;
  /** extendedKeyUsage OIDs, when present. */
  readonly extendedKeyUsage?: readonly string[];
  /** URI SANs, in order. */
  readonly uris: readonly string[];
  /** DNS SANs, in order. */
  readonly dnsNames: readonly string[];
  /** SHA-256 fingerprint, `AA:BB:...`. */
  readonly fingerprint256: string;
  /** OIDs of critical extensions this module does not process (RFC 5280 says: refuse the certificate). */
  readonly unhandledCritical: readonly string[];
}

/** Extensions whose meaning is processed here or by the rules (the key identifiers only help find issuers). */
const HANDLED = new Set([id_ce_basicConstraints, id_ce_keyUsage, id_ce_extKeyUsage, id_ce_subjectAltName, '2.5.29.14', '2.5.29.35']);

function names(flags: number): string[] {
  return Object.entries(KeyUsageBits)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name);
}

function nameKey(name: Name): string {
  return Buffer.from(AsnConvert.serialize(name)).toString('base64');
}

function malformed(what: string, presented: string, cause?: unknown): SvidError {
  return new SvidError(
    'malformed',
    what,
    presented,
    'a DER X.509 v3 certificate in a PEM "CERTIFICATE" block',
    'Check that the file holds the certificate it should (not a key, not a truncated copy).',
    cause === undefined ? undefined : { cause },
  );
}

/** Parses one DER certificate; throws {@link SvidError} `malformed` naming `what`. */
export function parseCertificate(der: Buffer, what = 'certificate'): CertificateInfo {
  if (der.length > MAX_CERTIFICATE_BYTES) throw malformed(what, `${der.length} bytes of DER`);
  let x509: X509Certificate;
  let cert: Certificate;
  try {
    x509 = new X509Certificate(der);
    cert = AsnConvert.parse(der, Certificate);
  } catch (error) {
    throw malformed(what, `bytes that do not parse as a certificate (${(error as Error).message})`, error);
  }
  const tbs = cert.tbsCertificate;
  let basicConstraints: CertificateInfo['basicConstraints'];
  let keyUsage: KeyUsageInfo | undefined;
  let extendedKeyUsage: string[] | undefined;
  const uris: string[] = [];
  const dnsNames: string[] = [];
  const seen = new Set<string>();
  const unhandledCritical: string[] = [];
  try {
    for (const extension of tbs.extensions ?? []) {
      // RFC 5280 §4.2: an extension appears at most once. Two subjectAltName extensions
      // could otherwise smuggle a second URI SAN past a reader that looks at the first.
      if (seen.has(extension.extnID)) throw new Error(`extension ${extension.extnID} appears twice`);
      seen.add(extension.extnID);
      if (extension.critical && !HANDLED.has(extension.extnID)) unhandledCritical.push(extension.extnID);
      const value = extension.extnValue.buffer;
      switch (extension.extnID) {
        case id_ce_basicConstraints: {
          const bc = AsnConvert.parse(value, BasicConstraints);
          basicConstraints = { ca: bc.cA, critical: extension.critical, ...(bc.pathLenConstraint === undefined ? {} : { pathLength: bc.pathLenConstraint }) };
          break;
        }
        case id_ce_keyUsage: {
          const flags = AsnConvert.parse(value, KeyUsage).toNumber();
          keyUsage = { flags, critical: extension.critical, names: names(flags) };
          break;
        }
        case id_ce_extKeyUsage:
          extendedKeyUsage = [...AsnConvert.parse(value, ExtendedKeyUsage)];
          break;
        case id_ce_subjectAltName:
          for (const name of AsnConvert.parse(value, SubjectAlternativeName)) {
            if (name.uniformResourceIdentifier !== undefined) uris.push(name.uniformResourceIdentifier);
            if (name.dNSName !== undefined) dnsNames.push(name.dNSName);
          }
          break;
      }
    }
  } catch (error) {
    if (error instanceof SvidError) throw error;
    throw malformed(what, `a certificate whose extensions do not parse (${(error as Error).message})`, error);
  }
  return {
    der,
    x509,
    subject: x509.subject,
    issuer: x509.issuer,
    subjectKey: nameKey(tbs.subject),
    issuerKey: nameKey(tbs.issuer),
    serialNumber: x509.serialNumber,
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    ...(basicConstraints ? { basicConstraints } : {}),
    ...(keyUsage ? { keyUsage } : {}),
    ...(extendedKeyUsage ? { extendedKeyUsage } : {}),
    uris,
    dnsNames,
    fingerprint256: x509.fingerprint256,
    unhandledCritical,
  };
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----([A-Za-z0-9+/=\s]*?)-----END \1-----/g;

/**
 * The `CERTIFICATE` blocks of a PEM text, as DER, in order. Other blocks (a key bundled
 * in the same file) are skipped; text outside blocks (OpenSSL's `subject=` lines) is
 * ignored. Throws {@link SvidError} `malformed` when there is no certificate, or more than
 * {@link MAX_CHAIN_CERTIFICATES}.
 */
export function pemCertificates(text: string, what: string): Buffer[] {
  const out: Buffer[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    if (match[1] !== 'CERTIFICATE') continue;
    if (out.length === MAX_CHAIN_CERTIFICATES) throw malformed(what, `more than ${MAX_CHAIN_CERTIFICATES} certificates`);
    out.push(Buffer.from(match[2]!.replace(/\s+/g, ''), 'base64'));
  }
  if (out.length === 0) throw malformed(what, text.trim() === '' ? 'an empty file' : 'no PEM "CERTIFICATE" block');
  return out;
}

/** Parses every certificate of a PEM text (its `CERTIFICATE` blocks, at most 16). */
export function parsePemCertificates(text: string, what: string): CertificateInfo[] {
  return pemCertificates(text, what).map((der, i, all) => parseCertificate(der, all.length > 1 ? `${what} (certificate ${i + 1})` : what));
}

/** A DER certificate as a PEM block. */
export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${base64}${base64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}
