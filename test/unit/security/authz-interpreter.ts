import { BlockList, isIPv4 } from 'node:net';
import type { AuthorizationPolicyResource, AuthorizationRuleSpec } from '../../../src/security/index.js';
import type { AuthzRequest } from '../../../src/security/request-view.js';

/**
 * A slow, obvious interpreter of AuthorizationPolicies, written straight from Istio's
 * description of what each value becomes (semantics.md §15 and the generators of
 * istio/istio pilot/pkg/security/authz/model): every value is turned into the regular
 * expression Envoy would be given and matched against the request attribute, at every
 * request; IP blocks go through Node's own `BlockList`. It shares no code with
 * src/security, so a property that the two agree checks the compiled matchers.
 *
 * Trust domain aliases are left out (the property compiles with `cluster.local` alone,
 * where Istio's rewrite changes nothing).
 */

const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const full = (source: string, flags = ''): RegExp => new RegExp(`^(?:${source})$`, flags);

/** Envoy StringMatcher for a value with Istio's `*` forms (`*` is `.+`), with an optional prefix. */
function stringRegex(value: string, prefix = '', flags = ''): RegExp {
  if (value === '*') return full('.+', flags);
  if (value.startsWith('*')) return full(`${quote(prefix)}.*${quote(value.slice(1))}`, flags);
  if (value.endsWith('*')) return full(`${quote(prefix + value.slice(0, -1))}.*`, flags);
  return full(quote(prefix + value), flags);
}

/** Envoy HeaderMatcher: `*` is presence. */
function headerMatch(value: string, actual: string | undefined, ignoreCase = false): boolean {
  if (actual === undefined) return false;
  if (value === '*') return true;
  return stringRegex(value, '', ignoreCase ? 'is' : 's').test(actual);
}

function plainMatch(value: string, actual: unknown): boolean {
  return typeof actual === 'string' && stringRegex(value, '', 's').test(actual);
}

/** Envoy's list-or-value match of a metadata value. */
function claimMatch(value: string, actual: unknown): boolean {
  if (Array.isArray(actual)) return actual.some((a) => plainMatch(value, a));
  return plainMatch(value, actual);
}

function ipMatch(value: string, address: string | undefined): boolean {
  if (address === undefined) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const a = mapped ? mapped[1]! : address.split('%')[0]!;
  const list = new BlockList();
  const [net, bits] = value.split('/');
  const family = isIPv4(net!) ? 'ipv4' : 'ipv6';
  // Envoy compares addresses with blocks of their own IP version only (BlockList would
  // also match an IPv4 address with an IPv6 block, through its mapped form).
  if (family !== (isIPv4(a) ? 'ipv4' : 'ipv6')) return false;
  try {
    list.addSubnet(net!, bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits), family);
    return list.check(a, family);
  } catch {
    return false;
  }
}

function templateRegex(template: string): RegExp {
  const segment = "[a-zA-Z0-9\\-._~%!$&'()+,;:@=]";
  const parts = template.replace(/^\//, '').split('/').map((s) => (s === '{*}' ? `${segment}+` : s === '{**}' ? `(?:${segment}|/)*` : quote(s)));
  return full(`/${parts.join('/')}`);
}

function pathMatch(value: string, path: string): boolean {
  if (value.includes('{*}') || value.includes('{**}')) return templateRegex(value).test(path);
  return plainMatch(value, path);
}

function requestPrincipalMatch(value: string, req: AuthzRequest): boolean {
  const claims = req.auth?.claims;
  if (claims === undefined) return false;
  const idx = value.lastIndexOf('/');
  let iss: RegExp;
  let sub: RegExp;
  const any = full('.+', 's');
  if (value === '*') [iss, sub] = [any, any];
  else if (value.startsWith('*')) {
    if (idx < 0) [iss, sub] = [any, full(`.*${quote(value.slice(1))}`, 's')];
    else [iss, sub] = [value.slice(0, idx) === '*' ? any : full(`.*${quote(value.slice(1, idx))}`, 's'), full(quote(value.slice(idx + 1)))];
  } else if (value.endsWith('*')) {
    if (idx < 0) [iss, sub] = [full(`${quote(value.slice(0, -1))}.*`, 's'), any];
    else [iss, sub] = [full(quote(value.slice(0, idx))), value.slice(idx + 1) === '*' ? any : full(`${quote(value.slice(idx + 1, -1))}.*`, 's')];
  } else [iss, sub] = [full(quote(idx < 0 ? value : value.slice(0, idx))), full(quote(idx < 0 ? '' : value.slice(idx + 1)))];
  return typeof claims.iss === 'string' && typeof claims.sub === 'string' && iss.test(claims.iss) && sub.test(claims.sub);
}

function identityRegex(field: string, value: string, policyNamespace: string): RegExp {
  switch (field) {
    case 'principals':
      return value === '*' ? full('.+', 's') : stringRegex(value, 'spiffe://', 's');
    case 'namespaces':
      return full(`.*/ns/${value.split('*').map(quote).join('.*')}/.*`, 's');
    case 'serviceAccounts': {
      const [ns, sa] = value.includes('/') ? value.split('/') : [policyNamespace, value];
      return full(`spiffe://.+/ns/${quote(ns!)}/(.+/|)sa/${quote(sa!)}(/.+)?`, 's');
    }
    case 'trustDomains':
      if (value === '*') return full('spiffe://.*', 's');
      if (!value.includes('*')) return full(`spiffe://${quote(value)}/.*`, 's');
      return full(`spiffe://${value.split('*').map(quote).join('[^/]*')}/.*`, 's');
  }
  throw new Error(field);
}

/** Whether one value of a field matches the request. */
function fieldValue(field: string, value: string, req: AuthzRequest, policyNamespace: string): boolean {
  switch (field) {
    case 'principals':
    case 'namespaces':
    case 'serviceAccounts':
    case 'trustDomains':
      return req.peerSpiffeId !== undefined && identityRegex(field, value, policyNamespace).test(req.peerSpiffeId);
    case 'requestPrincipals':
      return requestPrincipalMatch(value, req);
    case 'ipBlocks':
      return ipMatch(value, req.sourceIp);
    case 'remoteIpBlocks':
      return ipMatch(value, req.remoteIp ?? req.sourceIp);
    case 'hosts':
      return headerMatch(value, req.host, true);
    case 'ports':
      return Number(value) === req.destinationPort;
    case 'methods':
      return headerMatch(value, req.method);
    case 'paths':
      return pathMatch(value, req.path);
  }
  throw new Error(`field ${field}`);
}

function conditionValue(key: string, value: string, req: AuthzRequest, policyNamespace: string): boolean {
  const fields: Record<string, string> = {
    'source.ip': 'ipBlocks',
    'remote.ip': 'remoteIpBlocks',
    'source.namespace': 'namespaces',
    'source.serviceAccount': 'serviceAccounts',
    'source.principal': 'principals',
    'source.trustDomain': 'trustDomains',
    'request.auth.principal': 'requestPrincipals',
    'destination.port': 'ports',
  };
  if (fields[key] !== undefined) return fieldValue(fields[key]!, value, req, policyNamespace);
  if (key === 'destination.ip') return ipMatch(value, req.destinationIp);
  if (key === 'connection.sni') return plainMatch(value, req.sni);
  if (key === 'request.auth.audiences') return claimMatch(value, req.auth?.claims.aud);
  if (key === 'request.auth.presenter') return claimMatch(value, req.auth?.claims.azp);
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) {
    const name = header[1]!.toLowerCase();
    return headerMatch(value, name === ':authority' ? req.host : name === ':method' ? req.method : req.header(name));
  }
  const claim = /^request\.auth\.claims((?:\[[^[\]]+\])+)$/.exec(key);
  if (claim) {
    const path = claim[1]!.slice(1, -1).split('][');
    let v: unknown = req.auth?.claims;
    for (const p of path) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[p] : undefined;
    return claimMatch(value, v);
  }
  throw new Error(`key ${key}`);
}

