import { NamespaceSet, principalsWithAliases, ServiceAccountSet, TrustDomainSet } from './identity-match.js';
import { IpBlockSet } from './ip-match.js';
import { isPathTemplate, PathTemplate } from './path-template.js';
import type { AuthzRequest, ClaimValue } from './request-view.js';
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

function keyOf(attribute: IndexedAttribute, values: readonly (string | number)[] | undefined): IndexKey | undefined {
  return values === undefined || values.length === 0 ? undefined : { attribute, values };
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

const text = (value: string | undefined, none: string): string => (value === undefined ? none : JSON.stringify(value));

class PeerMatcher implements AttributeMatcher {
  readonly cost = 2;
  readonly key: IndexKey | undefined;
  constructor(private readonly set: { matches(id: string | undefined): boolean; exactValues?(): readonly string[] | undefined }) {
    this.key = keyOf('peer', set.exactValues?.());
  }
  matches(req: AuthzRequest): boolean {
    return this.set.matches(req.peerSpiffeId);
  }
  observed(req: AuthzRequest): string {
    return req.peerSpiffeId === undefined ? 'no peer identity (plaintext)' : `peer ${req.peerSpiffeId}`;
  }
}

/** Reads a claim (a path of keys into the payload). */
function claimAt(req: AuthzRequest, path: readonly string[]): ClaimValue | undefined {
  let value: ClaimValue | undefined = req.auth?.claims;
  for (let i = 0; i < path.length; i++) {
    if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const object = value as { readonly [claim: string]: ClaimValue };
    value = Object.prototype.hasOwnProperty.call(object, path[i]!) ? object[path[i]!] : undefined;
  }
  return value;
}

/** A claim that is a string matching a value, or a list with such a string (Envoy's list-or-value match). */
class ClaimMatcher implements AttributeMatcher {
  readonly cost = 3;
  constructor(
    private readonly path: readonly string[],
    private readonly set: ValueSet,
  ) {}
  matches(req: AuthzRequest): boolean {
    const value = claimAt(req, this.path);
    if (typeof value === 'string') return this.set.matches(value);
    return Array.isArray(value) && this.set.matchesAny(value);
  }
  observed(req: AuthzRequest): string {
    if (req.auth === undefined) return 'no request token';
    const value = claimAt(req, this.path);
    return value === undefined ? `no claim ${this.path.join('.')}` : `claim ${this.path.join('.')} ${JSON.stringify(value)}`;
  }
}

/** One `requestPrincipals` value: matchers for the `iss` and `sub` claims. */
interface IssuerSubject {
  readonly iss: StringTest;
  readonly sub: StringTest;
}
/** `any` is Envoy's `.+`. */
type StringTest = { readonly kind: 'any' | 'exact' | 'prefix' | 'suffix'; readonly text: string };

function stringTest(test: StringTest, value: ClaimValue | undefined): boolean {
  if (typeof value !== 'string') return false;
  switch (test.kind) {
    case 'any':
      return value.length > 0;
    case 'exact':
      return value === test.text;
    case 'prefix':
      return value.startsWith(test.text);
    case 'suffix':
      return value.endsWith(test.text);
  }
}

/** Istio's split of a request principal value at its last `/` (the issuer may be a URL). */
function issuerSubject(value: string): IssuerSubject {
  const any: StringTest = { kind: 'any', text: '' };
  const idx = value.lastIndexOf('/');
  const found = idx >= 0;
  const iss = found ? value.slice(0, idx) : value;
  const sub = found ? value.slice(idx + 1) : '';
  if (value === '*') return { iss: any, sub: any };
  if (value.startsWith('*')) {
    if (!found) return { iss: any, sub: { kind: 'suffix', text: value.slice(1) } };
    return { iss: iss === '*' ? any : { kind: 'suffix', text: iss.slice(1) }, sub: { kind: 'exact', text: sub } };
  }
  if (value.endsWith('*')) {
    if (!found) return { iss: { kind: 'prefix', text: value.slice(0, -1) }, sub: any };
    return { iss: { kind: 'exact', text: iss }, sub: sub === '*' ? any : { kind: 'prefix', text: sub.slice(0, -1) } };
  }
  return { iss: { kind: 'exact', text: iss }, sub: { kind: 'exact', text: sub } };
}

const ISS = ['iss'];
const SUB = ['sub'];

class RequestPrincipalMatcher implements AttributeMatcher {
  readonly cost = 3;
  private readonly pairs: readonly IssuerSubject[];
  constructor(values: readonly string[]) {
    this.pairs = values.map(issuerSubject);
  }
  matches(req: AuthzRequest): boolean {
    if (req.auth === undefined) return false;
    const iss = claimAt(req, ISS);
    const sub = claimAt(req, SUB);
    for (let i = 0; i < this.pairs.length; i++) {
      if (stringTest(this.pairs[i]!.iss, iss) && stringTest(this.pairs[i]!.sub, sub)) return true;
    }
    return false;
  }
  observed(req: AuthzRequest): string {
    return req.auth === undefined ? 'no request token' : `request principal ${JSON.stringify(req.auth.principal)}`;
  }
}

class MethodMatcher implements AttributeMatcher {
  readonly cost = 1;
  readonly key: IndexKey | undefined;
  constructor(private readonly set: ValueSet) {
    this.key = keyOf('method', set.exactValues());
  }
  matches(req: AuthzRequest): boolean {
    return this.set.matches(req.method);
  }
  observed(req: AuthzRequest): string {
    return `method ${text(req.method, 'none')}`;
  }
}

class HostMatcher implements AttributeMatcher {
  readonly cost = 1;
  constructor(private readonly set: ValueSet) {}
  matches(req: AuthzRequest): boolean {
    return this.set.matches(req.host);
  }
  observed(req: AuthzRequest): string {
    return `host ${text(req.host, 'none')}`;
  }
}

class SniMatcher implements AttributeMatcher {
  readonly cost = 1;
  constructor(private readonly set: ValueSet) {}
  matches(req: AuthzRequest): boolean {
    return this.set.matches(req.sni);
  }
  observed(req: AuthzRequest): string {
    return `sni ${text(req.sni, 'none')}`;
  }
}

class PathMatcher implements AttributeMatcher {
  readonly cost = 2;
  readonly key: IndexKey | undefined;
  constructor(
    private readonly set: ValueSet,
    private readonly templates: readonly PathTemplate[],
  ) {
    this.key = templates.length === 0 ? keyOf('path', set.exactValues()) : undefined;
  }
  matches(req: AuthzRequest): boolean {
    if (this.set.matches(req.path)) return true;
    for (let i = 0; i < this.templates.length; i++) if (this.templates[i]!.matches(req.path)) return true;
    return false;
  }
  observed(req: AuthzRequest): string {
    return `path ${JSON.stringify(req.path)}`;
  }
}

class HeaderMatcher implements AttributeMatcher {
  readonly cost = 2;
  readonly key: IndexKey | undefined;
  constructor(
    private readonly name: string,
    private readonly set: ValueSet,
  ) {
    this.key = name.startsWith(':') ? undefined : keyOf(`header:${name}`, set.exactValues());
  }
  private value(req: AuthzRequest): string | undefined {
    if (this.name === ':authority') return req.host;
    if (this.name === ':method') return req.method;
    return req.header(this.name);
  }
  matches(req: AuthzRequest): boolean {
    return this.set.matches(this.value(req));
  }
  observed(req: AuthzRequest): string {
    return `header ${this.name} ${text(this.value(req), 'absent')}`;
  }
}

class PortMatcher implements AttributeMatcher {
  readonly cost = 1;
  private readonly ports: ReadonlySet<number>;
  readonly key: IndexKey | undefined;
  constructor(values: readonly string[]) {
    this.ports = new Set(values.map(Number));
    this.key = keyOf('port', [...this.ports]);
  }
  matches(req: AuthzRequest): boolean {
    return this.ports.has(req.destinationPort);
  }
  observed(req: AuthzRequest): string {
    return `destination port ${req.destinationPort}`;
  }
}

type AddressAttribute = 'sourceIp' | 'remoteIp' | 'destinationIp';

class IpMatcher implements AttributeMatcher {
  readonly cost = 2;
  constructor(
    private readonly attribute: AddressAttribute,
    private readonly blocks: IpBlockSet,
  ) {}
  private address(req: AuthzRequest): string | undefined {
    return this.attribute === 'remoteIp' ? (req.remoteIp ?? req.sourceIp) : req[this.attribute];
  }
  matches(req: AuthzRequest): boolean {
    return this.blocks.contains(this.address(req));
  }
  observed(req: AuthzRequest): string {
    return `${this.attribute === 'sourceIp' ? 'source' : this.attribute === 'remoteIp' ? 'remote' : 'destination'} address ${text(this.address(req), 'unknown')}`;
  }
}

/** `experimental.envoy.filters.<filter>[<key>]`: a string value, or `[v]` for a list holding `v`. */
class FilterMetadataMatcher implements AttributeMatcher {
  readonly cost = 3;
  private readonly scalars: ValueSet;
  private readonly lists: ValueSet;
  constructor(
    private readonly filter: string,
    private readonly metadataKey: string,
    values: readonly string[],
  ) {
    const isList = (v: string): boolean => v.startsWith('[') && v.endsWith(']');
    this.scalars = new ValueSet(values.filter((v) => !isList(v)), 'plain');
    this.lists = new ValueSet(values.filter(isList).map((v) => v.replace(/^\[+|\]+$/g, '')), 'plain');
  }
  private value(req: AuthzRequest): unknown {
    return req.filterMetadata?.(this.filter, this.metadataKey);
  }
  matches(req: AuthzRequest): boolean {
    const value = this.value(req);
    if (typeof value === 'string') return this.scalars.matches(value);
    return Array.isArray(value) && this.lists.matchesAny(value);
  }
  observed(req: AuthzRequest): string {
    const value = this.value(req);
    return value === undefined ? `no ${this.filter} metadata ${this.metadataKey}` : `${this.filter} metadata ${this.metadataKey} ${JSON.stringify(value)}`;
  }
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

function makeCondition(key: string, values: readonly string[], context: AttributeContext): AttributeMatcher | undefined {
  switch (key) {
    case 'source.ip':
      return compileField('ipBlocks', values, context);
    case 'remote.ip':
      return compileField('remoteIpBlocks', values, context);
    case 'destination.ip':
      return new IpMatcher('destinationIp', new IpBlockSet(values));
    case 'destination.port':
      return compileField('ports', values, context);
    case 'source.namespace':
      return compileField('namespaces', values, context);
    case 'source.serviceAccount':
      return compileField('serviceAccounts', values, context);
    case 'source.principal':
      return compileField('principals', values, context);
    case 'source.trustDomain':
      return compileField('trustDomains', values, context);
    case 'request.auth.principal':
      return compileField('requestPrincipals', values, context);
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
