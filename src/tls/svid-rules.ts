/**
 * The SPIFFE X.509-SVID rules for one certificate, each a small function that answers
 * undefined (the rule holds) or the {@link SvidError} saying what was presented and what
 * was expected. `verifySvid` runs them in order and throws the first failure;
 * `proxyless certs inspect` runs them all and prints each.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import { SvidError } from '../core/errors/index.js';
import { ExtKeyUsageOids, KeyUsageBits, type CertificateInfo } from './certificate.js';
import { SpiffeId, spiffeIdProblem } from './spiffe-id.js';

/** One rule applied to a leaf certificate. */
export interface LeafRule {
  /** Short name, as `inspect` prints it. */
  readonly name: string;
  /** undefined when the rule holds, else why not. */
  check(leaf: CertificateInfo, what: string): SvidError | undefined;
}

const SPEC = 'the SPIFFE X.509-SVID specification';

/** Exactly one URI SAN, a valid SPIFFE ID with a path. */
export const uriSanRule: LeafRule = {
  name: 'exactly one URI SAN, a SPIFFE ID with a path',
  check(leaf, what) {
    if (leaf.uris.length === 0) {
      return new SvidError('no_uri_san', what, 'no URI SAN', 'exactly one URI SAN spiffe://<trust-domain>/<path>', `An SVID carries its SPIFFE ID as its only URI SAN (${SPEC}); issue it with one.`);
    }
    if (leaf.uris.length > 1) {
      return new SvidError(
        'multiple_uri_sans',
        what,
        `${leaf.uris.length} URI SANs (${leaf.uris.map((u) => JSON.stringify(u)).join(', ')})`,
        'exactly one URI SAN',
        `An SVID names exactly one identity (${SPEC}); a certificate with several is refused rather than guessed at.`,
      );
    }
    const uri = leaf.uris[0]!;
    const problem = spiffeIdProblem(uri);
    if (problem !== undefined) {
      return new SvidError('invalid_spiffe_id', what, `URI SAN ${JSON.stringify(uri)}, which is not a SPIFFE ID: ${problem}`, 'spiffe://<trust-domain>/<path> by the SPIFFE ID grammar', 'Issue the certificate with a valid SPIFFE ID.');
    }
    if (SpiffeId.parse(uri).path === '') {
      return new SvidError('invalid_spiffe_id', what, `SPIFFE ID ${uri}, the ID of a trust domain`, 'a workload ID with a path (spiffe://<trust-domain>/<path>)', 'A leaf SVID names a workload, not a trust domain.');
    }
    return undefined;
  },
};

/** basicConstraints says the leaf is not a CA. */
export const notCaRule: LeafRule = {
  name: 'leaf is not a CA (basicConstraints)',
  check(leaf, what) {
    if (leaf.basicConstraints?.ca !== true) return undefined;
    return new SvidError('leaf_is_ca', what, 'a CA certificate (basicConstraints CA:TRUE)', 'a leaf certificate (CA:FALSE or no basicConstraints)', 'A CA certificate cannot be a workload identity; use a leaf issued by the CA.');
  },
};

/** keyUsage is present and has digitalSignature. */
export const digitalSignatureRule: LeafRule = {
  name: 'keyUsage has digitalSignature',
  check(leaf, what) {
    const usage = leaf.keyUsage;
    if (usage && (usage.flags & KeyUsageBits.digitalSignature) !== 0) return undefined;
    return new SvidError(
      'no_digital_signature',
      what,
      usage ? `keyUsage ${usage.names.join(', ') || '(no bit set)'}` : 'no keyUsage extension',
      'keyUsage with digitalSignature',
      `A leaf SVID must be allowed to sign the TLS handshake (${SPEC}); issue it with keyUsage digitalSignature.`,
    );
  },
};

/** keyUsage is marked critical. */
export const keyUsageCriticalRule: LeafRule = {
  name: 'keyUsage is critical',
  check(leaf, what) {
    if (!leaf.keyUsage || leaf.keyUsage.critical) return undefined; // absence is digitalSignatureRule's
    return new SvidError('key_usage_not_critical', what, 'a keyUsage extension not marked critical', 'keyUsage marked critical', `${SPEC} requires the keyUsage extension to be critical.`);
  },
};

/** keyUsage has neither keyCertSign nor cRLSign. */
export const cannotSignRule: LeafRule = {
  name: 'keyUsage has no keyCertSign or cRLSign',
  check(leaf, what) {
    const flags = leaf.keyUsage?.flags ?? 0;
    const bad = [flags & KeyUsageBits.keyCertSign ? 'keyCertSign' : '', flags & KeyUsageBits.cRLSign ? 'cRLSign' : ''].filter(Boolean);
    if (bad.length === 0) return undefined;
    return new SvidError('leaf_can_sign', what, `keyUsage ${bad.join(' and ')}`, 'a leaf that cannot sign certificates or CRLs', 'A workload certificate must not be able to issue others; remove those key usages.');
  },
};

