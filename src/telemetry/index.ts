/**
 * The telemetry module's building blocks, published as `proxyless/telemetry`
 * (src/entries/telemetry.ts): trace-context parsing, metric and span definitions, Envoy
 * response flags, the access log and the channels as published. What an application sets
 * up (the options, `TraceContextPropagator`, `CHANNEL_NAMES` and the channels' message
 * types) is in the root entry, src/index.ts. See docs/telemetry.md.
 */
export type { OtelContext, OtelTextMapGetter, OtelTextMapSetter, OtelTraceState } from './api-types.js';
export {
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
export type { TraceParent } from './w3c-propagator.js';
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
export { channels } from './channels.js';
export type { TypedChannel } from './channels.js';
export { AccessLog, clusterName, isErrorEntry, DEFAULT_MAX_PATH_LENGTH, MAX_FIELD_LENGTH } from './access-log.js';
export { resolveTelemetryOptions, TELEMETRY_ALLOWED_KEYS } from './options.js';
export type { ResolvedTelemetryOptions, ResolvedTracingOptions, ResolvedMetricsOptions } from './options.js';
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
export type { WorkloadIdentity } from './workload.js';
export { CLIENT_SPAN_ATTRIBUTES, CALL_SPAN_ATTRIBUTES, CALL_SPAN_EVENTS, clientSpanName, callSpanName, redactUrl } from './span-definitions.js';
