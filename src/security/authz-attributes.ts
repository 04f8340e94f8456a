import { NamespaceSet, principalsWithAliases, ServiceAccountSet, TrustDomainSet } from './identity-match.js';
import { IpBlockSet } from './ip-match.js';
import { isPathTemplate, PathTemplate } from './path-template.js';
import type { AuthzRequest } from './request-view.js';
import { ClaimMatcher, FilterMetadataMatcher, HeaderMatcher, HostMatcher, IpMatcher, MethodMatcher, PathMatcher, PeerMatcher, PortMatcher, RequestPrincipalMatcher, SniMatcher } from './attribute-matchers.js';
import { ValueSet } from './value-match.js';

/**
 * Each attribute an AuthorizationPolicy rule can test (a `source` or `operation` field,
 * or a `when` key), compiled from its list of values into a matcher that reads one
 * request attribute and allocates nothing. Which request attribute each one reads, and
 * how `*` works for it, follows Istio's generators (istio/istio
 * pilot/pkg/security/authz/model/generator.go): see `semantics.md` §15 of the
 * conformance corpus.
 *
 * @module
 */

/**
 * A request attribute rules can be indexed on: the peer's SPIFFE ID, the path, the method,
 * the destination port, or a header (`header:<lower-case name>`).
 */
export type IndexedAttribute = 'peer' | 'path' | 'method' | 'port' | `header:${string}`;

/** The exact values a matcher accepts, when it accepts nothing else (see {@link AttributeMatcher.key}). */
export interface IndexKey {
  /** The attribute. */
  readonly attribute: IndexedAttribute;
  /** Its values. */
  readonly values: readonly (string | number)[];
}

/** A compiled list of values of one attribute: whether the request matches any of them. */
export interface AttributeMatcher {
  /** Whether the request's attribute matches one of the values. */
  matches(req: AuthzRequest): boolean;
  /** The request's attribute in words, for explanations (`peer spiffe://.../sa/b`). */
  observed(req: AuthzRequest): string;
  /** Relative cost, so cheap tests run first. */
  readonly cost: number;
  /**
   * Set when the matcher holds exactly for requests whose attribute is one of these
   * values: a rule needing it can only match such requests (the rule index uses it).
   */
  readonly key?: IndexKey | undefined;
}

/** The value of an indexed attribute of a request. */
export function indexedValue(attribute: IndexedAttribute, req: AuthzRequest): string | number | undefined {
  switch (attribute) {
    case 'peer':
      return req.peerSpiffeId;
    case 'path':
      return req.path;
    case 'method':
      return req.method;
    case 'port':
      return req.destinationPort;
    default:
      return req.header(attribute.slice(7));
  }
}


/** What compiling an attribute needs besides its values. */
export interface AttributeContext {
  /** The policy's namespace (service accounts without one are in it). */
  readonly policyNamespace: string;
  /** The mesh's trust domain first, then its aliases. */
  readonly trustDomains: readonly string[];
  /**
   * Matchers already made, by what they were made from: rules listing the same values
   * share one matcher, whose memo then answers them all at the cost of one.
   */
  readonly shared?: Map<string, AttributeMatcher>;
}

function shared(context: AttributeContext, kind: string, values: readonly string[], make: () => AttributeMatcher | undefined): AttributeMatcher | undefined {
  if (context.shared === undefined) return make();
  const key = JSON.stringify([kind, context.policyNamespace, context.trustDomains, values]);
  let matcher = context.shared.get(key);
  if (matcher === undefined) {
    matcher = make();
    if (matcher !== undefined) context.shared.set(key, matcher);
  }
  return matcher;
}

/** The names inside `[...]` of a key's tail: `[a][b]` → `[a, b]`, `[a.b]` → `[a.b]`. */
export function bracketNames(tail: string): string[] | undefined {
  const names: string[] = [];
  let at = 0;
  while (at < tail.length) {
    if (tail[at] !== '[') break;
    const end = tail.indexOf(']', at);
    const open = tail.indexOf('[', at + 1);
    if (end < 0 || (open >= 0 && open < end)) break;
    names.push(tail.slice(at + 1, end));
    at = end + 1;
  }
  if (at === tail.length && names.length > 0) return names;
  // Istio's fallback: the whole tail as one bracketed name.
  return tail.startsWith('[') && tail.endsWith(']') ? [tail.slice(1, -1)] : undefined;
}

/** A `source` or `operation` field, by its name without `not`. */
export type FieldName = 'principals' | 'requestPrincipals' | 'namespaces' | 'serviceAccounts' | 'ipBlocks' | 'remoteIpBlocks' | 'trustDomains' | 'hosts' | 'ports' | 'methods' | 'paths';

