/**
 * Every metric the mesh records: name, instrument kind, unit, description and attribute
 * keys, in one table that the recorder builds its instruments from and docs/telemetry.md
 * lists. Three families:
 *
 * - OpenTelemetry's HTTP semantic conventions (`http.client.request.duration`,
 *   `http.server.request.duration`), in seconds with the conventions' advised buckets;
 * - the mesh's own `proxyless.*` metrics, for what only the mesh knows (routes, response
 *   flags, retries, hedges, ejections, breakers, endpoints, discovery, config);
 * - Istio's standard request metrics (`istio_requests_total`,
 *   `istio_request_duration_milliseconds`) with Istio's labels and Envoy's default
 *   buckets, so Istio's Grafana dashboards and Kiali read a proxyless workload unchanged.
 *
 * `metricNames` picks the request metrics: `otel` (default) the first two families,
 * `istio` Istio's request metrics in place of `http.client.request.duration` and
 * `proxyless.client.requests`, `both` all of them. The other `proxyless.*` metrics have
 * no Istio counterpart and are recorded in every mode.
 *
 * Cardinality: request metrics carry no path and no endpoint address; endpoint addresses
 * appear only on the per-endpoint gauges, which are sampled at collection time.
 */

/** The kind of OpenTelemetry instrument. */
export type InstrumentKind = 'counter' | 'histogram' | 'observableGauge';

/** Which `metricNames` setting records a metric. */
export type MetricFamily = 'otel' | 'istio' | 'always';

/** One metric. */
export interface MetricDefinition {
  /** The instrument's name. */
  readonly name: string;
  /** Its kind. */
  readonly kind: InstrumentKind;
  /** Its unit (UCUM, as the semantic conventions write them). */
  readonly unit: string;
  /** What it measures. */
  readonly description: string;
  /** The attribute keys it carries. */
  readonly attributes: readonly string[];
  /** Explicit histogram bucket boundaries (advice to the SDK), for histograms. */
  readonly buckets?: readonly number[];
  /** When it is recorded: `otel` with `metricNames` `otel` or `both`, `istio` with `istio` or `both`, `always` in every mode. */
  readonly family: MetricFamily;
  /** `client` (outbound calls), `server` (inbound requests), or `mesh` (state and events). */
  readonly side: 'client' | 'server' | 'mesh';
}

/**
 * The semantic conventions' advised bucket boundaries for `http.client.request.duration`
 * and `http.server.request.duration`, in seconds.
 */
export const HTTP_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Envoy's default histogram buckets, which Istio's `istio_request_duration_milliseconds` uses, in milliseconds. */
export const ISTIO_DURATION_BUCKETS: readonly number[] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/**
 * Istio's standard labels on `istio_requests_total` and
 * `istio_request_duration_milliseconds`, in Istio's order.
 */
export const ISTIO_LABELS = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_canonical_service',
  'source_canonical_revision',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

/** One of {@link ISTIO_LABELS}. */
export type IstioLabel = (typeof ISTIO_LABELS)[number];

/** Attribute keys of the `proxyless.*` metrics. */
export const ATTR = {
  /** The logical service (FQDN, or a passthrough host). */
  service: 'proxyless.service',
  /** The VirtualService route: `<virtual service>.<route name or index>`, `default` when none. */
  route: 'proxyless.route',
  /** Envoy's response flags, `-` for none. */
  responseFlags: 'proxyless.response_flags',
  /** Why a failed call was not tried again. */
  retryStopReason: 'proxyless.retry.stop_reason',
  /** An endpoint state: healthy, ejected, unhealthy, draining. */
  endpointState: 'proxyless.endpoint.state',
  /** A circuit breaker state: closed, open, half_open. */
  breakerState: 'proxyless.circuit_breaker.state',
  /** A discovery source name. */
  discoverySource: 'proxyless.discovery.source',
  /** The HTTP status code. */
  statusCode: 'http.response.status_code',
  /** The HTTP method (`_OTHER` for methods the conventions do not know). */
  method: 'http.request.method',
  /** The logical service called. */
  serverAddress: 'server.address',
  /** The port called. */
  serverPort: 'server.port',
  /** What a failed try ended with (an error code, or a status code as text). */
  errorType: 'error.type',
  /** The endpoint address. */
  peerAddress: 'network.peer.address',
  /** The endpoint port. */
  peerPort: 'network.peer.port',
  /** The URL scheme (server side). */
  urlScheme: 'url.scheme',
  /** The route template of the server framework (server side). */
  httpRoute: 'http.route',
  /** The HTTP version. */
  protocolVersion: 'network.protocol.version',
} as const;

