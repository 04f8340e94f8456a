import type { Attributes, Counter, Histogram, MeterProvider, Span, Tracer } from '@opentelemetry/api';
import { InvalidOptionError } from '../core/errors/index.js';
import { formatValue } from '../core/validate.js';
import { AccessLog, clusterName, protocolName, type AccessLogOptions } from '../telemetry/access-log.js';
import { METRICS, type MetricDefinition, type MetricNames } from '../telemetry/metric-definitions.js';
import { resolveTelemetryOptions, telemetryDefaults, type ResolvedTelemetryOptions } from '../telemetry/options.js';
import { otelApi, type OtelApiModule } from '../telemetry/otel-api.js';
import { UNKNOWN, namespaceOfService, resolveWorkload, type WorkloadIdentity, type WorkloadOptions } from '../telemetry/workload.js';
import type { InboundExchange } from './exchange.js';
import { inboundLayer, type InboundLayer } from './inbound-stack.js';

/**
 * The inbound side's telemetry: the mesh's `telemetry` option by default; given here, it
 * replaces it for this inbound (the same fields, plus `service`).
 */
export interface InboundTelemetryOptions {
  /** A SERVER span per request, child of the caller's. Default true. */
  tracing?: boolean;
  /** `http.server.request.duration` (and the Istio preset). Default true. */
  metrics?: boolean;
  /** `otel` (default), `istio` (`istio_requests_total`, `istio_request_duration_milliseconds`, `reporter="destination"`), or `both`. */
  metricNames?: MetricNames;
  /** One entry per request (Envoy's fields, `direction: "inbound"`), as the mesh's access log. Default off. */
  accessLog?: boolean | AccessLogOptions;
  /** This workload's name, namespace and cluster (the Istio preset's `destination_*`); defaults from the environment. */
  workload?: WorkloadOptions;
  /** The service this workload serves, an FQDN (`destination_service`). Default `PROXYLESS_SERVICE_NAME`, or `unknown`. */
  service?: string;
}

/** What the telemetry step reads of the mesh: its telemetry option, labels and namespace. */
export interface TelemetryView {
  /** The mesh's resolved `telemetry` option. */
  readonly telemetry: ResolvedTelemetryOptions | undefined;
  /** This workload's labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** The mesh's namespace. */
  readonly namespace: string;
}

/** Distinct attribute sets cached for the metrics; beyond, sets are built per request (the cache never grows past it). */
const MAX_CACHED_ATTRIBUTE_SETS = 2048;
const OPTION_KEYS = ['tracing', 'metrics', 'metricNames', 'accessLog', 'workload', 'service'];

interface Instruments {
  readonly provider: MeterProvider;
  readonly duration: Histogram | undefined;
  readonly istioRequests: Counter | undefined;
  readonly istioDuration: Histogram | undefined;
}

/** The step with role `telemetry`. */
export function telemetryLayer(options: InboundTelemetryOptions | undefined, view: TelemetryView, where: string): InboundLayer {
  let resolved = view.telemetry ?? telemetryDefaults(undefined);
  let service = process.env.PROXYLESS_SERVICE_NAME ?? UNKNOWN;
  if (options !== undefined) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError(where, [`telemetry: ${formatValue(options)} (expected: an object)`]);
    const problems = Object.keys(options)
      .filter((k) => !OPTION_KEYS.includes(k))
      .map((k) => `telemetry.${k}: unknown field (expected one of: ${OPTION_KEYS.join(', ')})`);
    if (options.service !== undefined && (typeof options.service !== 'string' || options.service.length === 0 || options.service.length > 253)) {
      problems.push(`telemetry.service: ${formatValue(options.service)} (expected: a service FQDN such as "reviews.default.svc.cluster.local")`);
    }
    if (problems.length > 0) throw new InvalidOptionError(where, problems);
    const { service: given, ...shared } = options;
    resolved = resolveTelemetryOptions(shared, where);
    if (given !== undefined) service = given;
  }
  const workload = resolveWorkload(resolved.workload, view.labels, view.namespace);
  return inboundLayer('telemetry', (next) => {
    const api = otelApi();
    const tracing = api !== undefined && resolved.tracing.enabled;
    const metrics = api !== undefined && resolved.metrics.enabled;
    const log = resolved.accessLog === undefined ? undefined : new AccessLog(resolved.accessLog);
    if (!tracing && !metrics && !log) return next;
    const recorder = new InboundRecorder(api, resolved, tracing, metrics, workload, service, log);
    return (x) => {
      recorder.start(x);
      next(x);
    };
  });
}

