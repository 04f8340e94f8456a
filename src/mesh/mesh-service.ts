import type { buildConnector, Dispatcher, Pool } from 'undici';
import type { Balancer } from '../balance/types.js';
import { ServiceLatency } from '../balance/service-latency.js';
import { NoEndpointsError } from '../core/errors.js';
import { failDispatch } from '../core/forwarding-handler.js';
import type { Dispatch } from '../core/layer.js';
import { endpointKey } from '../discovery/parse-endpoint.js';
import type { DiscoverySource, DiscoveryUpdate, DiscoveryWatch, Endpoint, ServiceQuery } from '../discovery/types.js';
import type { ConnectionPoolLimits } from '../policy/connection-pool.js';
import { kTriedEndpoints, type PolicyOptions, type TriedEndpoints } from '../policy/route-policy.js';
import { RetryBudget } from '../policy/retry-budget.js';
import { OutlierDetector, type OutlierSettings } from '../policy/outlier-detection.js';
import { HealthChecker, type HealthCheckSettings } from '../policy/health-check.js';
import { ServiceBreaker, type BreakerSettings } from '../policy/circuit-breaker.js';
import { EndpointState, type EndpointOwner } from './endpoint-state.js';
import type { ServiceTarget } from './types.js';
import { checkConnector, type ServiceContext, type ServicePolicy } from './service-context.js';

/** Whether discovery knows a service: still asking, known to a source, or known to none. */
export type ServiceStatus = 'pending' | 'known' | 'missing';

export type { EndpointTransport, ServiceContext, ServicePolicy } from './service-context.js';

