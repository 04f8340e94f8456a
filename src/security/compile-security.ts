import { InvalidConfigError } from '../core/errors/index.js';
import { compilePolicies } from './authz-compile.js';
import { resolveAuthorizationOptions, type AuthorizationOptions, type ResolvedProvider } from './authz-providers.js';
import { Authorizer, type AuthorizerOptions } from './authorizer.js';
import { JwksCache, type RemoteKeys } from './jwks-source.js';
import { resolvePeerAuthentication, type PeerAuthenticationDecision } from './peer-authentication.js';
import { compileRequestAuthentication, type RequestAuthenticator } from './request-authentication.js';
import { shapeFinding } from './resource-shape.js';
import { type AuthorizationPolicyResource, type PeerAuthenticationResource, type RequestAuthenticationResource, type SecurityFinding, type SecurityMeshSettings, type SecurityWorkload } from './types.js';

/**
 * Istio's security resources compiled into the decisions of one workload, once per config
 * version: the mTLS mode of each server port (PeerAuthentication), the authorizer
 * (AuthorizationPolicy) and the request authenticator (RequestAuthentication).
 *
 * @module
 */

/** The security resources of one config version. */
export interface SecurityResources {
  /** PeerAuthentications. */
  readonly peerAuthentications?: readonly PeerAuthenticationResource[];
  /** AuthorizationPolicies. */
  readonly authorizationPolicies?: readonly AuthorizationPolicyResource[];
  /** RequestAuthentications. */
  readonly requestAuthentications?: readonly RequestAuthenticationResource[];
}

/** Options of {@link compileSecurity} and {@link compileAuthorization}. */
export interface CompileSecurityOptions extends SecurityMeshSettings {
  /** This workload: its namespace and labels. */
  readonly workload: SecurityWorkload;
  /** Providers of CUSTOM policies (`createMesh({ authorization })`), as given or already resolved. */
  readonly authorization?: AuthorizationOptions | ReadonlyMap<string, ResolvedProvider>;
  /** Receives dry-run results. */
  readonly onDryRun?: AuthorizerOptions['onDryRun'];
  /** Remote JWKS, shared across config versions. One is made when absent (close it with the result). */
  readonly jwks?: JwksCache;
}

/** The compiled decisions of one config version. */
export interface CompiledSecurity {
  /** The mTLS mode of each server port. */
  readonly peerAuthentication: PeerAuthenticationDecision;
  /** AuthorizationPolicy decisions. */
  readonly authorizer: Authorizer;
  /** RequestAuthentication checks. */
  readonly requestAuthenticator: RequestAuthenticator;
  /** The remote key sets' cache (the one given, or one made for this version: close it with it). */
  readonly jwks: JwksCache;
  /** The remote key sets this version uses: once it is in force, `jwks.retain(remoteKeys)` closes the others. */
  readonly remoteKeys: ReadonlySet<RemoteKeys>;
  /** Warnings (errors are thrown). */
  readonly warnings: readonly SecurityFinding[];
}

/**
 * The resources the compilers can read (see resource-shape.ts); the others become error
 * findings. A resource without `spec` has an empty one.
 */
function wellFormed<T extends { readonly spec: unknown }>(resources: readonly T[] | undefined, kind: 'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication', findings: SecurityFinding[]): T[] {
  const out: T[] = [];
  (resources ?? []).forEach((resource, i) => {
    const problem = shapeFinding(resource, kind, i);
    if (problem !== undefined) findings.push(problem);
    else out.push(resource.spec === undefined ? { ...resource, spec: {} } : resource);
  });
  return out;
}

function providersOf(authorization: CompileSecurityOptions['authorization']): ReadonlyMap<string, ResolvedProvider> {
  return authorization instanceof Map ? authorization : resolveAuthorizationOptions(authorization as AuthorizationOptions | undefined);
}

/** AuthorizationPolicies compiled for a workload, and what compiling found. */
export interface CompiledAuthorization {
  /** The authorizer, or undefined when a finding is an error. */
  readonly authorizer: Authorizer | undefined;
  /** Errors and warnings. */
  readonly findings: readonly SecurityFinding[];
}

/**
 * Compiles the AuthorizationPolicies that apply to the workload. A CUSTOM policy naming a
 * provider the code did not register is an error finding (and no authorizer).
 */
export function compileAuthorization(resources: readonly AuthorizationPolicyResource[], options: CompileSecurityOptions): CompiledAuthorization {
  const providers = providersOf(options.authorization);
  const findings: SecurityFinding[] = [];
  const compiled = compilePolicies(wellFormed(resources, 'AuthorizationPolicy', findings), options.workload, options);
  findings.push(...compiled.findings);
  for (const policy of compiled.policies) {
    if (policy.action !== 'CUSTOM' || providers.has(policy.provider!)) continue;
    const known = [...providers.keys()];
    findings.push({
      severity: 'error',
      where: `AuthorizationPolicy/${policy.id}`,
      path: 'spec.provider.name',
      message: `${JSON.stringify(policy.provider)} is not a provider this mesh knows (${known.length > 0 ? `known: ${known.map((k) => JSON.stringify(k)).join(', ')}` : 'none is registered'}); register it with createMesh({ authorization: { providers: { ${JSON.stringify(policy.provider)}: check } } })`,
    });
  }
  if (findings.some((f) => f.severity === 'error')) return { authorizer: undefined, findings };
  return { authorizer: new Authorizer(compiled.policies, { providers, ...(options.onDryRun && { onDryRun: options.onDryRun }) }), findings };
}

/**
 * Compiles the security resources of one config version for the workload. Every error
 * (an unknown CUSTOM provider, keys that cannot be read) is thrown together in one
 * {@link InvalidConfigError}, naming the resource and field; the caller keeps its last
 * good version. Warnings are returned.
 *
 * @throws InvalidConfigError
 */
export function compileSecurity(resources: SecurityResources, options: CompileSecurityOptions): CompiledSecurity {
  const findings: SecurityFinding[] = [];
  const peerAuthentication = resolvePeerAuthentication(wellFormed(resources.peerAuthentications, 'PeerAuthentication', findings), options.workload, {
    ...(options.rootNamespace !== undefined && { rootNamespace: options.rootNamespace }),
    onFinding: (finding) => findings.push(finding),
  });
  const authorization = compileAuthorization(resources.authorizationPolicies ?? [], options);
  findings.push(...authorization.findings);
  const jwks = options.jwks ?? new JwksCache();
  const authn = compileRequestAuthentication(wellFormed(resources.requestAuthentications, 'RequestAuthentication', findings), options.workload, { ...(options.rootNamespace !== undefined && { rootNamespace: options.rootNamespace }), jwks });
  findings.push(...authn.findings);
  const errors = findings.filter((f) => f.severity === 'error');
  // Findings have the loader's diagnostic shape: `proxyless check` shows their field paths apart.
  if (errors.length > 0) throw new InvalidConfigError(errors, { warnings: findings.filter((f) => f.severity === 'warning') });
  return { peerAuthentication, authorizer: authorization.authorizer!, requestAuthenticator: authn.authenticator, jwks, remoteKeys: authn.remoteKeys, warnings: findings };
}
