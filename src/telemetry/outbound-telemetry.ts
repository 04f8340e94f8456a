/**
 * The outbound side's telemetry, one per mesh: the tracer, the metrics recorder, the
 * access log and the hooks the mesh calls (a call begins, a destination is picked, the
 * mesh's state is sampled, a config or discovery event happened).
 *
 * Cost when nothing listens: {@link OutboundTelemetry.begin} returns `undefined` unless a
 * tracer or meter provider other than the API's no-op one is registered (or given), a
 * propagator is registered, the access log is on, or a `proxyless:client:*` channel has
 * subscribers; the layers then see no call telemetry and skip every hook. That check
 * compares a few object identities per call.
 */
import type { Context, Tracer } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import { getHeader } from '../core/headers.js';
import { AccessLog, type AccessLogEntry } from './access-log.js';
import { CallTelemetry } from './call-telemetry.js';
import { callTelemetryOf, kCallTelemetry } from './call-hooks.js';
import type { AttemptEndpoint } from './attempt-telemetry.js';
import { channels, type CallMessage } from './channels.js';
import { MetricsRecorder, type EndpointStateView, type ServiceStateView } from './metrics-recorder.js';
import { formatResponseFlags } from './response-flags.js';
import type { ResolvedTelemetryOptions } from './options.js';
import { otelApi, type OtelApiModule } from './otel-api.js';
import type { ServiceMetrics } from './service-metrics.js';
import { redactUrl } from './span-definitions.js';
import { resolveWorkload, type WorkloadIdentity } from './workload.js';

/** The destination of a call, as the telemetry reports it. */
export interface ServiceInfo {
  /** The service FQDN, or the host of a passthrough call. */
  readonly fqdn: string;
  /** The port called. */
  readonly port: number;
  /** The DestinationRule subset. */
  readonly subset: string | undefined;
  /** The balancer's name (`passthrough` for hosts passed through). */
  readonly balancer: string;
  /** A host the mesh does not know, passed through under ALLOW_ANY. */
  readonly passthrough: boolean;
}

/** What the state gauges read of a service (MeshService's shape). */
export interface ObservedService {
  readonly name: { readonly fqdn: string; readonly port: number };
  readonly breaker?: { state(): 'closed' | 'open' | 'half-open' } | undefined;
  endpoints(): ReadonlyArray<{
    readonly address: string;
    readonly port: number;
    readonly ejected: boolean;
    readonly unhealthy: boolean;
    readonly load: { readonly pending: number; rttEstimate(nowMs: number): number };
  }>;
}

/** A destination service as the dispatcher has it (MeshService's shape). */
export interface CalledService {
  readonly name: { readonly host: string; readonly fqdn: string; readonly port: number };
  readonly subset: string | undefined;
  readonly balancerName: string;
  readonly breaker?: { state(): 'closed' | 'open' | 'half-open' } | undefined;
}

/** Where `@opentelemetry/api` 1.x keeps what is registered (its `GLOBAL_OPENTELEMETRY_API_KEY`). */
const API_REGISTRY = Symbol.for('opentelemetry.js.api.1');
/** Stands for "never looked": no registry can be this object. */
const NOT_SEEN = {};

/** The most origins whose `server.address`/`server.port` are kept parsed. */
const MAX_ORIGINS = 1024;

/** See the module's notes. */
export class OutboundTelemetry {
  /** `@opentelemetry/api`, when installed. */
  readonly api: OtelApiModule | undefined;
  /** The metrics recorder, when metrics are on and the API installed. */
  readonly recorder: MetricsRecorder | undefined;
  /** The access log, when on. */
  readonly log: AccessLog | undefined;
  /** Whether Istio's metrics are recorded (they need the answering peer's identity). */
  readonly istio: boolean;
  /**
   * The HTTP version spoken to an upstream (`address:port`), for the access log's
   * `protocol`: the mesh sets it to what its connectors saw negotiated
   * (`ConnectingSockets.protocolOf`). Unknown (a pool a layer made itself, no
   * connection yet): `protocol` is null.
   */
  protocolOf: ((upstream: string) => string | undefined) | undefined;
  readonly #tracing: boolean;
  readonly #givenTracer: Tracer | undefined;
  readonly #givenMeter: boolean;
  #globalTracer: Tracer | undefined;
  readonly #maxPassthrough: number;
  readonly #services = new WeakMap<object, ServiceMetrics>();
  readonly #passthrough = new Map<string, ServiceMetrics>();
  #otherPassthrough: ServiceMetrics | undefined;
  readonly #peers = new WeakMap<object, WorkloadIdentity>();
  readonly #origins = new Map<string, { address: string; port: number }>();
  #seenTracer: unknown;
  #seenMeter: unknown;
  #sdk = false;
  #warned = false;

