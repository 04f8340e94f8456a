/**
 * proxyless: a service mesh as a library. Discovery, client-side load balancing and
 * Istio-style configuration inside the Node.js process, around undici and fetch.
 *
 * @packageDocumentation
 */
export { createMesh } from './mesh/create-mesh.js';
export { Mesh } from './mesh/mesh.js';
export type { EndpointSnapshot, ServiceSnapshot, MeshEvents, ConfigAppliedInfo, CircuitEvent } from './mesh/mesh.js';
export type { ServiceStats, ServicesEvictedInfo, ReadyOptions } from './mesh/mesh.js';
export { holdSource } from './discovery/source-holds.js';
export type { HoldableSource } from './discovery/source-holds.js';
export { SourceClosedError, DiscoverySourceError, MeshNotReadyError } from './core/errors/index.js';
export { MeshDispatcher } from './mesh/mesh-dispatcher.js';
export type { MeshFetch, MeshFetchInput, MeshFetchInit, GlobalFetchDispatcher } from './mesh/mesh-fetch.js';
export type { ServiceStatus } from './mesh/mesh-service.js';
export type {
  MeshOptions,
  EndpointPoolOptions,
  OutboundTrafficPolicy,
  StackEdits,
  ServiceTarget,
  EndpointTarget,
  PathNormalizationOption,
} from './mesh/types.js';
export type { EndpointTlsOptions, PemInput } from './mesh/endpoint-tls.js';

export { staticEndpoints, StaticEndpointsSource } from './discovery/static-endpoints.js';
export type { StaticEndpointsMap } from './discovery/static-endpoints.js';
export type {
  DiscoverySource,
  DiscoverySourceState,
  DiscoveryUpdate,
  DiscoveryListener,
  DiscoveryWatch,
  Endpoint,
  EndpointInput,
  EndpointSpec,
  ResetUpdate,
  AddUpdate,
  RemoveUpdate,
  MissingUpdate,
  ServiceName,
  ServiceQuery,
} from './discovery/types.js';

export { layer, Stack } from './core/layer.js';
export type { Layer, Dispatch } from './core/layer.js';
export { ForwardingHandler } from './core/forwarding-handler.js';
export { getHeader, hasHeader, withHeader } from './core/headers.js';
export {
  ProxylessError,
  InvalidOptionError,
  InvalidConfigError,
  UnknownServiceError,
  NoEndpointsError,
  DiscoveryTimeoutError,
  MeshClosedError,
  MeshClosingError,
  InvalidRequestError,
  OverloadError,
  RouteTimeoutError,
  DeadlineExceededError,
  NoHealthyUpstreamError,
  BodyNotReplayableError,
} from './core/errors/index.js';
export type { FailureKind } from './core/classify-failure.js';
export { withDeadline, currentDeadline, deadlineFromHeader, DEADLINE_HEADER } from './policy/deadline/index.js';
export { PerTryTimeoutError } from './policy/retry/index.js';
export type { RetryInfo } from './policy/retry/index.js';

