import type { AttributeMatcher, IndexedAttribute, IndexKey } from './authz-attributes.js';
import type { IpBlockSet } from './ip-match.js';
import type { PathTemplate } from './path-template.js';
import type { AuthzRequest, ClaimValue } from './request-view.js';
import { ValueSet } from './value-match.js';

/**
 * The matcher of each request attribute (see authz-attributes.ts for what compiles to
 * which). Each reads one attribute of the request and allocates nothing.
 *
 * @module
 */

function keyOf(attribute: IndexedAttribute, values: readonly (string | number)[] | undefined): IndexKey | undefined {
  return values === undefined || values.length === 0 ? undefined : { attribute, values };
}

const text = (value: string | undefined, none: string): string => (value === undefined ? none : JSON.stringify(value));

/** The mTLS peer's SPIFFE ID against principals, namespaces, service accounts or trust domains. */
export class PeerMatcher implements AttributeMatcher {
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
/** A claim of the validated token: a string matching a value, or a list holding one (Envoy's list-or-value match). */
export class ClaimMatcher implements AttributeMatcher {
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

/** The token's `iss` and `sub` against `<iss>/<sub>` values. */
export class RequestPrincipalMatcher implements AttributeMatcher {
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

/** The HTTP method. */
export class MethodMatcher implements AttributeMatcher {
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

/** The `Host` / `:authority` header, ignoring ASCII case. */
export class HostMatcher implements AttributeMatcher {
  readonly cost = 1;
  constructor(private readonly set: ValueSet) {}
  matches(req: AuthzRequest): boolean {
    return this.set.matches(req.host);
  }
  observed(req: AuthzRequest): string {
    return `host ${text(req.host, 'none')}`;
  }
}

/** The TLS server name. */
export class SniMatcher implements AttributeMatcher {
  readonly cost = 1;
  constructor(private readonly set: ValueSet) {}
  matches(req: AuthzRequest): boolean {
    return this.set.matches(req.sni);
  }
  observed(req: AuthzRequest): string {
    return `sni ${text(req.sni, 'none')}`;
  }
}

/** The path: exact, prefix, suffix, presence, URI templates. */
export class PathMatcher implements AttributeMatcher {
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

/** A request header (`*`: present). */
export class HeaderMatcher implements AttributeMatcher {
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

/** The destination port. */
export class PortMatcher implements AttributeMatcher {
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

/** The peer, original client or server address against CIDR blocks. */
export class IpMatcher implements AttributeMatcher {
  readonly cost = 2;
  constructor(
    private readonly attribute: AddressAttribute,
    private readonly blocks: IpBlockSet,
  ) {}
  private address(req: AuthzRequest): string | undefined {
    return this.attribute === 'remoteIp' ? (req.remoteIp ?? req.sourceIp) : req[this.attribute];
  }
  matches(req: AuthzRequest): boolean {
    return this.blocks.matches(this.address(req));
  }
  observed(req: AuthzRequest): string {
    return `${this.attribute === 'sourceIp' ? 'source' : this.attribute === 'remoteIp' ? 'remote' : 'destination'} address ${text(this.address(req), 'unknown')}`;
  }
}

/** `experimental.envoy.filters.<filter>[<key>]`: a string value, or `[v]` for a list holding `v`. */
/** Envoy filter metadata (`experimental.envoy.filters.*`), as the inbound path supplies it. */
export class FilterMetadataMatcher implements AttributeMatcher {
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

