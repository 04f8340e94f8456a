/**
 * Workload identity errors (SPIFFE SVIDs).
 *
 * @module
 */
import { ProxylessError } from './base.js';

/**
 * The SPIFFE X.509-SVID rule an {@link SvidError} reports; its code is
 * `PROXYLESS_ERR_SVID_` followed by the rule in upper case.
 */
export type SvidRule =
  /** Not a certificate, key or PEM block we can read (or an extension appears twice). */
  | 'malformed'
  /** The leaf carries no URI SAN. */
  | 'no_uri_san'
  /** The leaf carries more than one URI SAN. */
  | 'multiple_uri_sans'
  /** The URI SAN is not a valid SPIFFE ID (or a leaf's ID has no path). */
  | 'invalid_spiffe_id'
  /** The leaf says it is a CA (basicConstraints cA true). */
  | 'leaf_is_ca'
  /** The leaf has no keyUsage extension, or it lacks digitalSignature. */
  | 'no_digital_signature'
  /** The leaf's keyUsage extension is not marked critical. */
  | 'key_usage_not_critical'
  /** The leaf may sign certificates or CRLs (keyCertSign, cRLSign). */
  | 'leaf_can_sign'
  /** The leaf has an extendedKeyUsage without both serverAuth and clientAuth. */
  | 'extended_key_usage'
  /** A certificate of the chain is past its notAfter. */
  | 'expired'
  /** A certificate of the chain is before its notBefore. */
  | 'not_yet_valid'
  /** No chain leads from the leaf to a root of the trust bundle. */
  | 'untrusted'
  /** An issuer was found by name but its signature on the certificate does not verify. */
  | 'bad_signature'
  /** A signing (intermediate) certificate is not a CA with keyCertSign. */
  | 'signing_cert'
  /** The chain is longer than a CA's pathLenConstraint or than the bound we accept. */
  | 'path_length'
  /** The SVID's trust domain is not the one expected or has no trust bundle. */
  | 'trust_domain'
  /** The SPIFFE ID is valid and trusted but not the identity expected. */
  | 'unexpected_id'
  /** The private key does not belong to the leaf certificate. */
  | 'key_mismatch'
  /** A certificate of the chain has a critical extension we do not process (RFC 5280 §4.2: refuse it). */
  | 'unhandled_critical_extension';

/**
 * An X.509-SVID (a workload certificate) broke a rule of the SPIFFE X.509-SVID
 * specification or of the trust it was checked against. `rule` (and `code`) say which;
 * `presented` and `expected` say what the certificate had and what the rule wants.
 */
export class SvidError extends ProxylessError {
  /** The rule broken. */
  readonly rule: SvidRule;
  /** What the certificate (or key) presented, in words. */
  readonly presented: string;
  /** What the rule expected, in words. */
  readonly expected: string;

  /**
   * @param rule the rule; @param subject what was checked (e.g. `leaf certificate of /etc/certs/cert-chain.pem`);
   * @param presented what it had; @param expected what the rule wants; @param advice what to change
   */
  constructor(rule: SvidRule, subject: string, presented: string, expected: string, advice: string, options?: ErrorOptions) {
    super(
      `PROXYLESS_ERR_SVID_${rule.toUpperCase()}`,
      `${subject}: ${presented} (expected: ${expected}). ${advice}`,
      options,
    );
    this.rule = rule;
    this.presented = presented;
    this.expected = expected;
  }
}

/** An identity source's `ready()` gave up, or the source closed before its first SVID. */
export class IdentityNotReadyError extends ProxylessError {
  /** @param source the source's name; @param why what happened; @param last the last error it reported */
  constructor(source: string, why: string, last: Error | undefined) {
    super(
      'PROXYLESS_ERR_IDENTITY_NOT_READY',
      `identity source ${source} has no SVID: ${why}` + (last ? `; last error: ${last.message}` : '') + '. Check that the certificate files exist and are valid (`proxyless certs inspect`), or the CA directory.',
      last ? { cause: last } : undefined,
    );
  }
}

/** A string is not a valid SPIFFE ID; `reason` names the rule of the grammar it breaks. */
export class InvalidSpiffeIdError extends ProxylessError {
  /** The rule broken, in words. */
  readonly reason: string;

  /** @param value what was given; @param reason the rule it breaks */
  constructor(value: string, reason: string) {
    super(
      'PROXYLESS_ERR_INVALID_SPIFFE_ID',
      `${JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value)} is not a valid SPIFFE ID: ${reason}`,
    );
    this.reason = reason;
  }
}
