import type { Attributes, Counter, Histogram, MeterProvider, Span, Tracer } from '@opentelemetry/api';
import * as z from 'zod';
import { InvalidOptionError } from '../core/errors.js';
import { formatIssues } from '../core/validate.js';
import type { InboundExchange } from './exchange.js';
import { inboundLayer, type InboundLayer } from './inbound-stack.js';
import { inboundOtelApi, type OtelApiModule } from './internal-otel.js';
import { AccessLogWriter, accessLogSettings, type InboundAccessLogOptions } from './access-log.js';

/** The inbound side's telemetry. */
export interface InboundTelemetryOptions {
  /** A SERVER span per request, child of the caller's (needs `@opentelemetry/api` and an SDK). Default true. */
  tracing?: boolean;
  /** `http.server.request.duration` (and the Istio preset). Default true. */
  metrics?: boolean;
  /**
   * `otel`: the semantic conventions' `http.server.request.duration`; `istio`: Istio's
   * `istio_requests_total` and `istio_request_duration_milliseconds` with
   * `reporter="destination"`; `both`. Default `otel`.
   */
  metricNames?: 'otel' | 'istio' | 'both';
  /** One JSON line per request (Envoy's default fields, `direction: "inbound"`). Default off. */
  accessLog?: boolean | InboundAccessLogOptions;
  /** This workload, for the Istio preset's `destination_*` labels. Defaults from the environment (see the README). */
  workload?: {
    /** `destination_workload` (default `ISTIO_META_WORKLOAD_NAME`, `POD_NAME`, or `unknown`). */
    name?: string;
    /** `destination_workload_namespace` (default `POD_NAMESPACE` or the mesh's namespace). */
    namespace?: string;
    /** `destination_service`, an FQDN (default `PROXYLESS_SERVICE_NAME` or `unknown`). */
    service?: string;
  };
}

const schema = z.strictObject({
  tracing: z.boolean().optional(),
  metrics: z.boolean().optional(),
  metricNames: z.enum(['otel', 'istio', 'both']).optional(),
  accessLog: z.union([z.boolean(), z.object({}).passthrough()], { error: 'true, false, or an access log options object' }).optional(),
  workload: z
    .strictObject({ name: z.string().min(1).max(253).optional(), namespace: z.string().min(1).max(63).optional(), service: z.string().min(1).max(253).optional() })
    .optional(),
});

/** The semantic conventions' advised buckets for `http.server.request.duration` (seconds). */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Istio's buckets for `istio_request_duration_milliseconds`. */
export const ISTIO_DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** Methods the semantic conventions know; any other is recorded as `_OTHER` (bounded cardinality). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);
/** Distinct attribute sets cached for the metrics; beyond, sets are built per request (the cache never grows past it). */
const MAX_CACHED_ATTRIBUTE_SETS = 2048;

interface Instruments {
  readonly provider: MeterProvider;
  readonly duration: Histogram | undefined;
  readonly istioRequests: Counter | undefined;
  readonly istioDuration: Histogram | undefined;
}

/** The step with role `telemetry`. */
export function telemetryLayer(options: InboundTelemetryOptions | undefined, namespace: string, where: string): InboundLayer {
  const result = schema.safeParse(options ?? {}, { reportInput: true });
  if (!result.success) throw new InvalidOptionError(where, formatIssues(result.error.issues, 'telemetry'));
  const o = result.data;
  const accessLog = o.accessLog === undefined || o.accessLog === false ? undefined : accessLogSettings(o.accessLog === true ? {} : (o.accessLog as InboundAccessLogOptions), where);
  const names = o.metricNames ?? 'otel';
  const workload = {
    name: o.workload?.name ?? process.env.ISTIO_META_WORKLOAD_NAME ?? process.env.POD_NAME ?? 'unknown',
    namespace: o.workload?.namespace ?? process.env.POD_NAMESPACE ?? namespace,
    service: o.workload?.service ?? process.env.PROXYLESS_SERVICE_NAME ?? 'unknown',
  };
  return inboundLayer('telemetry', (next) => {
    const api = inboundOtelApi();
    const tracing = api !== undefined && o.tracing !== false;
    const metrics = api !== undefined && o.metrics !== false;
    const log = accessLog === undefined ? undefined : new AccessLogWriter(accessLog);
    if (!tracing && !metrics && !log) return next;
    const recorder = new InboundRecorder(api, tracing, metrics ? names : undefined, workload, log);
    return (x) => {
      recorder.start(x);
      next(x);
    };
  });
}

/** Starts and ends each request's span, records its metrics and writes its access log line. */
class InboundRecorder {
  readonly #api: OtelApiModule | undefined;
  readonly #tracer: Tracer | undefined;
  readonly #names: 'otel' | 'istio' | 'both' | undefined;
  readonly #workload: { name: string; namespace: string; service: string };
  readonly #log: AccessLogWriter | undefined;
  #instruments: Instruments | undefined;
  readonly #attributeSets = new Map<string, Attributes>();
  readonly #istioSets = new Map<string, Attributes>();
  readonly #spans = new WeakMap<InboundExchange, Span>();
  readonly #finish = (x: InboundExchange): void => this.#end(x);
  #seenTracerProvider: unknown;
  #seenMeterProvider: unknown;
  #sdk = false;

