import type { PolicyEvents } from '../core/policy-events.js';
import type { Dispatcher } from 'undici';
import type { Balancer } from '../balance/types.js';
import { ServiceLatency } from '../balance/service-latency.js';
import { cancellationOf, type Cancellation } from '../core/cancellation.js';
import { NoEndpointsError } from '../core/errors/index.js';
import { failDispatch } from '../core/forwarding-handler.js';
import type { Dispatch } from '../core/layer.js';
import type { DiscoverySource, Endpoint, ServiceQuery } from '../discovery/types.js';
import { LIMITS_STATE, type ConnectionPoolLimits, type LimitsState } from '../policy/limits/index.js';
import { RETRY_STATE, ServiceRetryState } from '../policy/retry/index.js';
import { ENDPOINT_PICKER } from '../balance/balance-layer.js';
import type { StateKey } from '../core/target.js';
import { kTriedEndpoints, type PolicyOptions } from '../policy/route-policy.js';
import { pickUntried } from './pick-untried.js';
import type { OutlierDetector } from '../policy/outlier/index.js';
import type { EndpointHealth } from '../policy/health-check/index.js';
import type { ServiceBreaker } from '../policy/breaker/index.js';
import { EndpointState, type EndpointOwner } from './endpoint-state.js';
import { ServiceSources, type ServiceStatus } from './service-sources.js';
import { Waiters } from './internal-waiter.js';
import type { ServiceTarget } from './types.js';
import type { ServiceContext, ServicePolicy } from './service-context.js';
import { ServiceEndpoints } from './service-endpoints.js';
import { ServiceGuards } from './service-guards.js';
import { ServiceTransport } from './service-transport.js';
import { nextUse, ServiceUseHandler } from './service-use.js';

export type { ServiceStatus } from './service-sources.js';

export type { EndpointTransport, ServiceContext, ServicePolicy } from './service-context.js';

