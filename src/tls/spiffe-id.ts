/**
 * SPIFFE IDs (`spiffe://<trust-domain>/<path>`), parsed by the grammar of the SPIFFE ID
 * specification: no URL parser is involved, so nothing a URL parser forgives (upper
 * case, percent escapes, a port, user info, `..`) gets through.
 *
 * @module
 */
import { InvalidSpiffeIdError } from '../core/errors/index.js';

export { InvalidSpiffeIdError };

/** The longest SPIFFE ID accepted, in bytes (the specification's bound on the URI). */
export const MAX_SPIFFE_ID_LENGTH = 2048;
/** The longest trust domain accepted, in characters (a DNS name's bound). */
export const MAX_TRUST_DOMAIN_LENGTH = 255;

const PREFIX = 'spiffe://';

/** A valid SPIFFE ID. Compare with `equals` or by `uri`; `toString()` is the URI. */
export class SpiffeId {
  /** The trust domain, e.g. `cluster.local`. */
  readonly trustDomain: string;
  /** The path, `''` or starting with `/`, e.g. `/ns/default/sa/reviews`. */
  readonly path: string;
  /** The whole ID, e.g. `spiffe://cluster.local/ns/default/sa/reviews`. */
  readonly uri: string;

  private constructor(trustDomain: string, path: string) {
    this.trustDomain = trustDomain;
    this.path = path;
    this.uri = `${PREFIX}${trustDomain}${path}`;
  }

  /** Parses `uri`; throws {@link InvalidSpiffeIdError} naming the rule broken. */
  static parse(uri: string): SpiffeId {
    const problem = spiffeIdProblem(uri);
    if (problem !== undefined) throw new InvalidSpiffeIdError(uri, problem);
    const rest = uri.slice(PREFIX.length);
    const slash = rest.indexOf('/');
    return slash === -1 ? new SpiffeId(rest, '') : new SpiffeId(rest.slice(0, slash), rest.slice(slash));
  }

  /** The ID of a trust domain (no path): `spiffe://cluster.local`. */
  static forTrustDomain(trustDomain: string): SpiffeId {
    const problem = trustDomainProblem(trustDomain);
    if (problem !== undefined) throw new InvalidSpiffeIdError(trustDomain, `trust domain ${problem}`);
    return new SpiffeId(trustDomain, '');
  }

  /**
   * Istio's workload identity: `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`.
   * The namespace must be a DNS label and the service account a DNS subdomain (what
   * Kubernetes allows for them).
   */
  static forServiceAccount(trustDomain: string, namespace: string, serviceAccount: string): SpiffeId {
    if (!DNS_LABEL.test(namespace)) {
      throw new InvalidSpiffeIdError(namespace, 'namespace is not a DNS label (expected: 1 to 63 of a-z, 0-9 and "-", starting and ending with a letter or digit)');
    }
    if (serviceAccount.length > 253 || !serviceAccount.split('.').every((label) => DNS_LABEL.test(label))) {
      throw new InvalidSpiffeIdError(serviceAccount, 'service account is not a DNS subdomain (expected: dot-separated DNS labels, at most 253 characters)');
    }
    return SpiffeId.parse(`${PREFIX}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`);
  }

  /** Istio's principal for this ID: the URI without `spiffe://` (`cluster.local/ns/x/sa/y`). */
  get principal(): string {
    return this.uri.slice(PREFIX.length);
  }

  /** The ID of this ID's trust domain. */
  get trustDomainId(): SpiffeId {
    return this.path === '' ? this : new SpiffeId(this.trustDomain, '');
  }

  /** Whether `other` is the same ID. */
  equals(other: SpiffeId): boolean {
    return this.uri === other.uri;
  }

  /** Whether this ID belongs to `trustDomain`. */
  memberOf(trustDomain: string): boolean {
    return this.trustDomain === trustDomain;
  }

  /** The URI. */
  toString(): string {
    return this.uri;
  }

  /** The URI (so JSON shows the ID, not its parts). */
  toJSON(): string {
    return this.uri;
  }
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function isTrustDomainChar(c: number): boolean {
  // a-z 0-9 . - _
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x5f;
}

function isPathChar(c: number): boolean {
  // a-z A-Z 0-9 . - _
  return isTrustDomainChar(c) || (c >= 0x41 && c <= 0x5a);
}

/** Describes a character for a message: `"A" at 12`. */
function at(text: string, index: number, offset: number): string {
  return `${JSON.stringify(text[index])} at position ${index + offset}`;
}

/** Why `trustDomain` is not a valid trust domain, or undefined. */
export function trustDomainProblem(trustDomain: string): string | undefined {
  if (trustDomain.length === 0) return 'is empty';
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH) return `is ${trustDomain.length} characters long (expected: at most ${MAX_TRUST_DOMAIN_LENGTH})`;
  for (let i = 0; i < trustDomain.length; i++) {
    const c = trustDomain.charCodeAt(i);
    if (isTrustDomainChar(c)) continue;
    if (c === 0x3a) return `has a port or a colon (${at(trustDomain, i, 0)}); a trust domain is a bare name`;
    if (c === 0x40) return `has user info ("@" at position ${i}); a trust domain is a bare name`;
    if (c >= 0x41 && c <= 0x5a) return `has an upper-case letter (${at(trustDomain, i, 0)}); trust domains are lower case`;
    return `has a character outside a-z, 0-9, ".", "-", "_" (${at(trustDomain, i, 0)})`;
  }
  return undefined;
}

/** Why `uri` is not a valid SPIFFE ID (the rule it breaks), or undefined when it is one. */
export function spiffeIdProblem(uri: string): string | undefined {
  if (typeof uri !== 'string') return 'not a string';
  if (Buffer.byteLength(uri) > MAX_SPIFFE_ID_LENGTH) return `longer than ${MAX_SPIFFE_ID_LENGTH} bytes`;
  if (!uri.startsWith(PREFIX)) {
    return uri.toLowerCase().startsWith(PREFIX) ? 'the scheme must be "spiffe" in lower case' : 'it does not start with "spiffe://"';
  }
  const rest = uri.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem !== undefined) return `the trust domain ${tdProblem}`;
  if (slash === -1) return undefined;
  const path = rest.slice(slash);
  const offset = PREFIX.length + slash;
  // path = *("/" segment), segment = 1*pchar, no "." or ".." segments, no trailing "/".
  let segmentStart = 1;
  for (let i = 1; i <= path.length; i++) {
    if (i === path.length || path.charCodeAt(i) === 0x2f) {
      const segment = path.slice(segmentStart, i);
      if (segment.length === 0) return i === path.length ? 'the path ends with "/"' : `the path has an empty segment ("//" at position ${offset + i - 1})`;
      if (segment === '.' || segment === '..') return `the path has a "${segment}" segment`;
      segmentStart = i + 1;
      continue;
    }
    const c = path.charCodeAt(i);
    if (isPathChar(c)) continue;
    if (c === 0x3f) return `it has a query ("?" at position ${offset + i})`;
    if (c === 0x23) return `it has a fragment ("#" at position ${offset + i})`;
    if (c === 0x25) return `the path has a percent-encoded character ("%" at position ${offset + i}); SPIFFE IDs are not escaped`;
    return `the path has a character outside a-z, A-Z, 0-9, ".", "-", "_" (${at(path, i, offset)})`;
  }
  return undefined;
}

/** Parses a SPIFFE ID given as text or passes one through. */
export function toSpiffeId(id: string | SpiffeId): SpiffeId {
  return typeof id === 'string' ? SpiffeId.parse(id) : id;
}