/** extendedKeyUsage, when present, has both serverAuth and clientAuth. */
export const extendedKeyUsageRule: LeafRule = {
  name: 'extendedKeyUsage (when present) has serverAuth and clientAuth',
  check(leaf, what) {
    const eku = leaf.extendedKeyUsage;
    if (eku === undefined || eku.includes(ExtKeyUsageOids.any)) return undefined;
    const missing = [eku.includes(ExtKeyUsageOids.serverAuth) ? '' : 'serverAuth', eku.includes(ExtKeyUsageOids.clientAuth) ? '' : 'clientAuth'].filter(Boolean);
    if (missing.length === 0) return undefined;
    return new SvidError(
      'extended_key_usage',
      what,
      `extendedKeyUsage without ${missing.join(' and ')} (${eku.join(', ') || 'empty'})`,
      'both serverAuth and clientAuth',
      'A mesh workload is both a TLS client and a TLS server; issue the certificate with both, or with no extendedKeyUsage.',
    );
  },
};

/** A certificate has no critical extension we do not process (RFC 5280 §4.2). */
export function criticalExtensionProblem(cert: CertificateInfo, what: string): SvidError | undefined {
  if (cert.unhandledCritical.length === 0) return undefined;
  return new SvidError(
    'unhandled_critical_extension',
    what,
    `critical extension${cert.unhandledCritical.length > 1 ? 's' : ''} ${cert.unhandledCritical.join(', ')}, which this verifier does not process`,
    'no critical extension other than basicConstraints, keyUsage, extendedKeyUsage, subjectAltName and key identifiers',
    'RFC 5280 requires refusing a certificate with a critical extension the verifier does not understand.',
  );
}

/** No critical extension the verifier does not process. */
export const criticalExtensionsRule: LeafRule = {
  name: 'no critical extension left unprocessed',
  check: criticalExtensionProblem,
};

/** Every rule for a leaf SVID, in the order `verifySvid` applies them. */
export const LEAF_RULES: readonly LeafRule[] = [uriSanRule, notCaRule, digitalSignatureRule, keyUsageCriticalRule, cannotSignRule, extendedKeyUsageRule, criticalExtensionsRule];

/** The validity window of `cert` contains `now` (ms since the epoch). */
export function validityProblem(cert: CertificateInfo, now: number, what: string): SvidError | undefined {
  if (now < cert.notBefore.getTime()) {
    return new SvidError(
      'not_yet_valid',
      what,
      `a certificate valid from ${cert.notBefore.toISOString()}, at ${new Date(now).toISOString()}`,
      'the current time within notBefore..notAfter',
      "It is not valid yet: check this host's clock and the issuer's.",
    );
  }
  if (now > cert.notAfter.getTime()) {
    return new SvidError(
      'expired',
      what,
      `a certificate that expired at ${cert.notAfter.toISOString()}, at ${new Date(now).toISOString()}`,
      'the current time within notBefore..notAfter',
      'Renew it (is the identity source rotating certificates?), or check the clock.',
    );
  }
  return undefined;
}

/** A signing certificate (an intermediate) is a CA with keyCertSign. */
export function signingCertProblem(cert: CertificateInfo, what: string): SvidError | undefined {
  if (cert.basicConstraints?.ca !== true) {
    return new SvidError('signing_cert', what, `an issuing certificate (${oneLine(cert.subject)}) that is not a CA`, 'basicConstraints CA:TRUE', 'Only a CA may issue SVIDs; check the certificate chain file.');
  }
  if (cert.keyUsage === undefined || (cert.keyUsage.flags & KeyUsageBits.keyCertSign) === 0) {
    return new SvidError('signing_cert', what, `an issuing CA (${oneLine(cert.subject)}) without keyUsage keyCertSign`, 'keyUsage keyCertSign', 'A signing certificate of an SVID chain must have keyCertSign.');
  }
  return undefined;
}

/** The private key belongs to the leaf certificate. */
export function keyMismatchProblem(leaf: CertificateInfo, key: KeyObject, what: string): SvidError | undefined {
  let matches = false;
  try {
    matches = leaf.x509.checkPrivateKey(key);
  } catch {
    matches = false; // a key of another type
  }
  if (matches) return undefined;
  return new SvidError(
    'key_mismatch',
    what,
    `a ${String(key.asymmetricKeyType)} private key that does not belong to the certificate (${leaf.uris[0] ?? oneLine(leaf.subject)})`,
    "the certificate's own private key",
    'The certificate and key files come from different issuances (one was replaced without the other).',
  );
}

/** A multi-line OpenSSL name on one line. */
export function oneLine(name: string): string {
  return name.replace(/\n/g, ', ') || '(empty subject)';
}
