import type { z } from 'zod';
import type { PathPart } from '../../config-path.js';
import type { Findings } from '../findings.js';
import { ipSubnetProblem } from '../names.js';
import { checkSelection } from './security-rules.js';
import type { authorizationPolicySchema } from './security-schemas.js';

/**
 * Istio's rules for AuthorizationPolicy (istio/istio pkg/config/validation/validation.go:
 * ValidateAuthorizationPolicy, checkDryRunAnnotation; pkg/config/security/security.go:
 * ValidateAttribute, CheckServiceAccount, CheckValidPathTemplate, ...), in our own code.
 *
 * @module
 */

type Policy = z.output<typeof authorizationPolicySchema>;
type Source = NonNullable<NonNullable<NonNullable<Policy['spec']['rules']>[number]['from']>[number]['source']>;

/** Why an IP or CIDR is bad, or undefined (`security.ValidateIPs`). */
function ipProblem(value: string): string | undefined {
  return ipSubnetProblem(value) === undefined ? undefined : 'an IP address or a CIDR block such as "10.0.0.0/16"';
}

/** `security.ValidatePorts`: a decimal number from 0 to 65535. */
function portProblem(value: string): string | undefined {
  return /^\d+$/.test(value) && Number(value) <= 65535 ? undefined : 'a port number from 0 to 65535 (a string such as "8080"; no ranges)';
}

/** `CheckServiceAccount`: `name` or `namespace/name`, no wildcard. */
function serviceAccountProblem(value: string): string | undefined {
  if (value === '') return 'a non-empty service account';
  if (value.includes('*')) return 'a service account without "*"';
  const slashes = value.split('/').length - 1;
  if (slashes > 1) return 'a service account written "name" or "namespace/name"';
  if (slashes === 1 && (value.startsWith('/') || value.endsWith('/'))) return 'a service account written "namespace/name", neither part empty';
  return undefined;
}

/** `CheckWildcardValues`: at most one `*`, at the start or the end. */
function wildcardProblem(value: string): string | undefined {
  if (value === '') return 'a non-empty value';
  const stars = value.split('*').length - 1;
  if (stars > 1) return 'a value with at most one "*"';
  if (stars === 1 && value !== '*' && !value.startsWith('*') && !value.endsWith('*')) return 'a value with "*" only at its start or end';
  return undefined;
}

function trustDomainProblem(value: string): string | undefined {
  return wildcardProblem(value) ?? (value.includes('/') ? 'a trust domain without "/"' : undefined);
}

