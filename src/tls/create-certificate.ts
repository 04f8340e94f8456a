/**
 * Making X.509 certificates (Node has no API for it): the TBSCertificate is built with
 * `@peculiar/asn1-x509`'s schema classes and signed with `node:crypto`. The extensions are
 * exactly those asked for, so tests can also make the broken certificates the SVID
 * rules must refuse.
 *
 * @module
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';

/** The key types we generate. Istio's default is RSA 2048; P-256 is faster to make and to use. */
export type KeyType = 'ec-p256' | 'rsa-2048';

/** Generates a key pair of `type` (default `ec-p256`). */
export function generateKeyPair(type: KeyType = 'ec-p256'): { privateKey: KeyObject; publicKey: KeyObject } {
  return type === 'rsa-2048' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** What to put in a certificate. Every extension is optional: what is not asked for is absent. */
export interface CertificateSpec {
  /** The subject's public key. */
  readonly publicKey: KeyObject;
  /** The issuer's private key (the subject's own for a self-signed certificate). */
  readonly signingKey: KeyObject;
  /** The issuer's certificate (DER); absent for a self-signed certificate. */
  readonly issuer?: Buffer;
  /** Subject attributes, e.g. `{ O: 'cluster.local', CN: 'root' }` (O, OU, CN, C supported). */
  readonly subject: Readonly<Partial<Record<'C' | 'O' | 'OU' | 'CN', string>>>;
  /** Validity window. */
  readonly notBefore: Date;
  /** Validity window. */
  readonly notAfter: Date;
  /** basicConstraints (critical): `{ ca: true, pathLength? }` or `{ ca: false }`. */
  readonly basicConstraints?: { readonly ca: boolean; readonly pathLength?: number };
  /** keyUsage bits (see `KeyUsageBits`) and whether the extension is critical. */
  readonly keyUsage?: { readonly flags: number; readonly critical: boolean };
  /** extendedKeyUsage OIDs. */
  readonly extendedKeyUsage?: readonly string[];
  /** URI SANs (SPIFFE IDs). */
  readonly uris?: readonly string[];
  /** DNS SANs. */
  readonly dnsNames?: readonly string[];
  /** Further extensions, as DER values (tests use them for what the rules must refuse). */
  readonly extraExtensions?: readonly { readonly id: string; readonly critical: boolean; readonly value: Buffer }[];
  /** Serial number (positive, at most 20 bytes); default 16 random bytes. */
  readonly serialNumber?: Buffer;
}

const SUBJECT_OIDS = { C: '2.5.4.6', O: '2.5.4.10', OU: '2.5.4.11', CN: '2.5.4.3' } as const;

function buildName(subject: CertificateSpec['subject']): Name {
  const rdns: RelativeDistinguishedName[] = [];
  for (const key of ['C', 'O', 'OU', 'CN'] as const) {
    const value = subject[key];
    if (value === undefined) continue;
    const attribute = key === 'C' ? new AttributeValue({ printableString: value }) : new AttributeValue({ utf8String: value });
    rdns.push(new RelativeDistinguishedName([new AttributeTypeAndValue({ type: SUBJECT_OIDS[key], value: attribute })]));
  }
  return new Name(rdns);
}

function spki(publicKey: KeyObject): SubjectPublicKeyInfo {
  return AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
}

/** The key identifier of RFC 5280 §4.2.1.2 method (1): SHA-1 of the public key bits. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(Buffer.from(spki(publicKey).subjectPublicKey)).digest();
}

/** The signature algorithm for a signing key, and the digest `crypto.sign` takes. */
function signatureAlgorithm(key: KeyObject): { id: AlgorithmIdentifier; digest: string } {
  if (key.asymmetricKeyType === 'ec') return { id: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }), digest: 'sha256' };
  if (key.asymmetricKeyType === 'rsa') return { id: new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: null }), digest: 'sha256' };
  throw new TypeError(`signing key type ${String(key.asymmetricKeyType)} is not supported (expected: ec or rsa)`);
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function serial(given: Buffer | undefined): ArrayBuffer {
  const bytes = Buffer.from(given ?? randomBytes(16));
  if (given === undefined) {
    bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, and no leading zero byte to strip
  }
  return new Uint8Array(bytes).buffer;
}

/** Makes and signs a certificate; returns its DER. */
export function createCertificate(spec: CertificateSpec): Buffer {
  const issuerCert = spec.issuer ? AsnConvert.parse(spec.issuer, Certificate) : undefined;
  const subject = buildName(spec.subject);
  const issuerName = issuerCert ? issuerCert.tbsCertificate.subject : subject;
  const extensions: Extension[] = [];
  if (spec.basicConstraints) {
    const bc = new BasicConstraints({ cA: spec.basicConstraints.ca });
    if (spec.basicConstraints.pathLength !== undefined) bc.pathLenConstraint = spec.basicConstraints.pathLength;
    extensions.push(extension(id_ce_basicConstraints, true, bc));
  }
  if (spec.keyUsage) extensions.push(extension(id_ce_keyUsage, spec.keyUsage.critical, new KeyUsage(spec.keyUsage.flags)));
  if (spec.extendedKeyUsage) extensions.push(extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([...spec.extendedKeyUsage])));
  const altNames = [
    ...(spec.uris ?? []).map((uri) => new GeneralName({ uniformResourceIdentifier: uri })),
    ...(spec.dnsNames ?? []).map((dns) => new GeneralName({ dNSName: dns })),
  ];
  // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
  if (altNames.length > 0) extensions.push(extension(id_ce_subjectAltName, subject.length === 0, new SubjectAlternativeName(altNames)));
  extensions.push(extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(new Uint8Array(keyIdentifier(spec.publicKey)))));
  const authorityKey = issuerCert
    ? Buffer.from(issuerCert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)
    : Buffer.from(spki(spec.publicKey).subjectPublicKey);
  extensions.push(
    extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(new Uint8Array(createHash('sha1').update(authorityKey).digest())) })),
  );
  for (const extra of spec.extraExtensions ?? []) {
    extensions.push(new Extension({ extnID: extra.id, critical: extra.critical, extnValue: new OctetString(new Uint8Array(extra.value)) }));
  }
  const algorithm = signatureAlgorithm(spec.signingKey);
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serial(spec.serialNumber),
    signature: algorithm.id,
    issuer: issuerName,
    validity: new Validity({ notBefore: spec.notBefore, notAfter: spec.notAfter }),
    subject,
    subjectPublicKeyInfo: spki(spec.publicKey),
    extensions: new Extensions(extensions),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign(algorithm.digest, tbsDer, spec.signingKey);
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: algorithm.id, signatureValue: new Uint8Array(signature).buffer });
  return Buffer.from(AsnConvert.serialize(cert));
}