const d = (
  name: string,
  kind: InstrumentKind,
  unit: string,
  description: string,
  attributes: readonly string[],
  family: MetricFamily,
  side: MetricDefinition['side'],
  buckets?: readonly number[],
): MetricDefinition => ({ name, kind, unit, description, attributes, family, side, ...(buckets === undefined ? {} : { buckets }) });

const SERVICE_ROUTE = [ATTR.service, ATTR.route] as const;

/** Every metric, by a short key the recorder uses. */
export const METRICS = {
  /** `http.client.request.duration`. */
  clientDuration: d(
    'http.client.request.duration',
    'histogram',
    's',
    'Duration of HTTP client requests: one sample per try (first, retry, hedge, mirror), from sending to the response headers or the error.',
    [ATTR.method, ATTR.serverAddress, ATTR.serverPort, ATTR.statusCode, ATTR.errorType],
    'otel',
    'client',
    HTTP_DURATION_BUCKETS,
  ),
  /** `http.server.request.duration`. */
  serverDuration: d(
    'http.server.request.duration',
    'histogram',
    's',
    'Duration of HTTP server requests, from the request to the end of the response.',
    [ATTR.method, ATTR.urlScheme, ATTR.httpRoute, ATTR.statusCode, ATTR.errorType, ATTR.protocolVersion],
    'otel',
    'server',
    HTTP_DURATION_BUCKETS,
  ),
  /** `proxyless.client.requests`. */
  clientRequests: d(
    'proxyless.client.requests',
    'counter',
    '{request}',
    'Logical calls through the mesh (retries and hedges of a call count once), by service, route, the status the caller got (0 for none) and Envoy response flags.',
    [...SERVICE_ROUTE, ATTR.statusCode, ATTR.responseFlags],
    'otel',
    'client',
  ),
  /** `proxyless.client.retries`. */
  retries: d('proxyless.client.retries', 'counter', '{retry}', 'Retries sent (tries after the first that were not hedges).', SERVICE_ROUTE, 'always', 'client'),
  /** `proxyless.client.retries.stopped`. */
  retriesStopped: d(
    'proxyless.client.retries.stopped',
    'counter',
    '{call}',
    'Calls whose last try failed and that were not tried again, by why: attempts (retry limit reached), budget (retry budget refused), not_retryable (the failure or the method allows no retry), timeout (no time left under the route timeout or deadline), cancelled.',
    [...SERVICE_ROUTE, ATTR.retryStopReason],
    'always',
    'client',
  ),
  /** `proxyless.client.hedges`. */
  hedges: d('proxyless.client.hedges', 'counter', '{request}', 'Hedged (backup) tries sent.', SERVICE_ROUTE, 'always', 'client'),
  /** `proxyless.client.hedges.won`. */
  hedgesWon: d('proxyless.client.hedges.won', 'counter', '{request}', 'Hedged tries whose response was the one the caller got.', SERVICE_ROUTE, 'always', 'client'),
  /** `proxyless.circuit_breaker.refusals`. */
  breakerRefusals: d(
    'proxyless.circuit_breaker.refusals',
    'counter',
    '{request}',
    'Tries refused at once because the service circuit breaker was open.',
    [ATTR.service],
    'always',
    'client',
  ),
  /** `proxyless.outlier.ejections`. */
  ejections: d('proxyless.outlier.ejections', 'counter', '{ejection}', 'Endpoints ejected by outlier detection.', [ATTR.service], 'always', 'mesh'),
  /** `proxyless.outlier.ejected_endpoints`. */
  ejectedEndpoints: d('proxyless.outlier.ejected_endpoints', 'observableGauge', '{endpoint}', 'Endpoints ejected by outlier detection now.', [ATTR.service], 'always', 'mesh'),
  /** `proxyless.circuit_breaker.state`. */
  breakerState: d(
    'proxyless.circuit_breaker.state',
    'observableGauge',
    '{state}',
    'The state of each service circuit breaker: 1 for the state it is in, 0 for the others (closed, open, half_open).',
    [ATTR.service, ATTR.breakerState],
    'always',
    'mesh',
  ),
  /** `proxyless.endpoints`. */
  endpoints: d(
    'proxyless.endpoints',
    'observableGauge',
    '{endpoint}',
    'Endpoints of each service by state: healthy, ejected (outlier detection), unhealthy (health checks), draining (removed by discovery, requests in flight).',
    [ATTR.service, ATTR.endpointState],
    'always',
    'mesh',
  ),
  /** `proxyless.endpoint.pending_requests`. */
  pendingRequests: d(
    'proxyless.endpoint.pending_requests',
    'observableGauge',
    '{request}',
    'Requests in flight on each endpoint, sampled when metrics are collected.',
    [ATTR.service, ATTR.peerAddress, ATTR.peerPort],
    'always',
    'mesh',
  ),
  /** `proxyless.endpoint.peak_ewma`. */
  peakEwma: d(
    'proxyless.endpoint.peak_ewma',
    'observableGauge',
    's',
    "The balancer's Peak EWMA latency estimate of each endpoint, sampled when metrics are collected.",
    [ATTR.service, ATTR.peerAddress, ATTR.peerPort],
    'always',
    'mesh',
  ),
  /** `proxyless.discovery.refreshes`. */
  discoveryRefreshes: d('proxyless.discovery.refreshes', 'counter', '{refresh}', 'Endpoint updates delivered by each discovery source.', [ATTR.discoverySource], 'always', 'mesh'),
  /** `proxyless.discovery.errors`. */
  discoveryErrors: d('proxyless.discovery.errors', 'counter', '{error}', 'Errors reported by each discovery source (it keeps its last good endpoints).', [ATTR.discoverySource], 'always', 'mesh'),
  /** `proxyless.config.reloads`. */
  configReloads: d('proxyless.config.reloads', 'counter', '{reload}', 'Config versions applied.', [], 'always', 'mesh'),
  /** `proxyless.config.reloads.rejected`. */
  configRejected: d('proxyless.config.reloads.rejected', 'counter', '{reload}', 'Config versions rejected (the last good config stayed in force).', [], 'always', 'mesh'),
  /** `proxyless.config.warnings`. */
  configWarnings: d('proxyless.config.warnings', 'counter', '{warning}', 'Warnings raised by applied config versions (unsupported fields and the like).', [], 'always', 'mesh'),
  /** `istio_requests_total`. */
  istioRequests: d(
    'istio_requests_total',
    'counter',
    '',
    "Istio's request count: one per logical call, labelled as Istio's sidecar labels it.",
    ISTIO_LABELS,
    'istio',
    'client',
  ),
  /** `istio_request_duration_milliseconds`. */
  istioDuration: d(
    'istio_request_duration_milliseconds',
    'histogram',
    'ms',
    "Istio's request duration: one sample per logical call, in milliseconds, with Envoy's default buckets.",
    ISTIO_LABELS,
    'istio',
    'client',
    ISTIO_DURATION_BUCKETS,
  ),
} as const satisfies Record<string, MetricDefinition>;

/** A key of {@link METRICS}. */
export type MetricKey = keyof typeof METRICS;

/** The `metricNames` option's values. */
export type MetricNames = 'otel' | 'istio' | 'both';

/** Whether `metricNames` records a metric of `family`. */
export function recordsFamily(names: MetricNames, family: MetricFamily): boolean {
  if (family === 'always') return true;
  return names === 'both' || names === family;
}

/** The methods the semantic conventions know; any other is recorded as `_OTHER`. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY']);

/** `http.request.method` for a method as sent: itself when known, `_OTHER` otherwise (the conventions' rule). */
export function methodAttribute(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER';
}

/** The value recorded in place of one beyond a cardinality bound. */
export const OTHER = '_OTHER';