/** A field with its values and its `not` form, as Istio ANDs them. */
function field(name: string, values: readonly string[] | undefined, notValues: readonly string[] | undefined, test: (v: string) => boolean): boolean {
  if (values !== undefined && values.length > 0 && !values.some(test)) return false;
  if (notValues !== undefined && notValues.length > 0 && notValues.some(test)) return false;
  return true;
}

const cap = (s: string): string => `not${s[0]!.toUpperCase()}${s.slice(1)}`;

function ruleMatches(rule: AuthorizationRuleSpec, req: AuthzRequest, ns: string): boolean {
  const from = rule.from ?? [];
  const to = rule.to ?? [];
  const sourceOk = (source: Record<string, readonly string[] | undefined>): boolean =>
    ['principals', 'requestPrincipals', 'namespaces', 'serviceAccounts', 'ipBlocks', 'remoteIpBlocks', 'trustDomains'].every((f) => field(f, source[f], source[cap(f)], (v) => fieldValue(f, v, req, ns)));
  const operationOk = (op: Record<string, readonly string[] | undefined>): boolean => ['hosts', 'ports', 'methods', 'paths'].every((f) => field(f, op[f], op[cap(f)], (v) => fieldValue(f, v, req, ns)));
  if (from.length > 0 && !from.some((f) => sourceOk((f.source ?? {}) as Record<string, readonly string[]>))) return false;
  if (to.length > 0 && !to.some((t) => operationOk((t.operation ?? {}) as Record<string, readonly string[]>))) return false;
  return (rule.when ?? []).every((c) => field(c.key, c.values, c.notValues, (v) => conditionValue(c.key, v, req, ns)));
}

/** The interpreter's decision: allowed, and which policy/rule decided. */
export interface InterpretedDecision {
  readonly allowed: boolean;
  readonly policy?: string;
  readonly rule?: number;
}

/**
 * Decides `req` against `policies`, all taken to apply to the workload, in the order
 * given. DENY, then ALLOW (none: allow), dry-run and AUDIT policies never decide, CUSTOM
 * is left out.
 */
export function interpret(policies: readonly AuthorizationPolicyResource[], req: AuthzRequest, namespace: string): InterpretedDecision {
  const id = (p: AuthorizationPolicyResource): string => `${p.metadata.namespace ?? namespace}/${p.metadata.name}`;
  const dryRun = (p: AuthorizationPolicyResource): boolean => ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(p.metadata.annotations?.['istio.io/dry-run'] ?? '');
  const enforced = (action: string): AuthorizationPolicyResource[] => policies.filter((p) => (p.spec.action ?? 'ALLOW') === action && !dryRun(p));
  const first = (list: AuthorizationPolicyResource[]): InterpretedDecision | undefined => {
    for (const p of list) {
      const rules = p.spec.rules ?? [];
      for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i]!, req, p.metadata.namespace ?? namespace)) return { allowed: (p.spec.action ?? 'ALLOW') !== 'DENY', policy: id(p), rule: i };
    }
    return undefined;
  };
  const deny = first(enforced('DENY'));
  if (deny !== undefined) return deny;
  const allow = enforced('ALLOW');
  if (allow.length === 0) return { allowed: true };
  return first(allow) ?? { allowed: false };
}
