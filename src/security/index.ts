/**
 * Istio's security resources as decisions, published as `proxyless/security`
 * (src/entries/security.ts): PeerAuthentication (the mTLS mode of each server port),
 * AuthorizationPolicy (allow or deny a request, with explanations) and
 * RequestAuthentication (JWT checks), their compilers, matchers and key sources. What an
 * application writes (its CUSTOM authorization providers, and the request view they
 * receive) is in the root entry, src/index.ts. See docs/security.md.
 */
export { compileSecurity, compileAuthorization } from './compile-security.js';
export type { SecurityResources, CompileSecurityOptions, CompiledSecurity, CompiledAuthorization } from './compile-security.js';
export { resolvePeerAuthentication } from './peer-authentication.js';
export type { PeerAuthenticationDecision, PeerAuthenticationExplanation, PeerAuthenticationSource, ResolvePeerAuthenticationOptions, ChosenPeerAuthentications } from './peer-authentication.js';
export { Authorizer, AUTHZ_DENIED_STATUS, AUTHZ_DENIED_BODY } from './authorizer.js';
export type { AuthorizerOptions, AuthorizeOutcome } from './authorizer.js';
export type { AuthzDecision, CompiledPolicy, CompiledRule, Clause, Predicate } from './authz-compile.js';
export type { AttributeMatcher, IndexKey, IndexedAttribute } from './authz-attributes.js';
export { explainAuthorization } from './authz-explain.js';
export type { AuthzExplanation, PolicyExplanation, RuleExplanation, FailedCheck, ProviderAsked } from './authz-explain.js';
export { resolveAuthorizationOptions } from './authz-providers.js';
export type { ResolvedProvider, ProviderOutcome, ProviderDenial, ProviderAllowance } from './authz-providers.js';
export { RequestAuthenticator, compileRequestAuthentication } from './request-authentication.js';
export type { JwtOutcome, CompileRequestAuthenticationOptions, CompiledRequestAuthentication } from './request-authentication.js';
export { JwksCache, RemoteKeys } from './jwks-source.js';
export type { KeySource, KeyResolver, RemoteKeysOptions, RemoteKeysLocation, JwksUriLocation, IssuerLocation } from './jwks-source.js';
export type { TokenRequest, TokenLocation, FoundToken, HeaderTokenLocation, NamedTokenLocation } from './jwt-location.js';
export type { TokenProblem } from './jwt-verify.js';
export type {
  AuthorizationPolicyResource,
  AuthorizationRuleSpec,
  AuthorizationSourceSpec,
  AuthorizationOperationSpec,
  AuthorizationConditionSpec,
  AuthorizationRuleFrom,
  AuthorizationRuleTo,
  AuthorizationProviderRef,
  PeerAuthenticationMtls,
  JwtHeaderSpec,
  ClaimToHeaderSpec,
  AuthorizationAction,
  PeerAuthenticationResource,
  PeerAuthenticationMode,
  MtlsMode,
  RequestAuthenticationResource,
  JwtRuleSpec,
  SecurityMetadata,
  WorkloadSelectorSpec,
  TargetRefSpec,
  PolicyTargetsSpec,
  SecurityWorkload,
  SecurityMeshSettings,
  SecurityFinding,
} from './types.js';