/** Starts and ends each request's span, records its metrics and writes its access log entry. */
class InboundRecorder {
  readonly #api: OtelApiModule | undefined;
  readonly #tracer: Tracer | undefined;
  readonly #names: MetricNames | undefined;
  readonly #meterProvider: MeterProvider | undefined;
  readonly #workload: WorkloadIdentity;
  readonly #service: string;
  readonly #log: AccessLog | undefined;
  #instruments: Instruments | undefined;
  readonly #attributeSets = new Map<string, Attributes>();
  readonly #istioSets = new Map<string, Attributes>();
  readonly #finish = (x: InboundExchange): void => this.#end(x);
  #seenTracerProvider: unknown;
  #seenMeterProvider: unknown;
  #sdk = false;
  /** A tracer or meter provider given in the options: something is always registered. */
  readonly #given: boolean;

  constructor(
    api: OtelApiModule | undefined,
    resolved: ResolvedTelemetryOptions,
    tracing: boolean,
    metrics: boolean,
    workload: WorkloadIdentity,
    service: string,
    log: AccessLog | undefined,
  ) {
    this.#api = api;
    const tracerProvider = resolved.tracing.tracerProvider as { getTracer(name: string): Tracer } | undefined;
    this.#tracer = tracing ? (tracerProvider ?? api!.trace).getTracer('proxyless') : undefined;
    this.#names = metrics ? resolved.metricNames : undefined;
    this.#meterProvider = resolved.metrics.meterProvider as MeterProvider | undefined;
    this.#given = (tracing && tracerProvider !== undefined) || (metrics && this.#meterProvider !== undefined);
    this.#workload = workload;
    this.#service = service;
    this.#log = log;
  }