/** One source's view of the service. */
interface SourceView {
  readonly source: DiscoverySource;
  watch: DiscoveryWatch | undefined;
  answered: boolean;
  known: boolean;
  endpoints: Map<string, Endpoint>;
}

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
  /** What this service's endpoints are built with; a reload of the connection settings replaces `poolOptions`. */
  readonly #endpointContext: { readonly buildEndpointStack: (endpoint: EndpointState) => Dispatch; readonly secure: boolean; poolOptions: Pool.Options };
  /** TLS to the endpoints for https:// services: the pools' and the health checks'. */
  #connector: buildConnector.connector | undefined;
  readonly #views: SourceView[] = [];
  readonly #endpoints = new Map<string, EndpointState>();
  /** The typical latency of this service's endpoints: where a new endpoint's estimate starts. */
  readonly #latency = new ServiceLatency();
  #list: EndpointState[] = [];
  #waiters: Array<() => void> = [];
  #dispatch: Dispatch | undefined;
  #closed = false;

  /** Watches every source for `name`; static sources answer at once. */
  constructor(context: ServiceContext, name: ServiceQuery, sources: readonly DiscoverySource[], policy: ServicePolicy) {
    this.#context = context;
    this.name = name;
    this.#policy = policy;
    this.balancer = policy.balancer;
    const transport = context.endpointTransport(policy.limits);
    this.#endpointContext = { buildEndpointStack: context.buildEndpointStack, secure: context.secure, poolOptions: transport.poolOptions };
    this.#connector = transport.connector;
    this.#setOutlier(policy.outlier);
    this.#setHealthCheck(policy.healthCheck);
    this.#setBreaker(policy.breaker);
    for (const source of sources) {
      const view: SourceView = { source, watch: undefined, answered: false, known: false, endpoints: new Map() };
      this.#views.push(view);
    }
    this.#views.forEach((view) => {
      view.watch = view.source.watch(name, (update) => this.#onUpdate(view, update));
    });
    this.#recompute();
  }

  /** See {@link ServiceTarget.balancerName}. */
  get balancerName(): string {
    return this.balancer?.name ?? 'passthrough';
  }

  /** The current endpoints (including ones not available right now). */
  endpoints(): readonly EndpointState[] {
    return this.#list;
  }

  /** Names of the sources that have not answered yet for this service. */
  pendingSources(): string[] {
    return this.#views.filter((v) => !v.answered).map((v) => v.source.name);
  }

  /** Names of every source asked. */
  sourceNames(): string[] {
    return this.#views.map((v) => v.source.name);
  }

  /** Sends one request through the service stack (built on first use). */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const dispatch = this.#dispatch ?? (this.#dispatch = this.#context.buildServiceStack(this));
    return dispatch(opts, handler);
  }

  /**
   * Picks an endpoint and sends the request there; with none available, waits up to
   * `discoveryTimeout` for discovery to bring one, then fails with {@link NoEndpointsError}.
   */
  dispatchToEndpoint(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const tried = (opts as PolicyOptions)[kTriedEndpoints];
    const endpoint = tried === undefined ? this.balancer!.pick(opts) : this.#pickUntried(opts, tried);
    if (endpoint !== undefined) return endpoint.dispatch(opts, handler);
    const started = performance.now();
    void this.waitUntil(this.#context.discoveryTimeout, () => this.#closed || this.balancer!.pick(opts) !== undefined).then((ok) => {
      const picked = ok && !this.#closed ? this.balancer!.pick(opts) : undefined;
      if (!picked) {
        failDispatch(handler, new NoEndpointsError(this.name.host, this.sourceNames(), Math.round(performance.now() - started)));
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
   * A retry prefers an endpoint its earlier tries did not use (Envoy's previous_hosts
   * predicate): up to 3 re-picks, then whatever the balancer gives.
   */
  #pickUntried(opts: Dispatcher.DispatchOptions, tried: TriedEndpoints): EndpointState | undefined {
    let endpoint = this.balancer!.pick(opts);
    for (let i = 0; i < 3 && endpoint !== undefined && tried.has(endpoint); i++) endpoint = this.balancer!.pick(opts);
    if (endpoint !== undefined) tried.add(endpoint);
    return endpoint;
  }

  /**
   * Resolves `true` as soon as `condition()` holds after a discovery update, or `false`
   * after `timeoutMs`. Used only on the slow path (nothing known yet).
   */
  waitUntil(timeoutMs: number, condition: () => boolean): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (condition()) {
          clearTimeout(timer);
          resolve(true);
        } else {
          this.#waiters.push(check);
        }
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(check);
        if (index >= 0) this.#waiters.splice(index, 1);
        resolve(condition());
      }, timeoutMs);
      this.#waiters.push(check);
    });
  }

  /** Requests in flight through the `limits` layer (counted only when limits are set). */
  activeRequests = 0;
  /** Retries in flight (for `connectionPool.http.maxRetries`). */
  activeRetries = 0;
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
      onChange: (endpoint, healthy) => {
        if (!healthy) return;
        // Back in health: a new warmup window (Envoy's slow start restarts here), and it may
        // be what a waiting request needs.
        endpoint.activeSinceMs = Math.floor(performance.now());
        this.#wake();
      },
    });
    this.#healthChecker.setEndpoints(this.#list);
  }

  /** True while ejections are ignored (`minHealthPercent` panic threshold). */
  get panic(): boolean {
    return this.outlierDetector?.panic === true;
  }

  #lastPanic = false;

  /** See {@link EndpointOwner.ejectionChanged}: entering or leaving panic changes every endpoint. */
  ejectionChanged(): void {
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
  #budget: RetryBudget | undefined;

  /** This service's retry budget (made on first use; remade when a reload changes its settings). */
  get retryBudget(): RetryBudget {
    if (this.#budget === undefined) {
      const s = this.#policy.retryBudget;
      this.#budget = s === undefined ? new RetryBudget() : s.disabled ? RetryBudget.unlimited() : new RetryBudget({ percent: s.percent, minPerSecond: s.minRetriesPerSecond, ttlMs: s.ttlMs });
    }
    return this.#budget;
  }

  /** The connection-pool limits in force (read per request: a reload applies at once). */
  get limits(): ConnectionPoolLimits | undefined {
    return this.#policy.limits;
  }

  /** How many requests the endpoints' connections carry at once (available endpoints × connections each). */
  connectionCapacity(): number {
    let available = 0;
    for (const endpoint of this.#list) if (endpoint.available) available++;
    return available * (this.#endpointContext.poolOptions.connections ?? 1);
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
    const previous = this.#policy;
    const labelsChanged = !sameSettings(policy.subsetLabels, previous.subsetLabels);
    const outlierChanged = !sameSettings(policy.outlier, previous.outlier);
    const healthCheckChanged = !sameSettings(policy.healthCheck, previous.healthCheck);
    const breakerChanged = !sameSettings(policy.breaker, previous.breaker);
    const limitsChanged = !sameSettings(policy.limits, previous.limits);
    const balancerChanged = policy.balancerKey !== previous.balancerKey;
    if (!sameSettings(policy.retryBudget, previous.retryBudget)) this.#budget = undefined;
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

  /**
   * Stops watching, stops every timer the service runs (outlier sweep, health checks,
   * the breaker's windows), drains every endpoint, and wakes waiting requests.
   */
  close(): Promise<void> {
    this.#closed = true;
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    // opossum runs intervals per breaker: a closed service must not leave them behind.
    this.breaker?.close();
    const checks = this.#healthChecker?.close();
    for (const view of this.#views) view.watch?.close();
    const drained = [...this.#endpoints.values()].map((e) => e.drain());
    if (checks) drained.push(checks);
    this.#wake();
    return Promise.all(drained).then(() => undefined);
  }

  /** Ends every request still on this service's endpoints with `error`. */
  destroy(error: Error): Promise<void> {
    return Promise.all([...this.#endpoints.values()].map((e) => e.destroy(error))).then(() => undefined);
  }

  #onUpdate(view: SourceView, update: DiscoveryUpdate): void {
    if (this.#closed) return;
    view.answered = true;
    switch (update.type) {
      case 'reset':
        view.known = true;
        view.endpoints = new Map();
        for (const e of update.endpoints) view.endpoints.set(endpointKey(e), e);
        break;
      case 'add':
        view.known = true;
        for (const e of update.endpoints) view.endpoints.set(endpointKey(e), e);
        break;
      case 'remove':
        for (const e of update.endpoints) view.endpoints.delete(endpointKey(e));
        break;
      case 'missing':
        view.known = false;
        view.endpoints = new Map();
        break;
    }
    // Sources may answer synchronously inside watch(), before every view is attached.
    if (this.#views.length > 0) this.#recompute();
  }

  /** Applies the winning source's set: new endpoints join, removed ones drain. */
  #recompute(): void {
    const winner = this.#views.find((v) => v.known);
    this.status = winner ? 'known' : this.#views.every((v) => v.answered) ? 'missing' : 'pending';
    let next = winner?.endpoints ?? new Map<string, Endpoint>();
    if (this.#context.mergeSources && winner) {
      // Union of every source that knows the service; on the same address:port the
      // earlier source's record wins.
      next = new Map();
      for (let i = this.#views.length - 1; i >= 0; i--) {
        const view = this.#views[i]!;
        if (view.known) for (const [key, endpoint] of view.endpoints) next.set(key, endpoint);
      }
    }
    const subset = this.#policy.subsetLabels;
    let changed = false;
    for (const [key, state] of this.#endpoints) {
      const endpoint = next.get(key);
      if (!endpoint || (subset && !hasLabels(endpoint, subset))) {
        this.#endpoints.delete(key);
        this.outlierDetector?.remove(state);
        void state.drain();
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
      this.balancer?.update(this.#list);
      this.#healthChecker?.setEndpoints(this.#list);
    }
    this.#wake();
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
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
