/**
 * Matches on the mTLS peer's identity (its SPIFFE ID) for `namespaces`,
 * `serviceAccounts` and `trustDomains`, as the regular expressions Istio generates for
 * them match the peer's URI SAN (istio/istio pilot/pkg/security/authz/model/generator.go),
 * written as plain string searches that allocate nothing:
 *
 * - namespace `prod` is `.*\/ns\/prod\/.*`; a `*` in it is `.*` (so `team-*` is any ID
 *   containing `/ns/team-` followed later by a `/`);
 * - service account `ns/sa` (or `sa` in the policy's namespace) is
 *   `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?`;
 * - trust domain `td` is the prefix `spiffe://td/`; `*` is any `spiffe://` ID; `a*` and
 *   `*b` match the trust domain (up to the first `/`, which must follow) by prefix or
 *   suffix.
 *
 * Also Istio's trust domain aliases (pilot/pkg/security/trustdomain/bundle.go): a policy
 * principal written with the trust domain `cluster.local`, or one of the mesh's trust
 * domains, means every trust domain of the mesh.
 *
 * @module
 */

import { RememberingSet } from './remembering-set.js';

const SPIFFE = 'spiffe://';

/** Whether `parts` occur in `value` in order, without overlapping, starting at `from`. */
function inOrder(value: string, parts: readonly string[], from: number): boolean {
  let at = from;
  for (let i = 0; i < parts.length; i++) {
    const found = value.indexOf(parts[i]!, at);
    if (found < 0) return false;
    at = found + parts[i]!.length;
  }
  return true;
}

// Where `/ns/` occurs in the last ID asked about: one request asks many namespace
// questions of the same ID, and every namespace pattern starts with `/ns/`.
const NS = '/ns/';
const nsAt = new Int32Array(4);
let nsId: string | undefined;
/** Occurrences found, or -1 when there are more than `nsAt` holds. */
let nsCount = 0;

function nsOccurrences(id: string): number {
  if (id === nsId) return nsCount;
  nsId = id;
  let count = 0;
  for (let i = id.indexOf(NS); i >= 0; i = id.indexOf(NS, i + 1)) {
    if (count === nsAt.length) return (nsCount = -1);
    nsAt[count++] = i;
  }
  return (nsCount = count);
}

/** A compiled list of `namespaces` values. */
export class NamespaceSet extends RememberingSet {
  private readonly patterns: readonly (readonly string[])[];
  /** Each pattern's first part (it starts with `/ns/`) and the parts after it. */
  private readonly heads: readonly string[];
  /** Each head's first character after `/ns/` (-1 when the head is `/ns/` alone): a cheap first test. */
  private readonly firsts: Int32Array;
  private readonly tails: readonly (readonly string[])[];
  constructor(values: readonly string[]) {
    super(values);
    this.patterns = values.map((value) => {
      const parts = value.split('*');
      parts[0] = `/ns/${parts[0]}`;
      parts[parts.length - 1] = `${parts[parts.length - 1]}/`;
      return parts;
    });
    this.heads = this.patterns.map((p) => p[0]!);
    this.firsts = Int32Array.from(this.heads, (h) => (h.length > NS.length ? h.charCodeAt(NS.length) : -1));
    this.tails = this.patterns.map((p) => p.slice(1));
  }

  protected override compute(spiffeId: string): boolean {
    const count = nsOccurrences(spiffeId);
    for (let p = 0; p < this.heads.length; p++) {
      if (count < 0) {
        if (inOrder(spiffeId, this.patterns[p]!, 0)) return true;
        continue;
      }
      // The leftmost place the first part fits is the best start for the rest.
      const head = this.heads[p]!;
      const first = this.firsts[p]!;
      for (let k = 0; k < count; k++) {
        if ((first >= 0 && spiffeId.charCodeAt(nsAt[k]! + NS.length) !== first) || !spiffeId.startsWith(head, nsAt[k]!)) continue;
        if (inOrder(spiffeId, this.tails[p]!, nsAt[k]! + head.length)) return true;
        break;
      }
    }
    return false;
  }
}

/** Whether `id` is `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?` (the whole ID). */
function serviceAccountMatches(id: string, nsPart: string, saPart: string): boolean {
  if (!id.startsWith(SPIFFE)) return false;
  // `.+` before `/ns/`: at least one character after the scheme.
  for (let i = id.indexOf(nsPart, SPIFFE.length + 1); i >= 0; i = id.indexOf(nsPart, i + 1)) {
    const afterNs = i + nsPart.length;
    // `(.+/|)sa/<sa>`: right after the namespace, or after more segments ending in `/`.
    for (let j = id.indexOf(saPart, afterNs); j >= 0; j = id.indexOf(saPart, j + 1)) {
      if (j !== afterNs && !(j >= afterNs + 2 && id.charCodeAt(j - 1) === 47)) continue;
      const end = j + saPart.length;
      // `(/.+)?`: the end, or `/` and at least one more character.
      if (end === id.length || (id.charCodeAt(end) === 47 && end + 1 < id.length)) return true;
    }
  }
  return false;
}