  /**
   * @param options the mesh's resolved `telemetry` option
   * @param labels this workload's labels; @param namespace the mesh's namespace
   */
  constructor(options: ResolvedTelemetryOptions, labels: Readonly<Record<string, string>>, namespace: string) {
    const api = otelApi();
    this.api = api;
    this.#tracing = api !== undefined && options.tracing.enabled;
    const provider = options.tracing.tracerProvider as { getTracer(name: string): Tracer } | undefined;
    this.#givenTracer = this.#tracing && provider !== undefined ? provider.getTracer('proxyless') : undefined;
    this.#givenMeter = options.metrics.meterProvider !== undefined;
    const workload: WorkloadIdentity = resolveWorkload(options.workload, labels, namespace);
    this.recorder = options.metrics.enabled
      ? MetricsRecorder.create({ metricNames: options.metricNames, meterProvider: options.metrics.meterProvider, workload, maxPassthroughHosts: options.metrics.maxPassthroughHosts })
      : undefined;
    this.#maxPassthrough = options.metrics.maxPassthroughHosts;
    this.istio = this.recorder !== undefined && options.metricNames !== 'otel';
    this.log = options.accessLog === undefined ? undefined : new AccessLog(options.accessLog);
  }

  /**
   * A call's telemetry, or `undefined` when nothing would see it (see the module's
   * notes). The parent context is the caller's active one, or `parent`'s (a mirror).
   */
  begin(caller: Dispatcher.DispatchHandler, opts: Dispatcher.DispatchOptions, origin: string, parent?: CallTelemetry): CallTelemetry | undefined {
    if (!this.#live()) return undefined;
    try {
      const context: Context | undefined = parent !== undefined ? parent.context : this.api?.context.active();
      return new CallTelemetry(this, caller, opts, origin, context, parent !== undefined);
    } catch (failure) {
      this.reportFailure(failure);
      return undefined;
    }
  }

  /** `opts` carrying `call` for the layers. */
  static attach<T extends Dispatcher.DispatchOptions>(opts: T, call: CallTelemetry): T {
    return { ...opts, [kCallTelemetry]: call };
  }

  /** The tracer in force, or undefined when tracing is off or nothing is registered. */
  tracer(): Tracer | undefined {
    if (!this.#tracing) return undefined;
    if (this.#givenTracer !== undefined) return this.#givenTracer;
    if (!this.#tracerLive) return undefined;
    return (this.#globalTracer ??= this.api!.trace.getTracer('proxyless'));
  }

  /** Whether anything would see a call. */
  #live(): boolean {
    // Every proxyless:client:* channel counts: a subscriber to the retry or hedge channel alone must see messages too.
    if (
      this.log !== undefined ||
      channels.callStart.hasSubscribers ||
      channels.callEnd.hasSubscribers ||
      channels.attemptStart.hasSubscribers ||
      channels.attemptEnd.hasSubscribers ||
      channels.retry.hasSubscribers ||
      channels.hedge.hasSubscribers
    ) {
      this.#checkSdk();
      return true;
    }
    const api = this.api;
    if (api === undefined) return false;
    if (this.#givenTracer !== undefined || (this.#givenMeter && this.recorder !== undefined)) return true;
    // Fast path: the API keeps what is registered in one object on globalThis (shared by
    // every copy of the API 1.x); while its tracer, meter and propagator entries are the
    // ones seen last, the answer is the one computed last.
    const registry = (globalThis as Record<symbol, { trace?: unknown; metrics?: unknown; propagation?: unknown } | undefined>)[API_REGISTRY];
    if (registry === this.#registry && registry?.trace === this.#seenEntries[0] && registry?.metrics === this.#seenEntries[1] && registry?.propagation === this.#seenEntries[2]) {
      return this.#liveAnswer;
    }
    this.#registry = registry;
    this.#seenEntries = [registry?.trace, registry?.metrics, registry?.propagation];
    this.#liveAnswer = this.#checkSdk() || api.propagation.fields().length > 0;
    return this.#liveAnswer;
  }

  #registry: object | undefined = NOT_SEEN;
  #seenEntries: unknown[] = [];
  #liveAnswer = false;

  /** Whether an SDK's tracer or meter provider is registered globally; compared by identity, so cheap. */
  #checkSdk(): boolean {
    const api = this.api;
    if (api === undefined) return false;
    const tracerProvider = api.trace.getTracerProvider() as { getDelegate?: () => object };
    const tracer = typeof tracerProvider.getDelegate === 'function' ? tracerProvider.getDelegate() : tracerProvider;
    const meter = api.metrics.getMeterProvider();
    if (tracer !== this.#seenTracer || meter !== this.#seenMeter) {
      this.#seenTracer = tracer;
      this.#seenMeter = meter;
      this.#tracerLive = tracer?.constructor?.name !== 'NoopTracerProvider';
      this.#sdk = this.#tracerLive || (this.recorder !== undefined && meter?.constructor?.name !== 'NoopMeterProvider');
      this.#globalTracer = undefined;
    }
    return this.#sdk;
  }

  #tracerLive = false;

  /**
   * The dispatcher picked `service` for the call on `opts` (`passthrough`: a host no
   * source knows, passed through under ALLOW_ANY). Once per call; later picks (after a
   * discovery wait) keep the first.
   */
  toService(opts: Dispatcher.DispatchOptions, service: CalledService, passthrough = false): void {
    const call = callTelemetryOf(opts);
    if (call === undefined || call.service !== undefined) return;
    try {
      const cache = passthrough ? this.#passthroughInfos : this.#infos;
      let info = cache.get(service);
      if (info === undefined) {
        const n = service.name;
        info = passthrough
          ? { fqdn: n.host, port: n.port, subset: undefined, balancer: 'passthrough', passthrough: true }
          : { fqdn: n.fqdn, port: n.port, subset: service.subset, balancer: service.balancerName, passthrough: false };
        cache.set(service, info);
      }
      const metrics = passthrough ? this.passthroughMetrics(info.fqdn, info.port) : this.serviceMetrics(service, info.fqdn, info.port);
      call.toService(info, metrics, service.breaker?.state());
    } catch (failure) {
      this.reportFailure(failure);
    }
  }

  /** The "endpoint" of a passthrough try: the host itself (or the service's name, DestinationRule PASSTHROUGH). */
  passthroughTarget(service: CalledService, unknown: boolean): AttemptEndpoint {
    const n = service.name;
    const address = unknown ? n.host : n.fqdn;
    return { address, port: n.port, key: `${address}:${n.port}` };
  }

  readonly #infos = new WeakMap<object, ServiceInfo>();
  readonly #passthroughInfos = new WeakMap<object, ServiceInfo>();

  /** The metrics of a mesh service (made on its first call, kept with it). */
  serviceMetrics(service: object, fqdn: string, port: number): ServiceMetrics | undefined {
    const recorder = this.recorder;
    if (recorder === undefined) return undefined;
    let metrics = this.#services.get(service);
    if (metrics === undefined) {
      metrics = recorder.service({ service: fqdn, port });
      this.#services.set(service, metrics);
    }
    return metrics;
  }

  /** The metrics of a passthrough host; past `maxPassthroughHosts` hosts, one shared `_OTHER`. */
  passthroughMetrics(host: string, port: number): ServiceMetrics | undefined {
    const recorder = this.recorder;
    if (recorder === undefined) return undefined;
    const key = `${host}:${port}`;
    let metrics = this.#passthrough.get(key);
    if (metrics !== undefined) return metrics;
    if (this.#passthrough.size >= this.#maxPassthrough) {
      return (this.#otherPassthrough ??= recorder.service({ service: '_OTHER', port: 0, passthrough: true }));
    }
    metrics = recorder.service({ service: host, port, passthrough: true });
    this.#passthrough.set(key, metrics);
    return metrics;
  }

  /** A peer's identity from its labels, kept per labels object (endpoints keep theirs). */
  peerOf(labels: Readonly<Record<string, string>>, fqdn: string): WorkloadIdentity | undefined {
    const recorder = this.recorder;
    if (recorder === undefined) return undefined;
    let peer = this.#peers.get(labels);
    if (peer === undefined) {
      peer = recorder.peer(labels, fqdn);
      this.#peers.set(labels, peer);
    }
    return peer;
  }

  /** `server.address` and `server.port` of an origin (parsed once, bounded). */
  serverOf(origin: string): { address: string; port: number } {
    let server = this.#origins.get(origin);
    if (server === undefined) {
      const url = new URL(origin);
      const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      server = { address: host, port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 };
      if (this.#origins.size >= MAX_ORIGINS) this.#origins.clear();
      this.#origins.set(origin, server);
    }
    return server;
  }

  /** `url.full` of a try, redacted as the conventions ask. */
  urlFull(origin: string, path: string): string {
    return redactUrl(origin + path);
  }

  /** A message for a try whose call has none (subscribed to the attempt channels only). */
  detachedMessage(call: CallTelemetry): CallMessage {
    return { direction: 'outbound', method: call.method, origin: call.origin, path: call.path, service: call.service?.fqdn, startTime: call.startTime };
  }

  /** An access log entry of a call (or of one try: `start` is then the try's). */
  entry(call: CallTelemetry, status: number, flags: number, ms: number, upstream: string | undefined, attempts: number, bytes: number, start = call.startTime): AccessLogEntry {
    const trace = call.span?.spanContext().traceId;
    return {
      start_time: new Date(performance.timeOrigin + start).toISOString(),
      method: call.method,
      path: call.path,
      protocol: (upstream === undefined ? undefined : this.protocolOf?.(upstream)) ?? null,
      response_code: status,
      response_flags: formatResponseFlags(flags),
      bytes_received: call.requestBytes,
      bytes_sent: bytes,
      duration: Math.round(ms),
      upstream_host: upstream ?? null,
      upstream_cluster: call.cluster(),
      authority: getHeader(call.headers, 'host') ?? this.serverOf(call.origin).address,
      route_name: call.route ?? null,
      user_agent: getHeader(call.headers, 'user-agent') ?? null,
      request_id: getHeader(call.headers, 'x-request-id') ?? null,
      attempts,
      trace_id: trace === undefined || /^0+$/.test(trace) ? null : trace,
      direction: 'outbound',
    };
  }

  /** Samples the services' state at each metric collection (never per request). */
  observe(services: () => Iterable<ObservedService>): void {
    this.recorder?.observe(() => stateViews(services()));
  }

  /** A discovery source delivered an update, or failed. */
  discovery(source: string, error: Error | undefined): void {
    if (error === undefined) this.recorder?.discoveryRefresh(source);
    else this.recorder?.discoveryError(source);
  }

  /** A config version was applied (with its warnings) or rejected. */
  config(applied: boolean, warnings: number): void {
    if (applied) this.recorder?.configApplied(warnings);
    else this.recorder?.configRejected();
  }

  /** `applyConfig` refused a version (file and source reloads are heard as the mesh's `configError`). */
  configRejected(source: string, error: unknown): void {
    try {
      this.config(false, 0);
      if (channels.configRejected.hasSubscribers) channels.configRejected.publish({ source, error: error instanceof Error ? error : new Error(String(error)) });
    } catch (failure) {
      this.reportFailure(failure);
    }
  }

  /** Stops the recorder's timers and sampling. */
  close(): void {
    this.recorder?.close();
  }

  /** An SDK, exporter, logger or subscriber threw while reporting: said once, the call goes on. */
  reportFailure(failure: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    let text: string;
    try {
      text = failure instanceof Error ? failure.message : String(failure);
    } catch {
      text = 'an error that cannot be printed';
    }
    process.emitWarning(`telemetry failed while reporting a call (${text.slice(0, 200)}); calls go on, later failures are not reported`, { code: 'PROXYLESS_W_TELEMETRY' });
  }
}

/** The recorder's view of the services, built at collection time. */
function* stateViews(services: Iterable<ObservedService>): Iterable<ServiceStateView> {
  const now = performance.now();
  for (const service of services) {
    const endpoints: EndpointStateView[] = service.endpoints().map((e) => {
      const rtt = e.load.rttEstimate(now);
      return {
        address: e.address,
        port: e.port,
        state: e.ejected ? 'ejected' : e.unhealthy ? 'unhealthy' : 'healthy',
        pending: e.load.pending,
        peakEwmaSeconds: Number.isFinite(rtt) && rtt > 0 ? rtt / 1000 : undefined,
      };
    });
    yield { service: service.name.fqdn, breaker: service.breaker?.state(), endpoints };
  }
}
