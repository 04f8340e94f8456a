/**
 * The telemetry module: W3C trace-context propagation, metric definitions and the
 * metrics recorder, Envoy response flags, access logs and diagnostics channels. Shared by
 * the client (outbound) and the server (inbound) sides. See docs/telemetry.md.
 */
export type { OtelContext, OtelTextMapGetter, OtelTextMapSetter, OtelTraceState, OtelTracerProvider, OtelMeterProvider } from './api-types.js';
export {
  TraceContextPropagator,
  parseTraceParent,
  formatTraceParent,
  isValidTraceId,
  isValidSpanId,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
  FLAG_SAMPLED,
  FLAG_RANDOM,
  MAX_TRACEPARENT_INPUT,
} from './w3c-propagator.js';
export type { TraceParent, TraceContextPropagatorOptions } from './w3c-propagator.js';
export {
  W3CTraceState,
  isTraceStateKey,
  isTraceStateValue,
  truncateEntries,
  MAX_TRACESTATE_MEMBERS,
  DEFAULT_TRACESTATE_LENGTH,
  MAX_TRACESTATE_LENGTH,
  LONG_TRACESTATE_ENTRY,
  MAX_TRACESTATE_INPUT,
  MAX_TRACESTATE_FIELDS,
} from './w3c-trace-state.js';
export {
  RESPONSE_FLAGS,
  ResponseFlag,
  formatResponseFlags,
  parseResponseFlags,
  responseFlagOfError,
  responseFlagsOf,
  sidecarStatusOf,
} from './response-flags.js';
export type { ResponseFlagInfo, ResponseFlagName, CallFlagContext } from './response-flags.js';
export { CHANNEL_NAMES, channels } from './channels.js';
export type {
  TypedChannel,
  CallMessage,
  AttemptMessage,
  RetryMessage,
  HedgeMessage,
  EjectionMessage,
  HealthMessage,
  BreakerMessage,
  ConfigAppliedMessage,
  ConfigRejectedMessage,
  DiscoveryRefreshMessage,
  DiscoveryErrorMessage,
  BudgetExhaustedMessage,
} from './channels.js';
export { AccessLog, clusterName, isErrorEntry, DEFAULT_MAX_PATH_LENGTH, MAX_FIELD_LENGTH } from './access-log.js';
export type { AccessLogger, AccessLogFilter, AccessLogOptions, AccessLogEntry } from './access-log.js';
export { resolveTelemetryOptions, TELEMETRY_ALLOWED_KEYS } from './options.js';
export type { TelemetryOptions, TracingOptions, MetricsOptions, ResolvedTelemetryOptions, ResolvedTracingOptions, ResolvedMetricsOptions } from './options.js';
export {
  METRICS,
  HTTP_DURATION_BUCKETS,
  ISTIO_DURATION_BUCKETS,
  ISTIO_LABELS,
  ATTR,
  KNOWN_METHODS,
  OTHER,
  methodAttribute,
  recordsFamily,
} from './metric-definitions.js';
export type { MetricDefinition, InstrumentKind, MetricFamily, MetricKey, MetricNames, IstioLabel } from './metric-definitions.js';
export { resolveWorkload, peerFromLabels, parseResourceAttributes, workloadFromPodName, namespaceOfService, UNKNOWN } from './workload.js';
export type { WorkloadOptions, WorkloadIdentity } from './workload.js';
export { CLIENT_SPAN_ATTRIBUTES, CALL_SPAN_ATTRIBUTES, CALL_SPAN_EVENTS, clientSpanName, callSpanName, redactUrl } from './span-definitions.js';
