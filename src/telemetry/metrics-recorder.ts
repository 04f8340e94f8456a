/**
 * The metrics recorder: one per mesh (or server), over `@opentelemetry/api` meters. It
 * builds the instruments of metric-definitions.ts, hands out a {@link ServiceMetrics}
 * per destination (where per-request recording happens), records mesh-wide events, and
 * samples the mesh's state (endpoints, breakers, load) only when the SDK collects.
 *
 * Without the API, or with metrics off, {@link MetricsRecorder.create} returns
 * `undefined` and the layers skip recording (`metrics?.call(...)`). With the API and no
 * SDK, the API's no-op instruments make recording nearly free.
 *
 * The API has no proxy for meters (unlike tracers): a meter taken before the application
 * registers its SDK stays a no-op forever. So, unless given a `meterProvider`, the
 * recorder looks at the global provider once a second (an unref'd timer) and rebuilds its
 * instruments on the new one when it changed; `close()` stops that.
 */
import type { Attributes, Counter, Histogram, Meter, MeterProvider, ObservableGauge, BatchObservableResult, Observable } from '@opentelemetry/api';
import { Admission } from './internal-attribute-cache.js';
import { ATTR, METRICS, recordsFamily, type MetricDefinition, type MetricNames } from './metric-definitions.js';
import type { OtelMeterProvider } from './api-types.js';
import { otelApi, type OtelApiModule } from './otel-api.js';
import { ServiceMetrics, UNKNOWN_PEER, type ServiceDescriptor } from './service-metrics.js';
import { UNKNOWN, namespaceOfService, peerFromLabels, resolveWorkload, type WorkloadIdentity } from './workload.js';

/** The instrumentation scope name of the mesh's meter. */
export const METER_NAME = 'proxyless';
/** The default bound on distinct passthrough hosts used as label values. */
export const DEFAULT_MAX_PASSTHROUGH_HOSTS = 100;
/** The most distinct peer identities kept (more are `unknown`). */
export const MAX_PEER_IDENTITIES = 256;
/** The most distinct discovery source names used as label values. */
const MAX_SOURCES = 64;
/** How often the global meter provider is looked at, in milliseconds. */
export const PROVIDER_CHECK_INTERVAL = 1000;

/** The instruments in force; the request-metric ones are absent when `metricNames` leaves them out. */
export interface Instruments {
  /** `http.client.request.duration` (`otel`, `both`). */
  readonly clientDuration: Histogram | undefined;
  /** `proxyless.client.requests` (`otel`, `both`). */
  readonly clientRequests: Counter | undefined;
  /** `istio_requests_total` (`istio`, `both`). */
  readonly istioRequests: Counter | undefined;
  /** `istio_request_duration_milliseconds` (`istio`, `both`). */
  readonly istioDuration: Histogram | undefined;
  /** `proxyless.client.retries`. */
  readonly retries: Counter;
  /** `proxyless.client.retries.stopped`. */
  readonly retriesStopped: Counter;
  /** `proxyless.client.hedges`. */
  readonly hedges: Counter;
  /** `proxyless.client.hedges.won`. */
  readonly hedgesWon: Counter;
  /** `proxyless.circuit_breaker.refusals`. */
  readonly breakerRefusals: Counter;
  /** `proxyless.outlier.ejections`. */
  readonly ejections: Counter;
  /** `proxyless.discovery.refreshes`. */
  readonly discoveryRefreshes: Counter;
  /** `proxyless.discovery.errors`. */
  readonly discoveryErrors: Counter;
  /** `proxyless.config.reloads`. */
  readonly configReloads: Counter;
  /** `proxyless.config.reloads.rejected`. */
  readonly configRejected: Counter;
  /** `proxyless.config.warnings`. */
  readonly configWarnings: Counter;
  /** `proxyless.outlier.ejected_endpoints`, sampled at collection. */
  readonly ejectedEndpoints: ObservableGauge;
  /** `proxyless.circuit_breaker.state`, sampled at collection. */
  readonly breakerState: ObservableGauge;
  /** `proxyless.endpoints`, sampled at collection. */
  readonly endpoints: ObservableGauge;
  /** `proxyless.endpoint.pending_requests`, sampled at collection. */
  readonly pendingRequests: ObservableGauge;
  /** `proxyless.endpoint.peak_ewma`, sampled at collection. */
  readonly peakEwma: ObservableGauge;
}

