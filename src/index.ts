/**
 * proxyless: a service mesh as a library. Discovery, client-side load balancing and
 * Istio-style configuration inside the Node.js process, around undici and fetch.
 *
 * @packageDocumentation
 */
// The application's API: the mesh, discovery sources, config, errors, deadlines and
// stacks. Building blocks live in subpath entries (src/entries/): proxyless/balance,
// proxyless/policy, proxyless/config, proxyless/discovery, proxyless/telemetry,
// proxyless/security, proxyless/tls, proxyless/inbound, proxyless/admin. docs/api.md lists every
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

// Errors, every class the mesh, its sources and its server raise (etcd's are
// @proxyless/etcd's).
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
export { SvidError, IdentityNotReadyError } from './core/errors/index.js';
export type { SvidRule } from './core/errors/index.js';
export { InvalidSpiffeIdError } from './tls/spiffe-id.js';
export { PeerAuthenticationRefusedError } from './inbound/mesh-server.js';
export { ClientTlsError } from './mesh/client-tls.js';
// Errors looked for through fetch's `TypeError: fetch failed` (issue 11).
export { isProxylessError, proxylessErrorOf } from './core/errors/index.js';
export type { ProxylessErrorOptions } from './core/errors/index.js';

// Config: sources, and config from TypeScript (resource types derived from the loader's
// schemas, builders that validate at once, typed options for our extensions).
export type { ResourceMetadata, ConfigSource, ConfigWatch } from './config/types.js';
export type { UnknownFieldsMode } from './config/validate-resource.js';
export { virtualService, destinationRule, serviceEntry } from './compile/builders.js';
export type * from './config/from-code/index.js';

// Telemetry an application sets up: its options, the W3C propagator to register with its
// OpenTelemetry SDK, and the diagnostics channels to subscribe to (docs/telemetry.md).
// The building blocks are proxyless/telemetry's.
export type { TelemetryOptions, TracingOptions, MetricsOptions } from './telemetry/options.js';
export type { AccessLogger, AccessLogFilter, AccessLogOptions, AccessLogEntry } from './telemetry/access-log.js';
export type { WorkloadOptions } from './telemetry/workload.js';
export type { OtelTracerProvider, OtelMeterProvider } from './telemetry/api-types.js';
export { TraceContextPropagator } from './telemetry/w3c-propagator.js';
export type { TraceContextPropagatorOptions } from './telemetry/w3c-propagator.js';
export { CHANNEL_NAMES } from './telemetry/channels.js';
export type { CallMessage, AttemptMessage, RetryMessage, HedgeMessage, BudgetExhaustedMessage } from './telemetry/channels.js';
export type { EjectionMessage, HealthMessage, BreakerMessage } from './telemetry/channels.js';
export type { ConfigAppliedMessage, ConfigRejectedMessage, DiscoveryRefreshMessage, DiscoveryErrorMessage } from './telemetry/channels.js';

// Workload identity: the sources an application passes to createMesh({ identity })
// (docs/identity.md). SVIDs, certificates, the dev CA and mTLS helpers: proxyless/tls.
export { identityFromFiles, FileIdentitySource } from './tls/file-identity.js';
export type { FileIdentityOptions } from './tls/file-identity.js';
export { devIdentity, DevIdentitySource } from './tls/dev-identity.js';
export type { DevIdentityOptions } from './tls/dev-identity.js';
export type { IdentitySource, IdentitySourceEvents } from './tls/identity-source.js';

// Authorization: the CUSTOM providers an application passes to createMesh({ authorization })
// and what they receive; the dry-run results the mesh reports (docs/security.md). The
// compilers, matchers and resource types: proxyless/security.
export type { AuthorizationOptions, AuthorizationProvider, AuthorizationCheck, AuthorizationCheckContext, AuthorizationVerdict } from './security/authz-providers.js';
export type { AuthzRequest, RequestAuth, ClaimValue } from './security/request-view.js';
export type { DryRunResult, DryRunCounters } from './security/authorizer.js';
export type { SecurityStats } from './mesh/mesh.js';
export type { InboundExplanation, InboundRequestSpec } from './mesh/explain-inbound.js';

// Serving: the inbound side for node:http servers, its stack and layers (edited like the
// client's), its options, and what a request carries (docs/serving.md). What adapters and
// custom servers are built from: proxyless/inbound.
export { inbound, Inbound } from './inbound/inbound.js';
export type { InboundEvents } from './inbound/inbound.js';
export type { InboundOptions, RequestMesh, CallerTraceContext, PeerIdentity, MeshIncomingMessage } from './inbound/types.js';
export { InboundExchange } from './inbound/exchange.js';
export type { Finisher } from './inbound/exchange.js';
export { InboundStack, inboundLayer } from './inbound/inbound-stack.js';
export type { InboundLayer, InboundHandler } from './inbound/inbound-stack.js';
export type { DrainOptions, DrainedInfo } from './inbound/lifecycle.js';
export type { PathMatch, RateLimitOptions, RateLimitDescriptorOptions, TokenBucketOptions } from './config/settings/rate-limit.js';
export type { LoadSheddingOptions } from './inbound/adaptive-concurrency.js';
export type { InboundTelemetryOptions } from './inbound/inbound-telemetry.js';
export type { MeshServer, CreateServerOptions } from './inbound/mesh-server.js';

// The admin server an application starts (mesh.admin()) or mounts (createAdminHandler),
// and its options (docs/admin.md). The JSON its endpoints answer, typed: proxyless/admin.
export { createAdminHandler } from './mesh/admin-handler.js';
export type { AdminServer, AdminHandler, AdminHandlerOptions } from './admin/admin-server.js';
export type { AdminOptions, AdminLogger, PrometheusSource, PrometheusExporterLike } from './admin/options.js';
