/**
 * An X.509-SVID held in memory: the certificate chain, its private key and the trust
 * bundle it was verified against. Loading one checks everything a handshake would rely
 * on, so a source never hands out a pair that cannot work.
 *
 * @module
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { SvidError } from '../core/errors/index.js';
import { parsePemCertificates, toPem, type CertificateInfo } from './certificate.js';
import type { SpiffeId } from './spiffe-id.js';
import { keyMismatchProblem } from './svid-rules.js';
import { trustBundleFromPem, type TrustBundle } from './trust-bundle.js';
import { verifySvid } from './verify-svid.js';

/**
 * A workload's X.509-SVID: what a TLS client or server presents, and the roots it trusts.
 * The private key is never part of its printed or JSON form.
 */
export class X509Svid {
  /** The SPIFFE ID. */
  readonly spiffeId: SpiffeId;
  /** The certificates presented: the leaf first, then any intermediates. */
  readonly chain: readonly CertificateInfo[];
  /** The roots of this workload's trust domain. */
  readonly bundle: TrustBundle;
  /** The private key of the leaf. */
  readonly privateKey: KeyObject;

  /** @internal Use {@link loadSvid}: it checks what this constructor trusts. */
  constructor(spiffeId: SpiffeId, chain: readonly CertificateInfo[], bundle: TrustBundle, privateKey: KeyObject) {
    this.spiffeId = spiffeId;
    this.chain = chain;
    this.bundle = bundle;
    this.privateKey = privateKey;
  }

  /** The leaf certificate. */
  get leaf(): CertificateInfo {
    return this.chain[0]!;
  }

  /** When the leaf's validity starts. */
  get notBefore(): Date {
    return this.leaf.notBefore;
  }

  /** When the leaf expires. */
  get notAfter(): Date {
    return this.leaf.notAfter;
  }

  /** The chain as PEM (leaf first), as `cert-chain.pem` holds it. */
  certChainPem(): string {
    return this.chain.map((c) => toPem(c.der)).join('');
  }

  /** The roots as PEM, as `root-cert.pem` holds them. */
  rootsPem(): string {
    return this.bundle.roots.map((c) => toPem(c.der)).join('');
  }

  /** A summary without the key (JSON and `console.log` show this). */
  toJSON(): SvidSummary {
    return {
      spiffeId: this.spiffeId.uri,
      notBefore: this.notBefore.toISOString(),
      notAfter: this.notAfter.toISOString(),
      serialNumber: this.leaf.serialNumber,
      trustDomain: this.bundle.trustDomain,
    };
  }

  /** `console.log` shows the summary, never the key. */
  [inspect.custom](): string {
    return `X509Svid ${inspect(this.toJSON())}`;
  }
}

/** What an {@link X509Svid} shows of itself: never the key. */
export interface SvidSummary {
  /** The SPIFFE ID. */
  readonly spiffeId: string;
  /** Start of validity (ISO 8601). */
  readonly notBefore: string;
  /** End of validity (ISO 8601). */
  readonly notAfter: string;
  /** The leaf's serial number, hex. */
  readonly serialNumber: string;
  /** The trust domain of the bundle. */
  readonly trustDomain: string;
}

/** What {@link loadSvid} reads. */
export interface SvidPem {
  /** The certificate chain, leaf first (PEM). */
  readonly certChain: string;
  /** The leaf's private key (PEM: PKCS#8, SEC1 or PKCS#1). */
  readonly key: string;
  /** The trust bundle's roots (PEM). */
  readonly roots: string;
  /** The roots' trust domain; default: the one the roots name, else the SVID's own. */
  readonly trustDomain?: string;
  /** Names of the three parts for messages, e.g. file paths. */
  readonly names?: {
    /** Name of the chain, e.g. its path. */
    readonly certChain?: string;
    /** Name of the key, e.g. its path. */
    readonly key?: string;
    /** Name of the roots, e.g. their path. */
    readonly roots?: string;
  };
  /** The time validity is checked at (default now). */
  readonly now?: number | Date;
}

/**
 * Reads and checks an SVID: every certificate parses, the leaf follows the SVID rules and
 * chains to the roots, every certificate of the chain is valid now, and the key is the
 * leaf's. Throws {@link SvidError} naming the part and the rule.
 */
export function loadSvid(pem: SvidPem): X509Svid {
  const names = { certChain: 'certificate chain', key: 'private key', roots: 'root certificates', ...pem.names };
  const chain = parsePemCertificates(pem.certChain, names.certChain);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem.key);
  } catch (error) {
    // Never echo the key's text: only what kind of problem it is.
    throw new SvidError('malformed', names.key, 'text that is not a PEM private key', 'a PEM private key (PKCS#8, SEC1 or PKCS#1)', 'Check the key file (is it complete? is it the key and not a certificate?).', { cause: error });
  }
  let trustDomain = pem.trustDomain;
  if (trustDomain === undefined) {
    // Roots that name their trust domain say it; otherwise they are the SVID's own (a
    // workload's root-cert.pem is its own trust domain's, as istio-agent writes it).
    try {
      trustDomain = trustBundleFromPem(pem.roots, { what: names.roots }).trustDomain;
    } catch (error) {
      if (!(error instanceof SvidError) || error.rule !== 'trust_domain') throw error;
      const uri = chain[0]!.uris.length === 1 ? chain[0]!.uris[0]! : undefined;
      trustDomain = uri?.startsWith('spiffe://') ? uri.slice(9).split('/')[0] : undefined;
    }
  }
  const bundle = trustBundleFromPem(pem.roots, { what: names.roots, ...(trustDomain === undefined ? {} : { trustDomain }) });
  const verified = verifySvid(chain, bundle, { what: `${names.certChain}: leaf certificate`, ...(pem.now === undefined ? {} : { now: pem.now }) });
  const mismatch = keyMismatchProblem(chain[0]!, privateKey, `${names.key} and ${names.certChain}`);
  if (mismatch) throw mismatch;
  return new X509Svid(verified.spiffeId, chain, bundle, privateKey);
}