/** One endpoint as the state gauges see it. */
export interface EndpointStateView {
  /** IP address or host name. */
  readonly address: string;
  /** TCP port. */
  readonly port: number;
  /** `healthy`, `ejected` (outlier detection), `unhealthy` (health checks), `draining` (removed, requests in flight). */
  readonly state: 'healthy' | 'ejected' | 'unhealthy' | 'draining';
  /** Requests in flight on it. */
  readonly pending: number;
  /** The balancer's Peak EWMA estimate in seconds, when the balancer keeps one. */
  readonly peakEwmaSeconds: number | undefined;
}

/** One service as the state gauges see it. */
export interface ServiceStateView {
  /** The service's `proxyless.service` value (its FQDN). */
  readonly service: string;
  /** Its circuit breaker's state, when it has one. */
  readonly breaker: 'closed' | 'open' | 'half-open' | undefined;
  /** Its endpoints. */
  readonly endpoints: Iterable<EndpointStateView>;
}

/** Options of {@link MetricsRecorder.create}. */
export interface MetricsRecorderOptions {
  /** Which request metrics to record (see metric-definitions.ts). Default `otel`. */
  readonly metricNames?: MetricNames;
  /** The provider to take the meter from. Default: the global one, followed if registered later. */
  readonly meterProvider?: OtelMeterProvider;
  /** This workload's identity for Istio's `source_*` labels. Default: from the environment alone. */
  readonly workload?: WorkloadIdentity;
  /** The most distinct passthrough hosts used as label values (more are `_OTHER`). Default 100. */
  readonly maxPassthroughHosts?: number;
}

const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
const ENDPOINT_STATES = ['healthy', 'ejected', 'unhealthy', 'draining'] as const;

function instrument<T>(meter: Meter, def: MetricDefinition): T {
  const options = { description: def.description, unit: def.unit, ...(def.buckets === undefined ? {} : { advice: { explicitBucketBoundaries: [...def.buckets] } }) };
  switch (def.kind) {
    case 'counter':
      return meter.createCounter(def.name, options) as T;
    case 'histogram':
      return meter.createHistogram(def.name, options) as T;
    case 'observableGauge':
      return meter.createObservableGauge(def.name, options) as T;
  }
}

function buildInstruments(meter: Meter, names: MetricNames): Instruments {
  const make = <T>(def: MetricDefinition): T => instrument<T>(meter, def);
  const maybe = <T>(def: MetricDefinition): T | undefined => (recordsFamily(names, def.family) ? make<T>(def) : undefined);
  return {
    clientDuration: maybe<Histogram>(METRICS.clientDuration),
    clientRequests: maybe<Counter>(METRICS.clientRequests),
    istioRequests: maybe<Counter>(METRICS.istioRequests),
    istioDuration: maybe<Histogram>(METRICS.istioDuration),
    retries: make(METRICS.retries),
    retriesStopped: make(METRICS.retriesStopped),
    hedges: make(METRICS.hedges),
    hedgesWon: make(METRICS.hedgesWon),
    breakerRefusals: make(METRICS.breakerRefusals),
    ejections: make(METRICS.ejections),
    discoveryRefreshes: make(METRICS.discoveryRefreshes),
    discoveryErrors: make(METRICS.discoveryErrors),
    configReloads: make(METRICS.configReloads),
    configRejected: make(METRICS.configRejected),
    configWarnings: make(METRICS.configWarnings),
    ejectedEndpoints: make(METRICS.ejectedEndpoints),
    breakerState: make(METRICS.breakerState),
    endpoints: make(METRICS.endpoints),
    pendingRequests: make(METRICS.pendingRequests),
    peakEwma: make(METRICS.peakEwma),
  };
}