/**
 * One logical destination: the sources' answers merged into one endpoint set (the
 * first source in order that knows the service wins), the balancer over it, the
 * service stack, and the layers' state slots. Its parts: the endpoint set
 * (`service-endpoints.ts`: removed endpoints drain, in-flight requests complete), the
 * policies that run on their own timers (`service-guards.ts`: outlier detection, health
 * checks, the breaker), the transport to its endpoints (`service-transport.ts`), the
 * requests waiting for it (`internal-waiter.ts`) and its use count (`service-use.ts`).
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
  /** What this service's endpoints are built with; a reload of the connection settings replaces its pool options. */
  readonly #transport: ServiceTransport;
  readonly #endpoints = new ServiceEndpoints();
  readonly #guards: ServiceGuards;
  /** The typical latency of this service's endpoints: where a new endpoint's estimate starts. */
  readonly #latency = new ServiceLatency();
  readonly #waiters = new Waiters();
  #dispatch: Dispatch | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #inFlight = 0;
  /** When the service last took a request, on a counter shared by every service (higher is more recent). */
  lastUsed = 0;
  /** The retry layer's state (budget, retries in flight), in the slot {@link RETRY_STATE}. */
  readonly #retryState: ServiceRetryState;
  /** The limits layer's state (limits in force, requests in flight), in the slot {@link LIMITS_STATE}. */
  readonly #limitsState: LimitsState;
  /** The policies' state slots, by key (see {@link ServiceTarget.state}). */
  readonly #states: ReadonlyMap<object, unknown>;

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
    this.#transport = new ServiceTransport(context, this, policy.limits);
    this.#guards = new ServiceGuards({
      host: name.host,
      endpoints: () => this.#endpoints.list,
      onBreaker: (breaker) => context.onBreaker?.(this, breaker),
      onHealthChange: (endpoint, healthy, check) => {
        context.onHealth?.(this, endpoint, healthy, check);
        context.events?.health(this.name, endpoint.key, healthy, check);
        if (!healthy) return;
        // Back in health: a new warmup window (Envoy's slow start restarts here), and it may
        // be what a waiting request needs.
        endpoint.activeSinceMs = Math.floor(performance.now());
        this.#waiters.wake();
      },
    });
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
    this.#guards.setOutlier(policy.outlier);
    this.#guards.setHealthCheck(policy.healthCheck, this.#transport.connector);
    this.#guards.setBreaker(policy.breaker);
    this.#recompute();
  }

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
    return this.#endpoints.list;
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
   * `NoHealthyUpstreamError`, as Envoy answers 503 "no healthy upstream". When it
   * has none at all yet, it waits up to `discoveryTimeout` for discovery to bring one,
   * then fails with {@link NoEndpointsError}; the wait ends at once when the request is
   * cancelled (the caller's abort, a timeout, the mesh closing). A retry prefers an
   * endpoint its earlier tries did not use (see `pick-untried.ts`).
   */
  dispatchToEndpoint(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const tried = (opts as PolicyOptions)[kTriedEndpoints];
    const pick = (): EndpointState | undefined => (tried === undefined ? this.balancer!.pick(opts) : pickUntried(this.balancer!, opts, tried));
    const endpoint = pick();
    if (endpoint !== undefined) return endpoint.dispatch(opts, handler);
    const endpoints = this.#endpoints;
    if (endpoints.list.length > 0 && !this.#closed) return failDispatch(handler, endpoints.noHealthyUpstream(this.name.host));
    const started = performance.now();
    this.wait(this.#context.discoveryTimeout, () => this.#closed || endpoints.list.length > 0, cancellationOf(opts), (outcome) => {
      if (outcome instanceof Error) return void failDispatch(handler, outcome);
      const picked = this.#closed ? undefined : pick();
      if (picked === undefined) {
        const waited = Math.round(performance.now() - started);
        failDispatch(handler, endpoints.list.length > 0 && !this.#closed ? endpoints.noHealthyUpstream(this.name.host) : new NoEndpointsError(this.name.host, this.sourceNames(), waited));
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

  /**
   * Waits for `condition()` to hold after a discovery update (checked on every update,
   * endpoint restored to health and close), for at most `timeoutMs`, or until
   * `cancellation` is cancelled. `done` gets `true` (the condition holds), `false`
   * (timed out) or the cancellation's reason. Used only on the slow path (nothing
   * known or available yet).
   */
  wait(timeoutMs: number, condition: () => boolean, cancellation: Cancellation | undefined, done: (outcome: boolean | Error) => void): void {
    this.#waiters.wait(timeoutMs, condition, cancellation, done);
  }

  /**
   * Resolves `true` as soon as `condition()` holds after a discovery update, or `false`
   * after `timeoutMs`. Used only on the slow path (nothing known yet).
   */
  waitUntil(timeoutMs: number, condition: () => boolean): Promise<boolean> {
    return new Promise((resolve) => this.wait(timeoutMs, condition, undefined, (outcome) => resolve(outcome === true)));
  }

  /** The outlier detector, when the DestinationRule sets `outlierDetection`. */
  get outlierDetector(): OutlierDetector<EndpointState> | undefined {
    return this.#guards.outlierDetector;
  }

  /** The service-level circuit breaker, when the DestinationRule's annotation sets one. */
  get breaker(): ServiceBreaker | undefined {
    return this.#guards.breaker;
  }

  /** The typical latency of its endpoints, with the histogram of their answers (for the admin page). */
  get latency(): ServiceLatency {
    return this.#latency;
  }

  /** Each endpoint's active health check state, or undefined without health checks (for the admin page). */
  healthStatus(): EndpointHealth[] | undefined {
    return this.#guards.healthStatus();
  }

  /** True while ejections are ignored (`minHealthPercent` panic threshold). */
  get panic(): boolean {
    return this.#guards.panic;
  }

  /** See {@link EndpointOwner.ejectionChanged}: entering or leaving panic changes every endpoint. */
  ejectionChanged(endpoint?: EndpointState, ejected?: boolean): void {
    if (endpoint !== undefined) {
      // Envoy's name of the count that ejected it (CONSECUTIVE_5XX, ...); none on return.
      const reason = ejected === true ? this.outlierDetector?.inspect(endpoint)?.ejectionType : undefined;
      this.#context.onEjection?.(this, endpoint, ejected === true, reason);
      this.#context.events?.ejection(this.name, endpoint.key, ejected === true, reason);
    }
    // An endpoint back from ejection may be what a waiting request needs.
    this.#waiters.wake();
    if (!this.#guards.panicChanged()) return;
    for (const endpoint of this.#endpoints.list) endpoint.refreshAvailable();
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
    return this.#endpoints.capacity(this.#transport.poolOptions.connections ?? 1);
  }

  /** See {@link EndpointOwner.availabilityChanged}: the capacity is counted again, and the balancer's priority loads follow health. */
  availabilityChanged(): void {
    this.#endpoints.availabilityChanged();
    this.balancer?.healthChanged?.();
  }

  /** The DestinationRule `tls` in force (each new connection reads it). */
  get tlsPolicy(): ServicePolicy['tls'] {
    return this.#policy.tls;
  }

  /** The DestinationRule subset this service stands for, if any. */
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
    // Pools already made keep their connections; endpoints that get a pool later use these.
    if (limitsChanged) this.#transport.update(policy.limits);
    if (balancerChanged) {
      this.balancer = policy.balancer;
      this.balancer?.update(this.#endpoints.list);
    }
    if (labelsChanged) this.#recompute();
    if (outlierChanged) this.#guards.setOutlier(policy.outlier);
    if (healthCheckChanged) this.#guards.setHealthCheck(policy.healthCheck, this.#transport.connector);
    if (breakerChanged) this.#guards.setBreaker(policy.breaker);
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
    const checks = this.#guards.close();
    this.#sources.close();
    const drained = this.#endpoints.drainAll();
    if (checks) drained.push(checks);
    this.#waiters.wake();
    return (this.#closing = Promise.all(drained).then(() => undefined));
  }

  /** Requests in flight on this service (from dispatch until their response ends), see {@link MeshService.track}. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Counts one request as in flight on this service until its response ends or fails,
   * and marks the service as just used. The mesh evicts only services with nothing in
   * flight, so a request (its retries, hedges, discovery waits) never loses its service.
   */
  track(handler: Dispatcher.DispatchHandler): Dispatcher.DispatchHandler {
    this.#inFlight++;
    this.lastUsed = nextUse();
    return new ServiceUseHandler(handler, this);
  }

  /** @internal Called by the handler {@link MeshService.track} returned. */
  untrack(): void {
    this.#inFlight--;
  }

  /** Ends every request still on this service's endpoints (removed ones still draining included) with `error`. */
  destroy(error: Error): Promise<void> {
    return this.#endpoints.destroyAll(error);
  }

  /** Applies the winning source's set: new endpoints join, removed ones drain. */
  #recompute(): void {
    if (this.#closed) return;
    this.status = this.#sources.status;
    const next = this.#sources.endpoints(this.#context.mergeSources === true);
    const create = (key: string, endpoint: Endpoint): EndpointState => new EndpointState(this.#transport, this.name.fqdn, key, endpoint, this, this.#latency);
    if (this.#endpoints.update(next, this.#policy.subsetLabels, create, this.outlierDetector)) {
      const list = this.#endpoints.list;
      this.balancer?.update(list);
      this.#guards.endpointsChanged(list);
    }
    this.#waiters.wake();
  }
}

/** Whether two settings objects (plain JSON data, or undefined) are the same. */
function sameSettings(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
