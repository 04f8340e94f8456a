import type { PolicyEvents } from '../core/policy-events.js';
import type { buildConnector, Dispatcher, Pool } from 'undici';
import type { Balancer } from '../balance/types.js';
import { ServiceLatency } from '../balance/service-latency.js';
import { cancellationOf, type Cancellation } from '../core/cancellation.js';
import { NoEndpointsError, NoHealthyUpstreamError } from '../core/errors/index.js';
import { failDispatch } from '../core/forwarding-handler.js';
import { ReleaseOnEndHandler } from '../core/release-on-end-handler.js';
import type { Dispatch } from '../core/layer.js';
import type { DiscoverySource, Endpoint, ServiceQuery } from '../discovery/types.js';
import { LIMITS_STATE, type ConnectionPoolLimits, type LimitsState } from '../policy/limits/index.js';
import { RETRY_STATE, ServiceRetryState } from '../policy/retry/index.js';
import { ENDPOINT_PICKER } from '../balance/balance-layer.js';
import type { StateKey } from '../core/target.js';
import { kTriedEndpoints, type PolicyOptions, type TriedEndpoints } from '../policy/route-policy.js';
import { pickUntried } from './pick-untried.js';
import { OutlierDetector, type OutlierSettings } from '../policy/outlier/index.js';
import { HealthChecker, type EndpointHealth, type HealthCheckSettings } from '../policy/health-check/index.js';
import { ServiceBreaker, type BreakerSettings } from '../policy/breaker/index.js';
import { EndpointState, type EndpointOwner } from './endpoint-state.js';
import { ServiceSources, type ServiceStatus } from './service-sources.js';
import { Waiter } from './internal-waiter.js';
import type { ServiceTarget } from './types.js';
import { checkConnector, type ServiceContext, type ServicePolicy } from './service-context.js';

export type { ServiceStatus } from './service-sources.js';

export type { EndpointTransport, ServiceContext, ServicePolicy } from './service-context.js';

/**
 * One logical destination: the sources' answers merged into one endpoint set (the
 * first source in order that knows the service wins), the balancer over it, and the
 * service stack. Endpoints removed by discovery drain: no new requests, in-flight ones
 * complete.
 */
export class MeshService implements ServiceTarget, EndpointOwner {
  /** The service's names and port; `name.fqdn` and `name.port` are its identity. */
  readonly name: ServiceQuery;
  /** Whether discovery knows this service yet. */
  status: ServiceStatus = 'pending';
  /** The balancer, or undefined when the DestinationRule says PASSTHROUGH. */
  balancer: Balancer<EndpointState> | undefined;
  #policy: ServicePolicy;
  readonly #context: ServiceContext;
  readonly #sources: ServiceSources;
  /** What this service's endpoints are built with; a reload of the connection settings replaces `poolOptions`. */
  readonly #endpointContext: { readonly buildEndpointStack: (endpoint: EndpointState) => Dispatch; readonly secure: boolean; poolOptions: Pool.Options; readonly connectorFor: ((endpoint: EndpointState) => Pool.Options['connect'] | undefined) | undefined };
  /** TLS to the endpoints for https:// services: the pools' and the health checks'. */
  #connector: buildConnector.connector | undefined;
  readonly #endpoints = new Map<string, EndpointState>();
  /** Endpoints discovery removed whose pools are still draining (ended by {@link MeshService.destroy}). */
  readonly #draining = new Set<EndpointState>();
  /** The typical latency of this service's endpoints: where a new endpoint's estimate starts. */
  readonly #latency = new ServiceLatency();
  #list: EndpointState[] = [];
  readonly #waiters = new Set<Waiter>();
  #dispatch: Dispatch | undefined;
  #closed = false;

