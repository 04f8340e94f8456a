/**
 * Istio's security resources as decisions: PeerAuthentication (the mTLS mode of each
 * server port), AuthorizationPolicy (allow or deny a request, with explanations) and
 * RequestAuthentication (JWT checks). See docs/security.md.
 *
 * @module
 */
export { compileSecurity, compileAuthorization } from './compile-security.js';
export type { SecurityResources, CompileSecurityOptions, CompiledSecurity, CompiledAuthorization } from './compile-security.js';
export { resolvePeerAuthentication } from './peer-authentication.js';
export type { PeerAuthenticationDecision, PeerAuthenticationExplanation, PeerAuthenticationSource, ResolvePeerAuthenticationOptions, ChosenPeerAuthentications } from './peer-authentication.js';
export { Authorizer, AUTHZ_DENIED_STATUS, AUTHZ_DENIED_BODY } from './authorizer.js';
export type { AuthorizerOptions, AuthorizeOutcome, DryRunResult, DryRunCounters } from './authorizer.js';
export { compilePolicies, parseDryRun } from './authz-compile.js';
export type { AuthzDecision, CompiledPolicy, CompiledPolicies, CompiledRule, Clause, Predicate, CompilePoliciesOptions } from './authz-compile.js';
export type { AttributeMatcher, IndexKey, IndexedAttribute } from './authz-attributes.js';
export { explainAuthorization } from './authz-explain.js';
export type { AuthzExplanation, PolicyExplanation, RuleExplanation, FailedCheck, ProviderAsked } from './authz-explain.js';
export { resolveAuthorizationOptions, askProvider, DEFAULT_PROVIDER_TIMEOUT_MS } from './authz-providers.js';
export type { AuthorizationOptions, AuthorizationProvider, AuthorizationCheck, AuthorizationCheckContext, AuthorizationVerdict, ResolvedProvider, ProviderOutcome, ProviderDenial, ProviderAllowance } from './authz-providers.js';
export { RequestAuthenticator, compileRequestAuthentication } from './request-authentication.js';
export type { JwtOutcome, CompileRequestAuthenticationOptions, CompiledRequestAuthentication } from './request-authentication.js';
export { JwksCache, RemoteKeys, InlineKeys, parseJwks, JWKS_DEFAULTS } from './jwks-source.js';
export type { KeySource, KeyResolver, RemoteKeysOptions, RemoteKeysLocation, JwksUriLocation, IssuerLocation, JwksDocument } from './jwks-source.js';
export { tokenLocations, findTokens, isCorsPreflight, MAX_TOKEN_LENGTH } from './jwt-location.js';
export type { TokenRequest, TokenLocation, FoundToken, HeaderTokenLocation, NamedTokenLocation } from './jwt-location.js';
export { verifyToken, normalizeAudience, CLOCK_SKEW_SECONDS, TOKEN_PROBLEM_TEXT } from './jwt-verify.js';
export type { TokenProblem, TokenResult, TokenRule, TokenPayload } from './jwt-verify.js';
export { DEFAULT_ROOT_NAMESPACE } from './policy-scope.js';
export { renderFinding } from './types.js';
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
export type { AuthzRequest, RequestAuth, ClaimValue } from './request-view.js';
