/**
 * Trust bundles: the root certificates that SVIDs of a trust domain must chain to.
 *
 * @module
 */
import { SvidError } from '../core/errors/index.js';
import { parsePemCertificates, type CertificateInfo } from './certificate.js';
import { SpiffeId, trustDomainProblem } from './spiffe-id.js';

/** The roots of one trust domain. */
export interface TrustBundle {
  /** The trust domain, e.g. `cluster.local`. */
  readonly trustDomain: string;
  /** Its root certificates (more than one while a root is being rotated). */
  readonly roots: readonly CertificateInfo[];
}

/**
 * Where to find the bundle of a trust domain: one bundle, or several (federation). A
 * lookup for a trust domain with no bundle answers undefined.
 */
export type TrustBundles = TrustBundle | ReadonlyMap<string, TrustBundle> | readonly TrustBundle[];

/** The bundle for `trustDomain` among `bundles`, or undefined. */
export function bundleFor(bundles: TrustBundles, trustDomain: string): TrustBundle | undefined {
  if (bundles instanceof Map) return bundles.get(trustDomain);
  if (Array.isArray(bundles)) return (bundles as readonly TrustBundle[]).find((b) => b.trustDomain === trustDomain);
  const one = bundles as TrustBundle;
  return one.trustDomain === trustDomain ? one : undefined;
}

/** The trust domains `bundles` has roots for, for messages. */
export function bundleDomains(bundles: TrustBundles): string[] {
  if (bundles instanceof Map) return [...bundles.keys()];
  if (Array.isArray(bundles)) return (bundles as readonly TrustBundle[]).map((b) => b.trustDomain);
  return [(bundles as TrustBundle).trustDomain];
}

/**
 * A bundle from PEM roots. The trust domain is `trustDomain` when given; otherwise the one
 * the roots name in their URI SAN (`spiffe://<trust-domain>`, as SPIRE's and our dev CA's
 * roots do); roots that name none (Istio's `root-cert.pem` usually) need it given.
 */
export function trustBundleFromPem(pem: string, options: { readonly trustDomain?: string; readonly what?: string } = {}): TrustBundle {
  const what = options.what ?? 'trust bundle';
  const roots = parsePemCertificates(pem, what);
  let trustDomain = options.trustDomain;
  if (trustDomain === undefined) {
    const named = new Set<string>();
    for (const root of roots) {
      for (const uri of root.uris) {
        try {
          named.add(SpiffeId.parse(uri).trustDomain);
        } catch {
          // not a SPIFFE ID: says nothing about the trust domain
        }
      }
    }
    if (named.size !== 1) {
      throw new SvidError(
        'trust_domain',
        what,
        named.size === 0 ? 'roots that name no trust domain (no spiffe:// URI SAN)' : `roots naming several trust domains (${[...named].join(', ')})`,
        'one trust domain',
        'Say which trust domain these roots are for (the trustDomain option, or --trust-domain on the command line).',
      );
    }
    trustDomain = [...named][0]!;
  }
  const problem = trustDomainProblem(trustDomain);
  if (problem !== undefined) {
    throw new SvidError('trust_domain', what, `trust domain ${JSON.stringify(trustDomain)}, which ${problem}`, 'a valid trust domain (a-z, 0-9, ".", "-", "_")', 'Fix the trust domain name.');
  }
  return { trustDomain, roots };
}