  /**
   * Watches every source for `name`; static sources answer at once. Throws when a
   * source's `watch()` does (see {@link ServiceSources.open}); nothing of the service
   * stays behind then (no watch, no timer).
   */
  constructor(context: ServiceContext, name: ServiceQuery, sources: readonly DiscoverySource[], policy: ServicePolicy) {
    this.#context = context;
    this.name = name;
    this.#policy = policy;
    this.balancer = policy.balancer;
    this.#retryState = new ServiceRetryState(policy.retryBudget, policy.limits?.maxRetries);
    const service = this;
    this.#limitsState = {
      activeRequests: 0,
      get limits() {
        return service.limits;
      },
      connectionCapacity: () => this.connectionCapacity(),
    };
    this.#states = new Map<object, unknown>([
      [RETRY_STATE, this.#retryState],
      [LIMITS_STATE, this.#limitsState],
      [ENDPOINT_PICKER, this],
    ]);
    const transport = context.endpointTransport(policy.limits);
    const endpointConnector = context.endpointConnector;
    this.#endpointContext = {
      buildEndpointStack: context.buildEndpointStack,
      secure: context.secure,
      poolOptions: transport.poolOptions,
      connectorFor:
        endpointConnector === undefined
          ? undefined
          : (endpoint) => {
              const { connect, connectTimeout } = this.#endpointContext.poolOptions;
              return connect === undefined || typeof connect !== 'function' ? undefined : endpointConnector(endpoint, this, connect, connectTimeout ?? 10_000);
            },
    };
    this.#connector = transport.connector;
    this.#sources = new ServiceSources(
      name,
      sources,
      () => this.#recompute(),
      (source, error) => context.onSourceError?.(source, error),
      context.onSourceRefresh === undefined ? undefined : (source, endpoints) => context.onSourceRefresh!(this, source, endpoints),
    );
    try {
      this.#sources.open();
    } catch (error) {
      this.#closed = true;
      throw error;
    }
    this.#setOutlier(policy.outlier);
    this.#setHealthCheck(policy.healthCheck);
    this.#setBreaker(policy.breaker);
    this.#recompute();
  }

  /** The retry layer's state (budget, retries in flight), in the slot {@link RETRY_STATE}. */
  readonly #retryState: ServiceRetryState;
  /** The limits layer's state (limits in force, requests in flight), in the slot {@link LIMITS_STATE}. */
  readonly #limitsState: LimitsState;
  /** The policies' state slots, by key (see {@link ServiceTarget.state}). */
  readonly #states: ReadonlyMap<object, unknown>;

  /** See {@link ServiceTarget.state}: the retry, limits and balance layers' state. */
  state<T>(key: StateKey<T>): T | undefined {
    return this.#states.get(key) as T | undefined;
  }

  /** Requests in flight through the `limits` layer (counted only while limits are set). */
  get activeRequests(): number {
    return this.#limitsState.activeRequests;
  }

  /** Retries in flight (for `connectionPool.http.maxRetries`). */
  get activeRetries(): number {
    return this.#retryState.activeRetries;
  }

  /** See {@link ServiceTarget.balancerName}. */
  get balancerName(): string {
    return this.balancer?.name ?? 'passthrough';
  }

  /** See {@link ServiceTarget.events}: the mesh's. */
  get events(): PolicyEvents | undefined {
    return this.#context.events;
  }

  /** See {@link ServiceTarget.meshExternal}. */
  get meshExternal(): boolean {
    return this.#policy.meshExternal === true;
  }

  /** The current endpoints (including ones not available right now). */
  endpoints(): readonly EndpointState[] {
    return this.#list;
  }

  /** Names of the sources that have not answered yet for this service. */
  pendingSources(): string[] {
    return this.#sources.pendingSources();
  }

  /** Names of every source asked. */
  sourceNames(): string[] {
    return this.#sources.sourceNames();
  }

  /** Sends one request through the service stack (built on first use). */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const dispatch = this.#dispatch ?? (this.#dispatch = this.#context.buildServiceStack(this));
    return dispatch(opts, handler);
  }

  /**
   * Picks an endpoint and sends the request there. When the service has endpoints but
   * none can take traffic (all ejected or failing health checks) it fails at once with
   * {@link NoHealthyUpstreamError}, as Envoy answers 503 "no healthy upstream". When it
   * has none at all yet, it waits up to `discoveryTimeout` for discovery to bring one,
   * then fails with {@link NoEndpointsError}; the wait ends at once when the request is
   * cancelled (the caller's abort, a timeout, the mesh closing).
   */
  dispatchToEndpoint(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const tried = (opts as PolicyOptions)[kTriedEndpoints];
    const endpoint = tried === undefined ? this.balancer!.pick(opts) : this.#pickUntried(opts, tried);
    if (endpoint !== undefined) return endpoint.dispatch(opts, handler);
    if (this.#list.length > 0 && !this.#closed) return failDispatch(handler, this.#noHealthyUpstream());
    const started = performance.now();
    this.wait(this.#context.discoveryTimeout, () => this.#closed || this.#list.length > 0, cancellationOf(opts), (outcome) => {
      if (outcome instanceof Error) return void failDispatch(handler, outcome);
      const picked = this.#closed ? undefined : tried === undefined ? this.balancer!.pick(opts) : this.#pickUntried(opts, tried);
      if (picked === undefined) {
        const waited = Math.round(performance.now() - started);
        failDispatch(handler, this.#list.length > 0 && !this.#closed ? this.#noHealthyUpstream() : new NoEndpointsError(this.name.host, this.sourceNames(), waited));
        return;
      }
      try {
        picked.dispatch(opts, handler);
      } catch (error) {
        failDispatch(handler, error as Error);
      }
    });
    return true;
  }

  #noHealthyUpstream(): NoHealthyUpstreamError {
    let ejected = 0;
    let unhealthy = 0;
    for (const endpoint of this.#list) {
      if (endpoint.ejected) ejected++;
      if (endpoint.unhealthy) unhealthy++;
    }
    return new NoHealthyUpstreamError(this.name.host, this.#list.length, ejected, unhealthy);
  }

  /**
   * A retry prefers an endpoint its earlier tries did not use (Envoy's previous_hosts
   * predicate): up to 5 re-picks (Istio's host_selection_retry_max_attempts), then
   * whatever the balancer gives.
   */
  #pickUntried(opts: Dispatcher.DispatchOptions, tried: TriedEndpoints): EndpointState | undefined {
    return pickUntried(this.balancer!, opts, tried);
  }



  /**
   * Waits for `condition()` to hold after a discovery update (checked on every update,
   * endpoint restored to health and close), for at most `timeoutMs`, or until
   * `cancellation` is cancelled. `done` gets `true` (the condition holds), `false`
   * (timed out) or the cancellation's reason. Used only on the slow path (nothing
   * known or available yet).
   */
  wait(timeoutMs: number, condition: () => boolean, cancellation: Cancellation | undefined, done: (outcome: boolean | Error) => void): void {
    if (condition()) return done(true);
    if (cancellation?.cancelled) return done(cancellation.cancelReason!);
    const waiter = new Waiter(this.#waiters, condition, cancellation, done);
    waiter.start(timeoutMs);
  }

  /**
   * Resolves `true` as soon as `condition()` holds after a discovery update, or `false`
   * after `timeoutMs`. Used only on the slow path (nothing known yet).
   */
  waitUntil(timeoutMs: number, condition: () => boolean): Promise<boolean> {
    return new Promise((resolve) => this.wait(timeoutMs, condition, undefined, (outcome) => resolve(outcome === true)));
  }

  /** The outlier detector, when the DestinationRule sets `outlierDetection`. */
  outlierDetector: OutlierDetector<EndpointState> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #healthChecker: HealthChecker<EndpointState> | undefined;
  /** The service-level circuit breaker, when the DestinationRule's annotation sets one. */
  breaker: ServiceBreaker | undefined;

  /** Makes (or drops) the breaker for the settings in force; the context hears its transitions. */
  #setBreaker(settings: BreakerSettings | undefined): void {
    this.breaker?.close();
    this.breaker = undefined;
    if (!settings) return;
    this.breaker = new ServiceBreaker(this.name.host, settings);
    this.#context.onBreaker?.(this, this.breaker);
  }

  /** Starts (or stops) active health checks for the settings in force. */
  #setHealthCheck(settings: HealthCheckSettings | undefined): void {
    void this.#healthChecker?.close();
    this.#healthChecker = undefined;
    for (const endpoint of this.#list) endpoint.unhealthy = false;
    if (!settings) return;
    this.#healthChecker = new HealthChecker<EndpointState>({
      settings,
      service: this.name.host,
      // The same TLS as the traffic (trust, client certificate, SNI) for https:// services.
      tls: this.#connector === undefined ? undefined : { connect: checkConnector(this.#connector, this.name.host) },
      onChange: (endpoint, healthy, check) => {
        this.#context.onHealth?.(this, endpoint, healthy, check);
        this.#context.events?.health(this.name, endpoint.key, healthy, check);
        if (!healthy) return;
        // Back in health: a new warmup window (Envoy's slow start restarts here), and it may
        // be what a waiting request needs.
        endpoint.activeSinceMs = Math.floor(performance.now());
        this.#wake();
      },
    });
    this.#healthChecker.setEndpoints(this.#list);
  }

  /** The typical latency of its endpoints, with the histogram of their answers (for the admin page). */
  get latency(): ServiceLatency {
    return this.#latency;
  }

  /** Each endpoint's active health check state, or undefined without health checks (for the admin page). */
  healthStatus(): EndpointHealth[] | undefined {
    return this.#healthChecker?.status();
  }

  /** True while ejections are ignored (`minHealthPercent` panic threshold). */
  get panic(): boolean {
    return this.outlierDetector?.panic === true;
  }

  #lastPanic = false;

  /** See {@link EndpointOwner.ejectionChanged}: entering or leaving panic changes every endpoint. */
  ejectionChanged(endpoint?: EndpointState, ejected?: boolean): void {
    if (endpoint !== undefined) {
      // Envoy's name of the count that ejected it (CONSECUTIVE_5XX, ...); none on return.
      const reason = ejected === true ? this.outlierDetector?.inspect(endpoint)?.ejectionType : undefined;
      this.#context.onEjection?.(this, endpoint, ejected === true, reason);
      this.#context.events?.ejection(this.name, endpoint.key, ejected === true, reason);
    }
    // An endpoint back from ejection may be what a waiting request needs.
    this.#wake();
    const panic = this.panic;
    if (panic === this.#lastPanic) return;
    this.#lastPanic = panic;
    for (const endpoint of this.#list) endpoint.refreshAvailable();
  }

  /** Makes (or drops) the outlier detector for the settings in force, with a sweep every interval. */
  #setOutlier(settings: OutlierSettings | undefined): void {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    for (const endpoint of this.#list) endpoint.ejected = false;
    this.outlierDetector = settings ? new OutlierDetector<EndpointState>(settings) : undefined;
    this.#lastPanic = false;
    if (!this.outlierDetector) return;
    for (const endpoint of this.#list) this.outlierDetector.add(endpoint);
    const detector = this.outlierDetector;
    this.#sweepTimer = setInterval(() => detector.sweep(performance.now()), settings!.intervalMs);
    this.#sweepTimer.unref();
  }

  /** The connection-pool limits in force (read per request: a reload applies at once). */
  get limits(): ConnectionPoolLimits | undefined {
    return this.#policy.limits;
  }

  /**
   * How many requests the endpoints' connections carry at once (available endpoints ×
   * connections each). Read per request by the `limits` layer, so it is counted again
   * only after an endpoint's availability or the endpoint set changed (O(1) per request).
   */
  connectionCapacity(): number {
    if (this.#availableCount < 0) {
      let available = 0;
      for (const endpoint of this.#list) if (endpoint.available) available++;
      this.#availableCount = available;
    }
    return this.#availableCount * (this.#endpointContext.poolOptions.connections ?? 1);
  }

  /** Available endpoints in {@link MeshService.endpoints}, or -1 when it must be counted again. */
  #availableCount = -1;

  /** See {@link EndpointOwner.availabilityChanged}: the capacity is counted again, and the balancer's priority loads follow health. */
  availabilityChanged(): void {
    this.#availableCount = -1;
    this.balancer?.healthChanged?.();
  }

  /** The DestinationRule subset this service stands for, if any. */
  /** The DestinationRule `tls` in force (each new connection reads it). */
  get tlsPolicy(): ServicePolicy['tls'] {
    return this.#policy.tls;
  }

  get subset(): string | undefined {
    return this.name.subset;
  }

  /**
   * Applies a reloaded policy: a new balancer (when its settings changed) takes over the
   * current endpoints; new subset labels re-filter them; outlier detection, health checks
   * and the circuit breaker are remade when their own settings changed (each starts
   * afresh, as Envoy does when a cluster's settings change). Requests in flight are not
   * touched. Every comparison is made against the policy in force *before* the new one is
   * assigned.
   */
  applyPolicy(policy: ServicePolicy): void {
    if (this.#closed) return; // a closed service starts no checker, breaker or sweep again
    const previous = this.#policy;
    const labelsChanged = !sameSettings(policy.subsetLabels, previous.subsetLabels);
    const outlierChanged = !sameSettings(policy.outlier, previous.outlier);
    const healthCheckChanged = !sameSettings(policy.healthCheck, previous.healthCheck);
    const breakerChanged = !sameSettings(policy.breaker, previous.breaker);
    const limitsChanged = !sameSettings(policy.limits, previous.limits);
    const balancerChanged = policy.balancerKey !== previous.balancerKey;
    this.#retryState.update(policy.retryBudget, policy.limits?.maxRetries, !sameSettings(policy.retryBudget, previous.retryBudget));
    this.#policy = policy;
    if (limitsChanged) {
      // Pools already made keep their connections; endpoints that get a pool later use these.
      const transport = this.#context.endpointTransport(policy.limits);
      this.#endpointContext.poolOptions = transport.poolOptions;
      this.#connector = transport.connector;
    }
    if (balancerChanged) {
      this.balancer = policy.balancer;
      this.balancer?.update(this.#list);
    }
    if (labelsChanged) this.#recompute();
    if (outlierChanged) this.#setOutlier(policy.outlier);
    if (healthCheckChanged) this.#setHealthCheck(policy.healthCheck);
    if (breakerChanged) this.#setBreaker(policy.breaker);
  }

  /** True once {@link MeshService.close} was called (or the constructor failed). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Stops watching, stops every timer the service runs (outlier sweep, health checks,
   * the breaker's windows), drains every endpoint, and wakes waiting requests. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    // opossum runs intervals per breaker: a closed service must not leave them behind.
    this.breaker?.close();
    const checks = this.#healthChecker?.close();
    this.#sources.close();
    const drained = [...this.#endpoints.values()].map((e) => e.drain());
    if (checks) drained.push(checks);
    this.#wake();
    return (this.#closing = Promise.all(drained).then(() => undefined));
  }

  #closing: Promise<void> | undefined;

  /** Requests in flight on this service (from dispatch until their response ends), see {@link MeshService.track}. */
  get inFlight(): number {
    return this.#inFlight;
  }

  #inFlight = 0;
  /** When the service last took a request, on a counter shared by every service (higher is more recent). */
  lastUsed = 0;

  /**
   * Counts one request as in flight on this service until its response ends or fails,
   * and marks the service as just used. The mesh evicts only services with nothing in
   * flight, so a request (its retries, hedges, discovery waits) never loses its service.
   */
  track(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
    this.#inFlight++;
    this.lastUsed = ++useClock;
    return new ServiceUseHandler(handler, this);
  }

  /** @internal Called by the handler {@link MeshService.track} returned. */
  untrack(): void {
    this.#inFlight--;
  }

  /** Ends every request still on this service's endpoints (removed ones still draining included) with `error`. */
  destroy(error: Error): Promise<void> {
    return Promise.all([...this.#endpoints.values(), ...this.#draining].map((e) => e.destroy(error))).then(() => undefined);
  }

  /** Applies the winning source's set: new endpoints join, removed ones drain. */
  #recompute(): void {
    if (this.#closed) return;
    this.status = this.#sources.status;
    const next = this.#sources.endpoints(this.#context.mergeSources === true);
    const subset = this.#policy.subsetLabels;
    let changed = false;
    for (const [key, state] of this.#endpoints) {
      const endpoint = next.get(key);
      if (!endpoint || (subset && !hasLabels(endpoint, subset))) {
        this.#endpoints.delete(key);
        this.outlierDetector?.remove(state);
        this.#draining.add(state);
        void state.drain().then(() => this.#draining.delete(state));
        changed = true;
      }
    }
    for (const [key, endpoint] of next) {
      if (subset && !hasLabels(endpoint, subset)) continue;
      const state = this.#endpoints.get(key);
      if (!state) {
        const created = new EndpointState(this.#endpointContext, this.name.fqdn, key, endpoint, this, this.#latency);
        this.#endpoints.set(key, created);
        this.outlierDetector?.add(created);
        changed = true;
      } else if (state.weight !== endpoint.weight || state.labels !== endpoint.labels) {
        state.weight = endpoint.weight;
        state.labels = endpoint.labels;
        changed = true;
      }
    }
    if (changed) {
      this.#list = [...this.#endpoints.values()];
      this.#availableCount = -1;
      this.balancer?.update(this.#list);
      this.#healthChecker?.setEndpoints(this.#list);
    }
    this.#wake();
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) waiter.check();
  }
}

/** A counter, not a clock: ordering is all eviction needs, and it costs less than `performance.now()`. */
let useClock = 0;

/** Ends a request's count on its service (see {@link MeshService.track}). */
class ServiceUseHandler extends ReleaseOnEndHandler {
  readonly #service: MeshService;

  constructor(next: Dispatcher.DispatchHandler, service: MeshService) {
    super(next);
    this.#service = service;
  }

  protected override released(): void {
    this.#service.untrack();
  }
}

/** Whether two settings objects (plain JSON data, or undefined) are the same. */
function sameSettings(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function hasLabels(endpoint: Endpoint, labels: Readonly<Record<string, string>>): boolean {
  for (const key in labels) if (endpoint.labels[key] !== labels[key]) return false;
  return true;
}