export * from './balance/index.js';
export type { DestinationRule, TrafficPolicy, ResourceMetadata, ConfigSource, ConfigWatch } from './config/types.js';
export { parseMeshYaml } from './config/parse-mesh-yaml.js';
export { checkConfig } from './compile/check-config.js';
export type { ConfigCheck, CheckConfigOptions } from './compile/check-config.js';
export type { SkippedResource } from './config/load-config.js';
export type { UnknownFieldsMode } from './config/validate-resource.js';
export { renderDiagnostic } from './core/errors/index.js';
export type { ConfigDiagnostic } from './core/errors/index.js';
export { declaresNoResources, EMPTY_CONFIG_MARKER } from './config/empty-config.js';
export { CatalogSource } from './discovery/catalog-source.js';
export { file, FileEndpointsSource, EndpointsFileError } from './discovery/file-source.js';
export type { FileSourceOptions, FileSourceState } from './discovery/file-source.js';
export { parseEndpoint, endpointKey } from './discovery/parse-endpoint.js';
export { dns, DnsSource, DnsError } from './discovery/dns/index.js';
export type { DnsOptions, DnsSrvOptions, DnsSourceState, DnsRecordType, DnsFailureReason, DnsAttemptFailure } from './discovery/dns/index.js';
export type { Explanation, RouteVerdict, ExplainedDestination, ExplainedEndpoint } from './route/explain.js';
export { formatExplanation } from './route/explain.js';
export { CircuitOpenError, ServiceBreaker, breakerLayer, breakerPermit, DEFAULT_BREAKER_SETTINGS } from './policy/breaker/index.js';
export { breakerSettings, CIRCUIT_BREAKER_ANNOTATION, healthCheckSettings, outlierSettings } from './config/settings/index.js';
export type { HealthCheckSpec } from './config/settings/index.js';
export type { BreakerSnapshot, BreakerSettings, BreakerState, BreakerStats, FailCondition, BreakerEvents, BreakerOpenEvent, BreakerHalfOpenEvent, BreakerCloseEvent, BreakerOutcome, BreakerPermit } from './policy/breaker/index.js';
export { HealthChecker, DEFAULT_HEALTH_CHECK_SETTINGS } from './policy/health-check/index.js';
export type { HealthCheckSettings, StatusRange, HealthCheckedEndpoint, HealthCheckResult, HealthCheckFunction, HealthCheckTimers, HealthCheckerOptions, EndpointHealth } from './policy/health-check/index.js';
export { OutlierDetector, DEFAULT_OUTLIER_SETTINGS } from './policy/outlier/index.js';
export type { OutlierSettings, OutlierHost, OutlierResult, OutlierHostStats } from './policy/outlier/index.js';
export type { RetryBudgetSettings, HedgingSettings } from './config/extensions.js';

export * from './telemetry/index.js';
// Workload identity (SPIFFE X.509-SVIDs): see docs/identity.md.
export {
  SpiffeId,
  InvalidSpiffeIdError,
  X509Svid,
  loadSvid,
  verifySvid,
  trustBundleFromPem,
  parsePemCertificates,
  KeyUsageBits,
  ExtKeyUsageOids,
  MESH_SESSION_ID_CONTEXT,
  BaseIdentitySource,
  identityFromFiles,
  FileIdentitySource,
  devIdentity,
  DevIdentitySource,
  createDevCa,
  issueSvid,
  writeDevCa,
  loadDevCa,
  clientTlsOptions,
  serverTlsOptions,
  serveWithIdentity,
  verifyClient,
  meshAlpnCallback,
  mtlsConnector,
} from './tls/index.js';
export type {
  CertificateInfo,
  KeyUsageInfo,
  BasicConstraintsInfo,
  SvidSummary,
  ClientConnectionOptions,
  MeshServerOptions,
  MtlsConnector,
  TrustBundle,
  TrustBundles,
  VerifySvidOptions,
  VerifiedSvid,
  IdentityExpectation,
  SvidPem,
  KeyType,
  DevCa,
  CreateDevCaOptions,
  IssueSvidOptions,
  IssuedSvid,
  IdentitySource,
  IdentitySourceEvents,
  FileIdentityOptions,
  DevIdentityOptions,
  ClientTlsOptions,
  ServerTlsOptions,
  ServeWithIdentityOptions,
  ServerExpectation,
  TlsServerLike,
  MtlsConnectorOptions,
  Connector,
} from './tls/index.js';
export { SvidError, IdentityNotReadyError } from './core/errors/index.js';
export type { SvidRule } from './core/errors/index.js';