  constructor(
    api: OtelApiModule | undefined,
    tracing: boolean,
    names: 'otel' | 'istio' | 'both' | undefined,
    workload: { name: string; namespace: string; service: string },
    log: AccessLogWriter | undefined,
  ) {
    this.#api = api;
    this.#tracer = tracing ? api!.trace.getTracer('proxyless') : undefined;
    this.#names = names;
    this.#workload = workload;
    this.#log = log;
  }

  start(x: InboundExchange): void {
    const api = this.#api;
    // With nothing registered (no SDK, no propagator), the API's no-op path would still
    // allocate a span and a context per request: skip it (an access log still ends).
    if (api === undefined || !this.#anythingRegistered(api)) {
      if (this.#log !== undefined) x.onEnd(this.#finish);
      return;
    }
    x.onEnd(this.#finish);
    let ctx = api.propagation.extract(api.ROOT_CONTEXT, x.req.headers);
    const caller = api.trace.getSpanContext(ctx);
    if (caller !== undefined && api.isSpanContextValid(caller)) x.callerSpanContext = caller;
    if (this.#tracer !== undefined) {
      const req = x.req;
      const method = methodOf(req.method);
      const path = pathOf(req.url);
      const attributes: Attributes = {
        'http.request.method': method,
        'url.path': path,
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
      this.#spans.set(x, span);
      ctx = api.trace.setSpan(ctx, span);
    }
    x.otelContext = ctx;
  }

  /** Whether an SDK (tracer or meter provider) or a propagator is registered; providers compared by identity, so this is cheap. */
  #anythingRegistered(api: OtelApiModule): boolean {
    const tracerProvider = api.trace.getTracerProvider() as { getDelegate?: () => object };
    const tracer = typeof tracerProvider.getDelegate === 'function' ? tracerProvider.getDelegate() : tracerProvider;
    const meter = api.metrics.getMeterProvider();
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
    const span = this.#spans.get(x);
    if (span !== undefined) {
      this.#spans.delete(x);
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
    if (this.#names !== undefined) this.#record(x, method, route, status, errorType, seconds);
    this.#log?.write(x, route, status, seconds);
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
        attributes = {
          reporter: 'destination',
          source_workload: 'unknown',
          source_workload_namespace: 'unknown',
          source_principal: peer?.principal ?? 'unknown',
          destination_workload: w.name,
          destination_workload_namespace: w.namespace,
          destination_service: w.service,
          destination_service_name: w.service.split('.')[0]!,
          destination_service_namespace: w.namespace,
          request_protocol: protocol,
          response_code: String(code),
          response_flags: flags,
          connection_security_policy: peer === undefined ? 'none' : 'mutual_tls',
        };
        if (this.#istioSets.size < MAX_CACHED_ATTRIBUTE_SETS) this.#istioSets.set(key, attributes);
      }
      instruments.istioRequests.add(1, attributes);
      instruments.istioDuration!.record(seconds * 1000, attributes);
    }
  }

  /** The instruments of the meter provider registered now (an SDK may register after the inbound was built). */
  #instrumentsNow(): Instruments {
    const provider = this.#api!.metrics.getMeterProvider();
    const current = this.#instruments;
    if (current !== undefined && current.provider === provider) return current;
    const meter = provider.getMeter('proxyless');
    const otel = this.#names === 'otel' || this.#names === 'both';
    const istio = this.#names === 'istio' || this.#names === 'both';
    this.#instruments = {
      provider,
      duration: otel
        ? meter.createHistogram('http.server.request.duration', {
            unit: 's',
            description: 'Duration of HTTP server requests.',
            advice: { explicitBucketBoundaries: HTTP_DURATION_BUCKETS },
          })
        : undefined,
      istioRequests: istio ? meter.createCounter('istio_requests_total', { description: 'Requests this workload received (reporter="destination").' }) : undefined,
      istioDuration: istio
        ? meter.createHistogram('istio_request_duration_milliseconds', {
            unit: 'ms',
            description: 'Duration of requests this workload received (reporter="destination").',
            advice: { explicitBucketBoundaries: ISTIO_DURATION_BUCKETS },
          })
        : undefined,
    };
    return this.#instruments;
  }
}

/** The request method as the semantic conventions record it. */
export function methodOf(method: string | undefined): string {
  return method !== undefined && KNOWN_METHODS.has(method) ? method : '_OTHER';
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
  if (status === undefined) return x.res.writableFinished ? undefined : 'aborted';
  if (!x.res.writableFinished) return 'aborted';
  return status >= 500 ? String(status) : undefined;
}