/** The mesh's metrics; see the module's notes. */
export class MetricsRecorder {
  /** The instruments in force. */
  instruments: Instruments;
  /** This workload's identity. */
  readonly workload: WorkloadIdentity;
  readonly #api: OtelApiModule;
  readonly #names: MetricNames;
  readonly #version: string | undefined;
  #provider: MeterProvider;
  #meter: Meter;
  readonly #passthrough: Admission<string>;
  readonly #sources = new Admission<string>(MAX_SOURCES);
  readonly #sourceAttrs = new Map<string, Attributes>();
  readonly #peers = new Map<string, WorkloadIdentity>();
  readonly #empty: Attributes = {};
  #state: (() => Iterable<ServiceStateView>) | undefined;
  #observing: { meter: Meter; callback: (result: BatchObservableResult) => void; observables: Observable[] } | undefined;
  #timer: NodeJS.Timeout | undefined;

  /**
   * A recorder, or `undefined` when `@opentelemetry/api` is not installed.
   *
   * @param options see {@link MetricsRecorderOptions}
   * @param version the package version, for the meter's scope
   */
  static create(options: MetricsRecorderOptions = {}, version?: string): MetricsRecorder | undefined {
    const api = otelApi();
    return api === undefined ? undefined : new MetricsRecorder(api, options, version);
  }

