/**
 * proxyless: a service mesh as a library. Discovery, client-side load balancing and
 * Istio-style configuration inside the Node.js process, around undici and fetch.
 *
 * @packageDocumentation
 */
// The application's API: the mesh, discovery sources, config, errors, deadlines and
// stacks. Building blocks live in subpath entries (src/entries/): proxyless/balance,
// proxyless/policy, proxyless/config, proxyless/discovery. docs/api.md lists every
// export, one line each (test/package/exports.test.ts holds the two together).
export { createMesh } from './mesh/create-mesh.js';
export { Mesh } from './mesh/mesh.js';
export type { EndpointSnapshot, ServiceSnapshot, MeshEvents, ConfigAppliedInfo, CircuitEvent } from './mesh/mesh.js';
export type { ServiceStats, ServicesEvictedInfo, ReadyOptions } from './mesh/mesh.js';
export type { EndpointEvent, HealthChangedEvent, RetryEvent, HedgeEvent, BudgetExhaustedEvent } from './mesh/policy-event-sink.js';
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
export type { Explanation, RouteVerdict, ExplainedDestination, ExplainedEndpoint } from './route/explain.js';
export { formatExplanation } from './route/explain.js';
export type { BreakerSnapshot, BreakerState } from './policy/breaker/index.js';
export type { EndpointHealth } from './policy/health-check/index.js';

// Discovery sources.
export { holdSource } from './discovery/source-holds.js';
export type { HoldableSource } from './discovery/source-holds.js';
export { staticEndpoints, StaticEndpointsSource } from './discovery/static-endpoints.js';
export type { StaticEndpointsMap } from './discovery/static-endpoints.js';
export { file, FileEndpointsSource } from './discovery/file-source.js';
export type { FileSourceOptions, FileSourceState } from './discovery/file-source.js';
export { dns, DnsSource } from './discovery/dns/index.js';
export type { DnsOptions, DnsSrvOptions, DnsSourceState, DnsRecordType, DnsFailureReason, DnsAttemptFailure } from './discovery/dns/index.js';
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

// Stacks: layers, and the default ones by role (to put a removed layer back elsewhere).
export { layer, Stack } from './core/layer.js';
export type { Layer, Dispatch } from './core/layer.js';
export { ForwardingHandler } from './core/forwarding-handler.js';
export { getHeader, hasHeader, withHeader } from './core/headers.js';
export { serviceLayers, endpointLayers } from './mesh/default-layers.js';
export type { ServiceLayers, EndpointLayers } from './mesh/default-layers.js';
export type { FailureKind } from './core/classify-failure.js';
// The layer contract's typed per-policy state slots (src/core/target.ts).
export { stateKey } from './core/target.js';
export type { StateKey, EndpointLoadView } from './core/target.js';
export type { PolicyEvents, ReportedService } from './core/policy-events.js';

// Deadlines.
export { withDeadline, currentDeadline, deadlineFromHeader, DEADLINE_HEADER, MAX_DEADLINE_MS } from './policy/deadline/index.js';

// Errors, every class the mesh and its sources raise (etcd's are @proxyless/etcd's).
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
  SourceClosedError,
  DiscoverySourceError,
  MeshNotReadyError,
} from './core/errors/index.js';
export { CircuitOpenError } from './core/errors/index.js';
export { PerTryTimeoutError } from './core/errors/index.js';
export type { RetryInfo } from './policy/retry/index.js';
export { EndpointsFileError } from './discovery/file-source.js';
export { DnsError } from './discovery/dns/index.js';
export type { ConfigDiagnostic } from './core/errors/index.js';
// Errors looked for through fetch's `TypeError: fetch failed` (issue 11).
export { isProxylessError, proxylessErrorOf } from './core/errors/index.js';
export type { ProxylessErrorOptions } from './core/errors/index.js';

// Config: sources, and config from TypeScript (resource types derived from the loader's
// schemas, builders that validate at once, typed options for our extensions).
export type { ResourceMetadata, ConfigSource, ConfigWatch } from './config/types.js';
export type { UnknownFieldsMode } from './config/validate-resource.js';
export { virtualService, destinationRule, serviceEntry } from './compile/builders.js';
export type * from './config/from-code/index.js';

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
  PolicyTargetsSpec,
} from './security/index.js';
export * from './inbound/index.js';

// Identity and security wired into the mesh (issue 14, helper S): the server and its
// refusals, the client side's TLS modes, the inbound explanation.
export { PeerAuthenticationRefusedError } from './inbound/mesh-server.js';
export type { MeshServer, CreateServerOptions, MeshServerMesh } from './inbound/mesh-server.js';
export { socketPeer, requestAuthOf } from './inbound/security-steps.js';
export type { SecurityMesh, InboundSecurityView } from './inbound/security-steps.js';
export { ClientTlsError, TLS_MODE_LABEL, SERVICE_ACCOUNT_LABEL, clientTlsMode, expectedServerIdentity } from './mesh/client-tls.js';
export type { ClientTlsSettings, ClientTlsTarget, ClientTlsDecision } from './mesh/client-tls.js';
export type { InboundExplanation, InboundRequestSpec } from './mesh/explain-inbound.js';
export type { SecurityVersion } from './compile/mesh-security.js';
export type { SecurityStats } from './mesh/mesh.js';

// Admin server, dashboard and their data (issue 15, src/admin; docs/admin.md).
export { isLoopback } from './admin/index.js';
export { createAdminHandler } from './mesh/admin-handler.js';
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