/** Compiles a `source` or `operation` field. Throws when a value cannot be compiled. */
export function compileField(field: FieldName, values: readonly string[], context: AttributeContext): AttributeMatcher {
  return shared(context, field, values, () => makeField(field, values, context))!;
}

function makeField(field: FieldName, values: readonly string[], context: AttributeContext): AttributeMatcher {
  switch (field) {
    case 'principals':
      return new PeerMatcher(new ValueSet(principalsWithAliases(values, context.trustDomains), 'spiffe'));
    case 'requestPrincipals':
      return new RequestPrincipalMatcher(values);
    case 'namespaces':
      return new PeerMatcher(new NamespaceSet(values));
    case 'serviceAccounts':
      return new PeerMatcher(new ServiceAccountSet(values, context.policyNamespace));
    case 'trustDomains':
      return new PeerMatcher(new TrustDomainSet(values, context.trustDomains));
    case 'ipBlocks':
      return new IpMatcher('sourceIp', new IpBlockSet(values));
    case 'remoteIpBlocks':
      return new IpMatcher('remoteIp', new IpBlockSet(values));
    case 'hosts':
      return new HostMatcher(new ValueSet(values, 'host'));
    case 'ports':
      return new PortMatcher(checkedPorts(values));
    case 'methods':
      return new MethodMatcher(new ValueSet(values, 'header'));
    case 'paths': {
      const templates = values.filter(isPathTemplate).map((t) => new PathTemplate(t));
      return new PathMatcher(new ValueSet(values.filter((v) => !isPathTemplate(v)), 'plain'), templates);
    }
  }
}

function checkedPorts(values: readonly string[]): string[] {
  for (const v of values) if (!/^\d+$/.test(v) || Number(v) > 65535) throw new Error(`"${v}" is not a port number`);
  return [...values];
}

/**
 * Compiles a `when` condition's values for `key`. Returns undefined for a key Istio does
 * not know (validation refuses it; Istio skips the rule); throws when a value cannot be
 * compiled.
 */
export function compileCondition(key: string, values: readonly string[], context: AttributeContext): AttributeMatcher | undefined {
  return shared(context, `when:${key}`, values, () => makeCondition(key, values, context));
}

/** The `when` keys that test what a rule's field tests: compiled (and shared) as that field. */
const CONDITION_FIELDS: ReadonlyMap<string, FieldName> = new Map<string, FieldName>([
  ['source.ip', 'ipBlocks'],
  ['remote.ip', 'remoteIpBlocks'],
  ['destination.port', 'ports'],
  ['source.namespace', 'namespaces'],
  ['source.serviceAccount', 'serviceAccounts'],
  ['source.principal', 'principals'],
  ['source.trustDomain', 'trustDomains'],
  ['request.auth.principal', 'requestPrincipals'],
]);

function makeCondition(key: string, values: readonly string[], context: AttributeContext): AttributeMatcher | undefined {
  const field = CONDITION_FIELDS.get(key);
  if (field !== undefined) return compileField(field, values, context);
  switch (key) {
    case 'destination.ip':
      return new IpMatcher('destinationIp', new IpBlockSet(values));
    case 'request.auth.audiences':
      return new ClaimMatcher(['aud'], new ValueSet(values, 'plain'));
    case 'request.auth.presenter':
      return new ClaimMatcher(['azp'], new ValueSet(values, 'plain'));
    case 'connection.sni':
      return new SniMatcher(new ValueSet(values, 'plain'));
  }
  if (key.startsWith('request.headers')) {
    const tail = key.slice('request.headers'.length);
    if (!tail.startsWith('[') || !tail.endsWith(']') || tail.length < 3) throw new Error(`"${key}" is not written request.headers[<name>]`);
    // Header names are case-insensitive (Envoy lower-cases them).
    return new HeaderMatcher(tail.slice(1, -1).toLowerCase(), new ValueSet(values, 'header'));
  }
  if (key.startsWith('request.auth.claims')) {
    const names = bracketNames(key.slice('request.auth.claims'.length));
    if (names === undefined) throw new Error(`"${key}" is not written request.auth.claims[<name>]`);
    return new ClaimMatcher(names, new ValueSet(values, 'plain'));
  }
  if (key.startsWith('experimental.envoy.filters.')) {
    const rest = key.slice('experimental.'.length).replace(/\]$/, '');
    const open = rest.indexOf('[');
    if (open < 0) throw new Error(`"${key}" is not written experimental.envoy.filters.<filter>[<key>]`);
    return new FilterMetadataMatcher(rest.slice(0, open), rest.slice(open + 1), values);
  }
  return undefined;
}
