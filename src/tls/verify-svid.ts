/**
 * Verifying an X.509-SVID: the leaf rules, the trust domain's bundle, a chain to one of
 * its roots (signatures, validity windows, CA rules), and, when asked, the identity
 * expected. Our own code, after go-spiffe's `x509svid.Verify` (learned from, not copied):
 * every failure is an {@link SvidError} with the rule broken.
 *
 * @module
 */
import { SvidError } from '../core/errors/index.js';
import type { CertificateInfo } from './certificate.js';
import { LEAF_RULES, criticalExtensionProblem, oneLine, signingCertProblem, validityProblem } from './svid-rules.js';
import { SpiffeId } from './spiffe-id.js';
import { bundleDomains, bundleFor, type TrustBundle, type TrustBundles } from './trust-bundle.js';

/** The longest chain accepted, leaf and root included. */
export const MAX_PATH_CERTIFICATES = 10;

/**
 * Which identity a peer must present. `ids`: any of these SPIFFE IDs; `trustDomain`: any
 * ID of that trust domain. Both given: an ID in `ids` (which must belong to the domain).
 */
export interface IdentityExpectation {
  /** The SPIFFE IDs accepted. */
  readonly ids?: readonly (string | SpiffeId)[];
  /** The trust domain accepted. */
  readonly trustDomain?: string;
}

/** Options of {@link verifySvid}. */
export interface VerifySvidOptions {
  /** The time to check validity at, ms since the epoch or a Date (default: now). */
  readonly now?: number | Date;
  /** The identity expected; default: any ID of a trust domain the bundles know. */
  readonly expect?: IdentityExpectation;
  /** What is being verified, for messages (default `certificate`). */
  readonly what?: string;
}

/** A verified SVID. */
export interface VerifiedSvid {
  /** The SPIFFE ID of the leaf. */
  readonly spiffeId: SpiffeId;
  /** The path verified, leaf first, the bundle's root last. */
  readonly path: readonly CertificateInfo[];
  /** The bundle the path ends in. */
  readonly bundle: TrustBundle;
}

function nowMs(now: number | Date | undefined): number {
  return now === undefined ? Date.now() : typeof now === 'number' ? now : now.getTime();
}

/** Checks the leaf rules in order; returns the leaf's SPIFFE ID. */
export function checkLeaf(leaf: CertificateInfo, what: string): SpiffeId {
  for (const rule of LEAF_RULES) {
    const error = rule.check(leaf, what);
    if (error) throw error;
  }
  return SpiffeId.parse(leaf.uris[0]!);
}

/**
 * Builds a path from `leaf` through `intermediates` to a root of `bundle`, checking each
 * signature and each signing certificate's CA rules. Validity is checked by the caller.
 */
export function buildPath(leaf: CertificateInfo, intermediates: readonly CertificateInfo[], bundle: TrustBundle, what: string): CertificateInfo[] {
  const path: CertificateInfo[] = [leaf];
  let current = leaf;
  for (;;) {
    if (path.length >= MAX_PATH_CERTIFICATES) {
      throw new SvidError('path_length', what, `a chain longer than ${MAX_PATH_CERTIFICATES} certificates`, `at most ${MAX_PATH_CERTIFICATES}`, 'Shorten the chain.');
    }
    // A root of the bundle that issued it ends the path (roots first: a chain that also
    // carries the root, or an old copy of it, must still end at the bundle's own).
    const byName = (c: CertificateInfo): boolean => c.subjectKey === current.issuerKey;
    const signed = (c: CertificateInfo): boolean => current.x509.verify(c.x509.publicKey);
    const root = bundle.roots.find((r) => byName(r) && signed(r));
    if (root) {
      path.push(root);
      return path;
    }
    const next = intermediates.find((c) => byName(c) && !path.includes(c) && signed(c));
    if (!next) {
      const issuedBy = oneLine(current.issuer);
      if (bundle.roots.some(byName) || intermediates.some((c) => byName(c) && !path.includes(c))) {
        throw new SvidError(
          'bad_signature',
          what,
          `a certificate (${current === leaf ? 'the leaf' : oneLine(current.subject)}) whose signature does not verify with the key of any trusted certificate named ${issuedBy}`,
          'a signature by the issuer named',
          'It was issued by another CA of the same name (a CA made again, another mesh with the same root name) or altered; it is not trusted.',
        );
      }
      throw new SvidError(
        'untrusted',
        what,
        `a chain that ends at ${issuedBy}, which is not a root of trust domain ${bundle.trustDomain}`,
        `a chain to one of the bundle's roots (${bundle.roots.map((r) => oneLine(r.subject)).join('; ')})`,
        'The certificate was issued by a CA this workload does not trust: check the trust bundle (root-cert.pem) or the certificate chain.',
      );
    }
    const problem = signingCertProblem(next, what);
    if (problem) throw problem;
    path.push(next);
    current = next;
  }
}