  private constructor(api: OtelApiModule, options: MetricsRecorderOptions, version: string | undefined) {
    this.#api = api;
    this.#names = options.metricNames ?? 'otel';
    this.#version = version;
    this.workload = options.workload ?? resolveWorkload(undefined, {}, undefined);
    this.#passthrough = new Admission<string>(options.maxPassthroughHosts ?? DEFAULT_MAX_PASSTHROUGH_HOSTS);
    this.#provider = (options.meterProvider as MeterProvider | undefined) ?? api.metrics.getMeterProvider();
    this.#meter = this.#provider.getMeter(METER_NAME, version);
    this.instruments = buildInstruments(this.#meter, this.#names);
    if (options.meterProvider === undefined) {
      this.#timer = setInterval(() => this.#followGlobalProvider(), PROVIDER_CHECK_INTERVAL);
      this.#timer.unref();
    }
  }

  /** The metrics of one destination; call once per service the mesh builds. */
  service(target: ServiceDescriptor): ServiceMetrics {
    return new ServiceMetrics(this, target);
  }

  /** Admits a passthrough host as a label value (`_OTHER` past the bound). */
  admitPassthrough(host: string): string {
    return this.#passthrough.admit(host);
  }

  /**
   * The identity of an endpoint from its discovery labels, interned: call it when an
   * endpoint is added (not per request) and pass the result to `ServiceMetrics.call`.
   * Past 256 distinct identities the answer is the unknown peer.
   *
   * @param labels the endpoint's labels; @param service the service FQDN it belongs to
   */
  peer(labels: Readonly<Record<string, string>>, service: string): WorkloadIdentity {
    const identity = peerFromLabels(labels, namespaceOfService(service));
    if (identity.name === UNKNOWN && identity.app === UNKNOWN) return UNKNOWN_PEER;
    const key = [identity.name, identity.namespace, identity.app, identity.version, identity.canonicalService, identity.canonicalRevision].join('\u0000');
    const known = this.#peers.get(key);
    if (known !== undefined) return known;
    if (this.#peers.size >= MAX_PEER_IDENTITIES) return UNKNOWN_PEER;
    this.#peers.set(key, identity);
    return identity;
  }

  /** A discovery source delivered an update. */
  discoveryRefresh(source: string): void {
    this.instruments.discoveryRefreshes.add(1, this.#sourceAttributes(source));
  }

  /** A discovery source reported an error. */
  discoveryError(source: string): void {
    this.instruments.discoveryErrors.add(1, this.#sourceAttributes(source));
  }

  /** A config version was applied, with `warnings` warnings. */
  configApplied(warnings: number): void {
    this.instruments.configReloads.add(1, this.#empty);
    if (warnings > 0) this.instruments.configWarnings.add(warnings, this.#empty);
  }

  /** A config version was rejected. */
  configRejected(): void {
    this.instruments.configRejected.add(1, this.#empty);
  }

  /**
   * Samples the mesh's state at each collection: `state()` is called then (never per
   * request) and should return the services in use. Replaces an earlier source.
   */
  observe(state: () => Iterable<ServiceStateView>): void {
    this.#state = state;
    this.#registerObservation();
  }

  /** Stops following the global provider and sampling the mesh's state. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unregisterObservation();
    this.#state = undefined;
  }

  #sourceAttributes(source: string): Attributes {
    const s = this.#sources.admit(source);
    let attrs = this.#sourceAttrs.get(s);
    if (attrs === undefined) {
      attrs = { [ATTR.discoverySource]: s };
      this.#sourceAttrs.set(s, attrs);
    }
    return attrs;
  }

  #followGlobalProvider(): void {
    const current = this.#api.metrics.getMeterProvider();
    if (current === this.#provider) return;
    this.#unregisterObservation();
    this.#provider = current;
    this.#meter = current.getMeter(METER_NAME, this.#version);
    this.instruments = buildInstruments(this.#meter, this.#names);
    this.#registerObservation();
  }

  #registerObservation(): void {
    this.#unregisterObservation();
    if (this.#state === undefined) return;
    const i = this.instruments;
    const observables: Observable[] = [i.ejectedEndpoints, i.breakerState, i.endpoints, i.pendingRequests, i.peakEwma];
    const callback = (result: BatchObservableResult): void => this.#sample(result);
    this.#meter.addBatchObservableCallback(callback, observables);
    this.#observing = { meter: this.#meter, callback, observables };
  }

  #unregisterObservation(): void {
    if (this.#observing === undefined) return;
    this.#observing.meter.removeBatchObservableCallback(this.#observing.callback, this.#observing.observables);
    this.#observing = undefined;
  }

  /** One collection: allocation here is per collection, not per request. */
  #sample(result: BatchObservableResult): void {
    const state = this.#state;
    if (state === undefined) return;
    const i = this.instruments;
    let services: Iterable<ServiceStateView>;
    try {
      services = state();
    } catch {
      // A state source that throws costs this sample, never the application.
      return;
    }
    for (const view of services) {
      const service = view.service;
      const counts = { healthy: 0, ejected: 0, unhealthy: 0, draining: 0 };
      for (const endpoint of view.endpoints) {
        counts[endpoint.state]++;
        const attrs = { [ATTR.service]: service, [ATTR.peerAddress]: endpoint.address, [ATTR.peerPort]: endpoint.port };
        result.observe(i.pendingRequests, endpoint.pending, attrs);
        if (endpoint.peakEwmaSeconds !== undefined) result.observe(i.peakEwma, endpoint.peakEwmaSeconds, attrs);
      }
      for (const s of ENDPOINT_STATES) result.observe(i.endpoints, counts[s], { [ATTR.service]: service, [ATTR.endpointState]: s });
      result.observe(i.ejectedEndpoints, counts.ejected, { [ATTR.service]: service });
      if (view.breaker !== undefined) {
        const current = view.breaker === 'half-open' ? 'half_open' : view.breaker;
        for (const s of BREAKER_STATES) result.observe(i.breakerState, s === current ? 1 : 0, { [ATTR.service]: service, [ATTR.breakerState]: s });
      }
    }
  }
}