// Security resources as decisions (PeerAuthentication, AuthorizationPolicy,
// RequestAuthentication): see docs/security.md.
export {
  compileSecurity,
  compileAuthorization,
  resolvePeerAuthentication,
  Authorizer,
  AUTHZ_DENIED_STATUS,
  AUTHZ_DENIED_BODY,
  explainAuthorization,
  resolveAuthorizationOptions,
  RequestAuthenticator,
  compileRequestAuthentication,
  JwksCache,
  RemoteKeys,
} from './security/index.js';
export type {
  SecurityResources,
  CompileSecurityOptions,
  CompiledSecurity,
  CompiledAuthorization,
  PeerAuthenticationDecision,
  PeerAuthenticationExplanation,
  AuthzDecision,
  AuthorizeOutcome,
  DryRunResult,
  DryRunCounters,
  AuthzExplanation,
  PolicyExplanation,
  RuleExplanation,
  FailedCheck,
  AuthorizationOptions,
  AuthorizationProvider,
  AuthorizationCheck,
  AuthorizationCheckContext,
  AuthorizationVerdict,
  ProviderOutcome,
  JwtOutcome,
  TokenRequest,
  TokenProblem,
  AuthzRequest,
  RequestAuth,
  ClaimValue,
  MtlsMode,
  SecurityWorkload,
  SecurityMeshSettings,
  SecurityFinding,
  AuthorizationPolicyResource,
  PeerAuthenticationResource,
  RequestAuthenticationResource,
  AuthorizationAction,
  AuthorizationRuleSpec,
  AuthorizationSourceSpec,
  AuthorizationOperationSpec,
  AuthorizationConditionSpec,
  PeerAuthenticationMode,
  JwtRuleSpec,
  SecurityMetadata,
  WorkloadSelectorSpec,
  TargetRefSpec,
  AuthorizerOptions,
  CompiledPolicy,
  CompiledRule,
  Clause,
  Predicate,
  AttributeMatcher,
  CompileRequestAuthenticationOptions,
  CompiledRequestAuthentication,
  PeerAuthenticationSource,
  ResolvePeerAuthenticationOptions,
  ResolvedProvider,
  RemoteKeysOptions,
  KeySource,
  KeyResolver,
  TokenLocation,
  FoundToken,
  IndexKey,
  IndexedAttribute,
  ProviderAsked,
  ProviderDenial,
  ChosenPeerAuthentications,
  RemoteKeysLocation,
  JwksUriLocation,
  IssuerLocation,
  HeaderTokenLocation,
  NamedTokenLocation,
  ProviderAllowance,
  AuthorizationRuleFrom,
  AuthorizationRuleTo,
  AuthorizationProviderRef,
  PeerAuthenticationMtls,
  JwtHeaderSpec,
  ClaimToHeaderSpec,
} from './security/index.js';
export * from './inbound/index.js';
export { MAX_DEADLINE_MS } from './policy/deadline/index.js';
export { PROXYLESS_API_VERSION } from './config/proxyless/local-rate-limit.js';

// Admin server, dashboard and their data (issue 15, src/admin; docs/admin.md).
export { isLoopback } from './admin/index.js';
export { createAdminHandler } from './mesh/admin-handler.js';
export { LatencyHistogram } from './balance/latency-histogram.js';
export type {
  AdminServer,
  AdminHandler,
  AdminHandlerOptions,
  AdminOptions,
  AdminLogger,
  PrometheusSource,
  PrometheusExporterLike,
  Cluster,
  ClusterEndpoint,
  ClusterOutlier,
  ClusterActiveHealth,
  ClusterCircuit,
  ClusterCounts,
  ConfigDump,
  DumpedResource,
  RouteDump,
  RouteDestinationDump,
  ConfigRecord,
  AdminEvent,
  DashboardFrame,
  FrameService,
  FrameHistory,
  FrameTotals,
  FrameSplit,
} from './admin/index.js';
// Structure (issue 11): the layer contract's typed per-policy state slots (src/core/target.ts).
export { stateKey } from './core/target.js';
export type { StateKey, EndpointLoadView } from './core/target.js';