/** A compiled list of `serviceAccounts` values. */
export class ServiceAccountSet extends RememberingSet {
  private readonly accounts: readonly { readonly ns: string; readonly sa: string }[];
  /** @param policyNamespace the namespace of `sa` values without one */
  constructor(values: readonly string[], policyNamespace: string) {
    super(values);
    this.accounts = values.map((value) => {
      const slash = value.indexOf('/');
      const [ns, sa] = slash < 0 ? [policyNamespace, value] : [value.slice(0, slash), value.slice(slash + 1)];
      return { ns: `/ns/${ns}/`, sa: `sa/${sa}` };
    });
  }

  protected override compute(spiffeId: string): boolean {
    for (let i = 0; i < this.accounts.length; i++) {
      const account = this.accounts[i]!;
      if (serviceAccountMatches(spiffeId, account.ns, account.sa)) return true;
    }
    return false;
  }
}

/** A compiled list of `trustDomains` values (aliases expanded). */
export class TrustDomainSet extends RememberingSet {
  private readonly exact: readonly string[];
  private readonly affixes: readonly { readonly prefix: string; readonly suffix: string }[];
  private readonly any: boolean;
  /** @param trustDomains the mesh's trust domain and aliases (a listed one stands for all) */
  constructor(values: readonly string[], trustDomains: readonly string[]) {
    super(values);
    const expanded = [...new Set(values.flatMap((v) => (trustDomains.includes(v) ? trustDomains : [v])))];
    this.any = expanded.includes('*');
    this.exact = expanded.filter((v) => !v.includes('*')).map((v) => `${SPIFFE}${v}/`);
    this.affixes = expanded
      .filter((v) => v !== '*' && v.includes('*'))
      .map((v) => {
        const star = v.indexOf('*');
        return { prefix: v.slice(0, star), suffix: v.slice(star + 1) };
      });
  }

  protected override compute(spiffeId: string): boolean {
    if (!spiffeId.startsWith(SPIFFE)) return false;
    if (this.any) return true;
    for (let i = 0; i < this.exact.length; i++) if (spiffeId.startsWith(this.exact[i]!)) return true;
    if (this.affixes.length === 0) return false;
    const end = spiffeId.indexOf('/', SPIFFE.length);
    if (end < 0) return false;
    for (let i = 0; i < this.affixes.length; i++) {
      const { prefix, suffix } = this.affixes[i]!;
      if (end - SPIFFE.length >= prefix.length + suffix.length && spiffeId.startsWith(prefix, SPIFFE.length) && spiffeId.endsWith(suffix, end)) return true;
    }
    return false;
  }
}

// Istio's trustdomain.stringMatch and its helpers: the pattern may be on either side.
const prefixMatch = (a: string, pattern: string): boolean => pattern.endsWith('*') && a.startsWith(pattern.slice(0, -1));
const suffixMatch = (a: string, pattern: string): boolean => pattern.startsWith('*') && a.endsWith(pattern.slice(1));
const listMatch = (a: string, list: readonly string[]): boolean =>
  list.some((s) => a === s || s === '*' || prefixMatch(a, s) || prefixMatch(s, a) || suffixMatch(a, s) || suffixMatch(s, a));

/**
 * Policy principals with Istio's trust domain aliases applied: a principal
 * `<td>/ns/<ns>/sa/<sa>` whose trust domain is `cluster.local` or one of the mesh's
 * stands for the same identity in each of the mesh's trust domains. Other values are
 * kept as written.
 */
export function principalsWithAliases(principals: readonly string[], trustDomains: readonly string[]): string[] {
  const out: string[] = [];
  for (const principal of principals) {
    const parts = principal.split('/');
    if (parts.length !== 5 || parts[0] === '*' || !(listMatch(parts[0]!, trustDomains) || parts[0] === 'cluster.local')) {
      out.push(principal);
      continue;
    }
    const mine: string[] = [];
    for (const td of trustDomains) {
      const rewritten = suffixMatch(td, parts[0]!) ? principal : [td, ...parts.slice(1)].join('/');
      if (!mine.includes(rewritten)) mine.push(rewritten);
    }
    out.push(...mine);
  }
  return out;
}