  start(x: InboundExchange): void {
    const api = this.#api;
    // With nothing registered (no SDK, no propagator), the API's no-op path would still
    // allocate a span and a context per request: skip it. `req.mesh.trace` is then read
    // from the headers on demand; an access log still ends the request.
    if (api === undefined || !this.#anythingRegistered(api)) {
      if (this.#log !== undefined) x.onEnd(this.#finish);
      return;
    }
    x.onEnd(this.#finish);
    let ctx = api.propagation.extract(api.ROOT_CONTEXT, x.req.headers);
    const caller = api.trace.getSpanContext(ctx);
    x.callerSpanContext = caller !== undefined && api.isSpanContextValid(caller) ? caller : null;
    if (this.#tracer !== undefined) {
      const req = x.req;
      const method = methodOf(req.method);
      const attributes: Attributes = {
        'http.request.method': method,
        'url.path': pathOf(req.url),
        'url.scheme': (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
        'network.protocol.version': req.httpVersion,
      };
      if (method === '_OTHER' && req.method !== undefined) attributes['http.request.method_original'] = req.method.slice(0, 64);
      const host = req.headers.host;
      if (host !== undefined) attributes['server.address'] = host.slice(0, 255);
      if (req.socket.remoteAddress !== undefined) attributes['client.address'] = req.socket.remoteAddress;
      const agent = req.headers['user-agent'];
      if (agent !== undefined) attributes['user_agent.original'] = agent.slice(0, 512);
      const span = this.#tracer.startSpan(method === '_OTHER' ? 'HTTP' : method, { kind: api.SpanKind.SERVER, attributes }, ctx);
      x.span = span;
      ctx = api.trace.setSpan(ctx, span);
    }
    x.otelContext = ctx;
  }

  /** Whether an SDK (tracer or meter provider, given or global) or a propagator is registered; compared by identity, so cheap. */
  #anythingRegistered(api: OtelApiModule): boolean {
    if (this.#given) return true;
    const tracerProvider = api.trace.getTracerProvider() as { getDelegate?: () => object };
    const tracer = typeof tracerProvider.getDelegate === 'function' ? tracerProvider.getDelegate() : tracerProvider;
    const meter = this.#meterProvider ?? api.metrics.getMeterProvider();
    if (tracer !== this.#seenTracerProvider || meter !== this.#seenMeterProvider) {
      this.#seenTracerProvider = tracer;
      this.#seenMeterProvider = meter;
      this.#sdk = tracer?.constructor?.name !== 'NoopTracerProvider' || meter?.constructor?.name !== 'NoopMeterProvider';
    }
    return this.#sdk || api.propagation.fields().length > 0;
  }

  #end(x: InboundExchange): void {
    const res = x.res;
    const status = res.headersSent ? res.statusCode : undefined;
    const route = routeSafely(x);
    const method = methodOf(x.req.method);
    const errorType = errorTypeOf(x, status);
    const span = x.span as Span | undefined;
    if (span !== undefined) {
      x.span = undefined;
      if (status !== undefined) span.setAttribute('http.response.status_code', status);
      if (route !== undefined) {
        span.setAttribute('http.route', route);
        span.updateName(`${method === '_OTHER' ? 'HTTP' : method} ${route}`);
      }
      if (x.flags !== undefined) span.setAttribute('proxyless.response_flags', x.flags);
      if (errorType !== undefined) {
        span.setAttribute('error.type', errorType);
        if (x.error instanceof Error) span.recordException(x.error);
        span.setStatus({ code: this.#api!.SpanStatusCode.ERROR });
      }
      span.end();
    }
    const seconds = (performance.now() - x.startedAt) / 1000;
    if (this.#names !== undefined && x.otelContext !== undefined) this.#record(x, method, route, status, errorType, seconds);
    if (this.#log !== undefined && this.#log.sample()) this.#writeLog(x, route, status, seconds);
  }

  #writeLog(x: InboundExchange, route: string | undefined, status: number | undefined, seconds: number): void {
    const req = x.req;
    const header = (name: string): string | null => {
      const value = req.headers[name];
      return value === undefined ? null : Array.isArray(value) ? value.join(',') : value;
    };
    const local = req.socket.localPort;
    this.#log!.write({
      start_time: new Date(x.startedEpoch).toISOString(),
      method: req.method ?? '-',
      path: req.url ?? '/',
      protocol: protocolName(req.httpVersion),
      response_code: status ?? 0,
      response_flags: x.flags ?? '-',
      bytes_received: Number(req.headers['content-length']) || 0,
      bytes_sent: Number(x.res.getHeader('content-length')) || 0,
      duration: Math.round(seconds * 1000),
      upstream_host: req.socket.localAddress !== undefined && local !== undefined ? `${req.socket.localAddress}:${local}` : null,
      upstream_cluster: clusterName('inbound', local ?? 0, undefined, undefined),
      authority: header('host'),
      route_name: route ?? null,
      user_agent: header('user-agent'),
      request_id: header('x-request-id'),
      attempts: 1,
      trace_id: x.trace?.traceId ?? null,
      direction: 'inbound',
      downstream_remote_address: req.socket.remoteAddress ?? null,
    });
  }

  #record(x: InboundExchange, method: string, route: string | undefined, status: number | undefined, errorType: string | undefined, seconds: number): void {
    const instruments = this.#instrumentsNow();
    if (instruments.duration !== undefined) {
      const key = `${method}|${route ?? ''}|${status ?? ''}|${errorType ?? ''}|${x.req.httpVersion}`;
      let attributes = this.#attributeSets.get(key);
      if (attributes === undefined) {
        attributes = { 'http.request.method': method, 'url.scheme': (x.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http', 'network.protocol.version': x.req.httpVersion };
        if (route !== undefined) attributes['http.route'] = route;
        if (status !== undefined) attributes['http.response.status_code'] = status;
        if (errorType !== undefined) attributes['error.type'] = errorType;
        if (this.#attributeSets.size < MAX_CACHED_ATTRIBUTE_SETS) this.#attributeSets.set(key, attributes);
      }
      instruments.duration.record(seconds, attributes);
    }
    if (instruments.istioRequests !== undefined) {
      const code = status ?? 0;
      const flags = x.flags ?? '-';
      const peer = x.peer;
      const protocol = x.req.headers['content-type']?.startsWith('application/grpc') === true ? 'grpc' : 'http';
      const key = `${code}|${flags}|${protocol}|${peer?.principal ?? ''}`;
      let attributes = this.#istioSets.get(key);
      if (attributes === undefined) {
        const w = this.#workload;
        const service = this.#service;
        attributes = {
          reporter: 'destination',
          source_workload: UNKNOWN,
          source_workload_namespace: UNKNOWN,
          source_principal: peer?.principal ?? UNKNOWN,
          source_app: UNKNOWN,
          source_version: UNKNOWN,
          source_canonical_service: UNKNOWN,
          source_canonical_revision: UNKNOWN,
          source_cluster: UNKNOWN,
          destination_workload: w.name,
          destination_workload_namespace: w.namespace,
          destination_principal: w.principal,
          destination_app: w.app,
          destination_version: w.version,
          destination_service: service,
          destination_service_name: service === UNKNOWN ? UNKNOWN : service.split('.')[0]!,
          destination_service_namespace: namespaceOfService(service) ?? w.namespace,
          destination_canonical_service: w.canonicalService,
          destination_canonical_revision: w.canonicalRevision,
          destination_cluster: w.cluster,
          request_protocol: protocol,
          response_code: String(code),
          grpc_response_status: '',
          response_flags: flags,
          connection_security_policy: peer === undefined ? 'none' : 'mutual_tls',
        };
        if (this.#istioSets.size < MAX_CACHED_ATTRIBUTE_SETS) this.#istioSets.set(key, attributes);
      }
      instruments.istioRequests.add(1, attributes);
      instruments.istioDuration!.record(seconds * 1000, attributes);
    }
  }

  /** The instruments of the meter provider in force now (an SDK may register after the inbound was built). */
  #instrumentsNow(): Instruments {
    const provider = this.#meterProvider ?? this.#api!.metrics.getMeterProvider();
    const current = this.#instruments;
    if (current !== undefined && current.provider === provider) return current;
    const meter = provider.getMeter('proxyless');
    const otel = this.#names === 'otel' || this.#names === 'both';
    const istio = this.#names === 'istio' || this.#names === 'both';
    const histogram = (definition: MetricDefinition): Histogram =>
      meter.createHistogram(definition.name, {
        unit: definition.unit,
        description: definition.description,
        ...(definition.buckets === undefined ? {} : { advice: { explicitBucketBoundaries: [...definition.buckets] } }),
      });
    this.#instruments = {
      provider,
      duration: otel ? histogram(METRICS.serverDuration) : undefined,
      istioRequests: istio ? meter.createCounter(METRICS.istioRequests.name, { description: METRICS.istioRequests.description }) : undefined,
      istioDuration: istio ? histogram(METRICS.istioDuration) : undefined,
    };
    return this.#instruments;
  }
}

const KNOWN = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

/** The request method as the semantic conventions record it (`_OTHER` for one they do not know). */
export function methodOf(method: string | undefined): string {
  return method !== undefined && KNOWN.has(method) ? method : '_OTHER';
}

/** The path of a request target, without the query (bounded: at most 2048 characters). */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path.length > 2048 ? path.slice(0, 2048) : path;
}

/** The route template, or undefined; an adapter's route function that throws gives none. */
function routeSafely(x: InboundExchange): string | undefined {
  if (x.routeOf === undefined) return undefined;
  try {
    const route = x.routeOf(x.req);
    return typeof route === 'string' && route.length > 0 ? route.slice(0, 512) : undefined;
  } catch (error) {
    x.reportError(error);
    return undefined;
  }
}

/** The semantic conventions' `error.type`: the exception's name, a 5xx status, or `aborted` when the caller went away. */
function errorTypeOf(x: InboundExchange, status: number | undefined): string | undefined {
  if (x.error !== undefined) return x.error instanceof Error ? x.error.name : 'Error';
  if (!x.res.writableFinished) return 'aborted';
  return status !== undefined && status >= 500 ? String(status) : undefined;
}