/** Each CA's pathLenConstraint holds for the intermediates below it. */
function checkPathLengths(path: readonly CertificateInfo[], what: string): void {
  // path[0] is the leaf; path[i] (i >= 1) has i - 1 intermediate CAs below it.
  for (let i = 1; i < path.length; i++) {
    const limit = path[i]!.basicConstraints?.pathLength;
    if (limit !== undefined && i - 1 > limit) {
      throw new SvidError(
        'path_length',
        what,
        `${i - 1} intermediate CA(s) below ${oneLine(path[i]!.subject)}`,
        `at most its pathLenConstraint of ${limit}`,
        'The CA did not allow this many intermediates below it.',
      );
    }
  }
}

/** Throws unless `id` meets `expect`. */
export function checkExpectedIdentity(id: SpiffeId, expect: IdentityExpectation, what: string): void {
  if (expect.trustDomain !== undefined && id.trustDomain !== expect.trustDomain) {
    throw new SvidError('trust_domain', what, `SPIFFE ID ${id.uri}, of trust domain ${id.trustDomain}`, `an identity of trust domain ${expect.trustDomain}`, 'The peer belongs to another trust domain.');
  }
  if (expect.ids !== undefined && !expect.ids.some((e) => (typeof e === 'string' ? e : e.uri) === id.uri)) {
    const wanted = expect.ids.map((e) => (typeof e === 'string' ? e : e.uri));
    throw new SvidError(
      'unexpected_id',
      what,
      `SPIFFE ID ${id.uri}`,
      wanted.length === 1 ? wanted[0]! : `one of ${wanted.join(', ')}`,
      'The peer is a trusted workload, but not the one this connection is meant for.',
    );
  }
}

/**
 * Verifies `certs` (leaf first, then any intermediates, as a workload presents them)
 * against `bundles`: the leaf rules, the bundle of the leaf's trust domain, a chain to one
 * of its roots, every certificate of the path valid at `now`, and the identity expected.
 * Throws {@link SvidError} with the first rule broken.
 */
export function verifySvid(certs: readonly CertificateInfo[], bundles: TrustBundles, options: VerifySvidOptions = {}): VerifiedSvid {
  const what = options.what ?? 'certificate';
  if (certs.length === 0) throw new SvidError('malformed', what, 'no certificate', 'a leaf certificate', 'The peer sent no certificate.');
  if (certs.length > MAX_PATH_CERTIFICATES) {
    throw new SvidError('path_length', what, `${certs.length} certificates`, `at most ${MAX_PATH_CERTIFICATES}`, 'Shorten the chain.');
  }
  const leaf = certs[0]!;
  const id = checkLeaf(leaf, what);
  if (options.expect?.trustDomain !== undefined) checkExpectedIdentity(id, { trustDomain: options.expect.trustDomain }, what);
  const bundle = bundleFor(bundles, id.trustDomain);
  if (!bundle) {
    throw new SvidError(
      'trust_domain',
      what,
      `SPIFFE ID ${id.uri}, of trust domain ${id.trustDomain}`,
      `an identity of a trust domain with a trust bundle (${bundleDomains(bundles).join(', ') || 'none'})`,
      'No roots are configured for that trust domain, so it cannot be trusted (federate it, or fix the issuer).',
    );
  }
  const path = buildPath(leaf, certs.slice(1), bundle, what);
  const now = nowMs(options.now);
  for (const cert of path) {
    const critical = criticalExtensionProblem(cert, cert === leaf ? what : `${what}: issuer ${oneLine(cert.subject)}`);
    if (critical) throw critical;
    const problem = validityProblem(cert, now, cert === leaf ? what : `${what}: issuer ${oneLine(cert.subject)}`);
    if (problem) throw problem;
  }
  checkPathLengths(path, what);
  if (options.expect) checkExpectedIdentity(id, options.expect, what);
  return { spiffeId: id, path, bundle };
}