const MATCH_ONE = '{*}';
const MATCH_ANY = '{**}';
const LITERAL = /^[a-zA-Z0-9-._~%!$&'()+,;:@=]+$/;

/** `CheckValidPathTemplate`: `{*}` and `{**}` as whole segments, `{**}` last, other segments plain. */
function pathProblem(path: string): string | undefined {
  if (path === '') return 'a non-empty path';
  const template = path.includes(MATCH_ONE) || path.includes(MATCH_ANY);
  let any = false;
  for (const segment of path.replace(/^\/+|\/+$/g, '').split('/')) {
    if ((segment === MATCH_ONE || segment === MATCH_ANY) && any) return 'a path template with {**} as its last operator';
    if (segment === MATCH_ONE) continue;
    if (segment === MATCH_ANY) {
      any = true;
      continue;
    }
    if (segment.includes('{') || segment.includes('}')) return 'a path whose "{" and "}" only form whole {*} or {**} segments';
    if (template && !LITERAL.test(segment)) return `a path template whose plain segments are URL path characters ("${segment}" is not)`;
  }
  return undefined;
}

/** `validateMapKey`: `name[key]`. */
function mapKeyProblem(key: string): string | undefined {
  const open = key.indexOf('[');
  return key.endsWith(']') && open > 0 && open < key.length - 2 ? undefined : `a key written ${key.split('[')[0]}[name]`;
}

/** `ValidateAttribute`: a known key, and values that fit it. Returns [where, problem] or undefined. */
function conditionProblem(key: string, values: readonly string[]): { key: string } | { value: number; problem: string } | undefined {
  const each = (check: (v: string) => string | undefined): { value: number; problem: string } | undefined => {
    for (let i = 0; i < values.length; i++) {
      const problem = check(values[i]!);
      if (problem !== undefined) return { value: i, problem };
    }
    return undefined;
  };
  const empty = each((v) => (v === '' ? 'a non-empty value' : undefined));
  if (empty) return empty;
  if (key.startsWith('request.headers') || key.startsWith('request.auth.claims') || key.startsWith('experimental.envoy.filters.')) {
    return mapKeyProblem(key) === undefined ? undefined : { key: mapKeyProblem(key)! };
  }
  switch (key) {
    case 'source.ip':
    case 'remote.ip':
    case 'destination.ip':
      return each(ipProblem);
    case 'destination.port':
      return each(portProblem);
    case 'source.serviceAccount':
      return each(serviceAccountProblem);
    case 'source.trustDomain':
      return each(wildcardProblem);
    case 'source.namespace':
    case 'source.principal':
    case 'request.auth.principal':
    case 'request.auth.audiences':
    case 'request.auth.presenter':
    case 'connection.sni':
      return undefined;
    case 'destination.namespace':
      return { key: 'a supported key (destination.namespace is replaced by the policy\'s own metadata.namespace)' };
    case 'destination.name':
    case 'destination.user':
      return { key: `a supported key (${key} was only supported by v1alpha1 policies)` };
    default:
      if (key.startsWith('destination.labels')) return { key: 'a supported key (destination.labels is replaced by the selector)' };
      return { key: 'a known key: request.headers[...], source.ip, remote.ip, source.namespace, source.serviceAccount, source.principal, source.trustDomain, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[...], destination.ip, destination.port, connection.sni' };
  }
}

const SOURCE_LISTS = ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks', 'trustDomains', 'notTrustDomains'] as const;
/** Source fields CUSTOM policies cannot use (Istio's ext_authz filter runs before the identity is known). */
const CUSTOM_UNSUPPORTED = ['namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'trustDomains', 'notTrustDomains', 'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals'] as const;
/** Source fields that also describe TCP traffic. */
const TCP_SOURCE = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts'] as const;

function checkSource(source: Source, at: PathPart[], custom: boolean, findings: Findings): void {
  const count = (keys: readonly (keyof Source)[]): number => keys.reduce((n, k) => n + ((source[k] as string[] | undefined)?.length ?? 0), 0);
  if (count(['principals', 'notPrincipals', 'namespaces', 'notNamespaces']) > 0 && count(['serviceAccounts', 'notServiceAccounts']) > 0) {
    findings.errorText(at, 'either serviceAccounts or principals and namespaces, not both');
  }
  if (count(SOURCE_LISTS) === 0) findings.errorText(at, 'a source with at least one field (leave `from` out to match any source)');
  const lists: Array<[keyof Source, (v: string) => string | undefined]> = [
    ['ipBlocks', ipProblem], ['notIpBlocks', ipProblem], ['remoteIpBlocks', ipProblem], ['notRemoteIpBlocks', ipProblem],
    ['serviceAccounts', serviceAccountProblem], ['notServiceAccounts', serviceAccountProblem],
    ['trustDomains', trustDomainProblem], ['notTrustDomains', trustDomainProblem],
  ];
  const plain = (v: string): string | undefined => (v === '' ? 'a non-empty value' : undefined);
  for (const key of ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces'] as const) lists.push([key, plain]);
  for (const [key, check] of lists) {
    ((source[key] as string[] | undefined) ?? []).forEach((value, i) => {
      const problem = check(value);
      if (problem !== undefined) findings.error([...at, key, i], value, problem);
    });
  }
  if (custom) {
    for (const key of CUSTOM_UNSUPPORTED) {
      if ((source[key]?.length ?? 0) > 0) findings.errorText([...at, key], `no ${key} in a CUSTOM policy (Istio does not support it there)`);
    }
  }
}

/** Checks a parsed AuthorizationPolicy. */
export function checkAuthorizationPolicy(policy: Policy, findings: Findings): void {
  const spec = policy.spec;
  const action = spec.action ?? 'ALLOW';
  checkSelection(spec, findings);
  const rules = spec.rules ?? [];
  if (action === 'CUSTOM') {
    if (rules.length === 0) findings.errorText(['spec', 'rules'], 'rules in a CUSTOM policy (without them it never applies; write rules: [{}] to apply it to every request)');
    else if (spec.provider === undefined) findings.errorText(['spec', 'provider'], 'a provider: {name: ...} in a CUSTOM policy');
    else if (!spec.provider.name) findings.errorText(['spec', 'provider', 'name'], 'a non-empty provider name');
  } else if (spec.provider !== undefined) {
    findings.errorText(['spec', 'provider'], `no provider with action ${action} (providers are for CUSTOM policies)`);
  }
  if (action === 'DENY' && rules.length === 0) findings.errorText(['spec', 'rules'], 'rules in a DENY policy (without them it never applies; write rules: [{}] to deny every request)');

  rules.forEach((rule, r) => {
    const at: PathPart[] = ['spec', 'rules', r];
    let fromExists = false;
    let toExists = false;
    let tcpFrom = false;
    let tcpTo = false;
    (rule.from ?? []).forEach((from, f) => {
      if (from.source === undefined) {
        findings.errorText([...at, 'from', f, 'source'], 'a source in each `from` entry');
        return;
      }
      fromExists = true;
      checkSource(from.source, [...at, 'from', f, 'source'], action === 'CUSTOM', findings);
      if (TCP_SOURCE.some((k) => from.source![k] !== undefined)) tcpFrom = true;
    });
    (rule.to ?? []).forEach((to, t) => {
      const here: PathPart[] = [...at, 'to', t, 'operation'];
      const op = to.operation;
      if (op === undefined) {
        findings.errorText(here, 'an operation in each `to` entry');
        return;
      }
      toExists = true;
      if (Object.values(op).every((list) => list === undefined || list.length === 0)) findings.errorText(here, 'an operation with at least one field (leave `to` out to match any operation)');
      for (const key of ['ports', 'notPorts'] as const) (op[key] ?? []).forEach((v, i) => { const p = portProblem(v); if (p) findings.error([...here, key, i], v, p); });
      for (const key of ['hosts', 'notHosts', 'methods', 'notMethods'] as const) (op[key] ?? []).forEach((v, i) => { if (v === '') findings.error([...here, key, i], v, 'a non-empty value'); });
      for (const key of ['paths', 'notPaths'] as const) (op[key] ?? []).forEach((v, i) => { const p = pathProblem(v); if (p) findings.error([...here, key, i], v, p); });
      if (op.ports !== undefined || op.notPorts !== undefined) tcpTo = true;
    });
    (rule.when ?? []).forEach((condition, w) => {
      const here: PathPart[] = [...at, 'when', w];
      if (condition.key === '') {
        findings.errorText([...here, 'key'], 'a condition key');
        return;
      }
      if ((condition.values?.length ?? 0) + (condition.notValues?.length ?? 0) === 0) {
        findings.errorText(here, `values or notValues for the condition on ${condition.key}`);
        return;
      }
      for (const list of ['values', 'notValues'] as const) {
        const problem = conditionProblem(condition.key, condition[list] ?? []);
        if (problem === undefined) continue;
        if ('key' in problem) findings.error([...here, 'key'], condition.key, problem.key);
        else findings.error([...here, list, problem.value], condition[list]![problem.value], problem.problem);
        break;
      }
      if (action === 'CUSTOM' && (['source.namespace', 'source.serviceAccount', 'source.trustDomain', 'source.principal'].includes(condition.key) || condition.key.startsWith('request.auth.'))) {
        findings.errorText([...here, 'key'], `no condition on ${condition.key} in a CUSTOM policy (Istio does not support it there)`);
      }
    });
    if (action === 'DENY' && ((fromExists && !toExists && !tcpFrom) || (toExists && !tcpTo))) {
      findings.warn(at, 'this DENY rule uses only HTTP attributes: on TCP ports (where they cannot be read) Istio denies all traffic; name the ports (to.operation.ports) to keep it to HTTP');
    }
  });

  const dryRun = policy.metadata.annotations?.['istio.io/dry-run'];
  if (dryRun !== undefined) {
    const at: PathPart[] = ['metadata', 'annotations', 'istio.io/dry-run'];
    if (action !== 'ALLOW' && action !== 'DENY') findings.error(at, dryRun, `no dry-run annotation on a ${action} policy (ALLOW and DENY only)`);
    else if (!['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'].includes(dryRun)) findings.error(at, dryRun, '"true" or "false"');
  }
}
