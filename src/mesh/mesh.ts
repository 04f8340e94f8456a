import { EventEmitter } from 'node:events';
import { balancerFromSettings } from '../balance/from-load-balancer-settings.js';
import { balanceLayer } from '../balance/balance-layer.js';
import { loadLayer } from '../balance/load-layer.js';
import { stallClock } from '../balance/stall-clock.js';
import { MeshClosingError } from '../core/errors.js';
import { Stack } from '../core/layer.js';
import { compileConfig, type CompiledConfig } from '../config/compile-config.js';
import { ConfigCache } from '../config/config-cache.js';
import { readConfigInputs, type ConfigInputs } from '../config/config-inputs.js';
import type { ConfigEntry } from '../config/load-config.js';
import { resolvePolicy } from '../config/service-policy.js';
import { annotationValue, retryBudgetSettings } from '../config/extensions.js';
import { HEALTH_CHECK_ANNOTATION, healthCheckSettings } from '../policy/health-check.js';
import { breakerLayer, breakerSettings, CIRCUIT_BREAKER_ANNOTATION, type BreakerSnapshot, type ServiceBreaker } from '../policy/circuit-breaker.js';
import type { ConfigSource } from '../config/types.js';
import { ServiceEntrySource } from '../discovery/service-entry-source.js';
import type { ServiceName } from '../discovery/types.js';
import type { CompiledVirtualService } from '../route/route-table.js';
import { explainRequest, type Explanation } from '../route/explain.js';
import { ServiceNamer } from '../discovery/service-name.js';
import type { DiscoverySource, DiscoverySourceState } from '../discovery/types.js';
import { FileConfigSource } from '../config/file-config-source.js';
import type { EndpointState } from './endpoint-state.js';
import { MeshDispatcher } from './mesh-dispatcher.js';
import { meshFetch, type GlobalFetchDispatcher, type MeshFetch } from './mesh-fetch.js';
import { MeshService, type ServiceContext, type ServicePolicy, type ServiceStatus } from './mesh-service.js';
import { resolveMeshOptions, type ResolvedMeshOptions } from './options.js';
import { poolLayer } from './pool-layer.js';
import { connectionPoolLimits, type ConnectionPoolLimits } from '../policy/connection-pool.js';
import { limitsLayer } from '../policy/limits-layer.js';
import { outlierSettings } from '../policy/outlier-detection.js';
import { outlierLayer } from '../policy/outlier-layer.js';
import { retryLayer } from '../policy/retry-layer.js';
import { hedgeLayer } from '../policy/hedge-layer.js';
import { timeoutLayer } from '../policy/timeout-layer.js';
import type { EndpointTarget, MeshOptions, ServiceTarget } from './types.js';

/** One endpoint as {@link Mesh.services} reports it. */
export interface EndpointSnapshot {
  /** `address:port`. */
  readonly key: string;
  /** Relative weight. */
  readonly weight: number;
  /** Discovery labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** False while draining or ejected. */
  readonly available: boolean;
  /** Requests in flight on this endpoint. */
  readonly pending: number;
  /** Failed requests (connection errors, resets) so far. */
  readonly failures: number;
  /** The balancer's current Peak EWMA cost, in ms. */
  readonly cost: number;
}

/** One service as {@link Mesh.services} reports it. */
export interface ServiceSnapshot {
  /** The service FQDN. */
  readonly name: string;
  /** The port callers used (one service per name and port, as Envoy's clusters). */
  readonly port: number;
  /** The DestinationRule subset, if any. */
  readonly subset: string | undefined;
  /** Whether discovery knows it. */
  readonly status: ServiceStatus;
  /** The balancer's name, or `passthrough`. */
  readonly balancer: string;
  /** Its endpoints. */
  readonly endpoints: readonly EndpointSnapshot[];
}

/** What {@link MeshEvents.configApplied} reports. */
export interface ConfigAppliedInfo {
  /** What changed: a file or config source name, or `applyConfig`. */
  readonly source: string;
  /** How many resources the config in force was built from. */
  readonly resources: number;
  /** Its warnings. */
  readonly warnings: readonly string[];
}

/** Which service a circuit breaker event is about. */
export interface CircuitEvent {
  /** `fqdn:port`. */
  readonly service: string;
  /** When it opened (epoch ms), on `circuitOpen`. */
  readonly openedAt?: number;
  /** When it will let a probe through (epoch ms), on `circuitOpen`. */
  readonly retryAt?: number;
}

/** Typed events of a {@link Mesh}. */
export interface MeshEvents {
  /** A discovery source reported an error; it keeps serving its last known good set. */
  discoveryError: [error: Error, source: string];
  /** A config change was invalid (the last good config stays in force) or a config source failed. */
  configError: [error: Error, source: string];
  /** A config change was applied. */
  configApplied: [info: ConfigAppliedInfo];
  /** A service's circuit breaker opened: tries fail at once until `retryAt`. */
  circuitOpen: [info: CircuitEvent];
  /** A breaker lets probe requests through. */
  circuitHalfOpen: [info: CircuitEvent];
  /** A breaker closed again. */
  circuitClose: [info: CircuitEvent];
}

const MAX_SERVICES = 10_000;

/**
 * A service mesh client inside this process. Create it with {@link createMesh}; send
 * requests with {@link Mesh.fetch} or through {@link Mesh.dispatcher}; end it with
 * {@link Mesh.close}.
 */
export class Mesh extends EventEmitter<MeshEvents> {
  /**
   * The mesh as an undici Dispatcher: `undici.request(url, { dispatcher })`,
   * `fetch(url, { dispatcher })` (undici's or Node's global fetch) and
   * `setGlobalDispatcher(mesh.dispatcher)`. Typed as the global fetch's dispatcher too
   * ({@link GlobalFetchDispatcher}), so `fetch(url, { dispatcher: mesh.dispatcher })`
   * needs no cast.
   */
  readonly dispatcher: MeshDispatcher & GlobalFetchDispatcher;
  readonly #options: ResolvedMeshOptions;
  readonly #namer: ServiceNamer;
  readonly #configInputs: ConfigInputs;
  /** Inline resources in force: from createMesh, replaced by applyConfig. */
  #inline: readonly ConfigEntry[];
  /** The latest resources of each file or source, by source. */
  readonly #sourceEntries = new Map<ConfigSource, readonly ConfigEntry[]>();
  readonly #configWatches: Array<{ close(): void }> = [];
  readonly #breakerSnapshots = new Map<string, unknown>();
  #compiled: CompiledConfig;
  /** What each resource validated and compiled to, so a reload redoes only what changed. */
  readonly #configCache = new ConfigCache();
  /** The balancers' latency samples leave out this process's stalls while the mesh is open. */
  readonly #releaseStallClock = stallClock.acquire();
  readonly #serviceEntries: ServiceEntrySource;
  readonly #discovery: readonly DiscoverySource[];
  readonly #services = new Map<string, MeshService>();
  readonly #serviceStack: Stack<ServiceTarget>;
  readonly #endpointStack: Stack<EndpointTarget>;
  readonly #context: ServiceContext;
  readonly #sourceErrorListeners = new Map<DiscoverySource, (error: Error) => void>();
  #closing: Promise<void> | undefined;

  /** Use {@link createMesh}, which validates the options. */
  constructor(options: MeshOptions | undefined) {
    super();
    this.#options = resolveMeshOptions(options);
    const o = this.#options;
    this.#namer = new ServiceNamer(o.namespace, o.clusterDomain);
    this.#configInputs = readConfigInputs(o.config);
    this.#inline = this.#configInputs.inline;
    for (const file of this.#configInputs.files) this.#sourceEntries.set(file, file.located);
    this.#compiled = compileConfig(this.#configEntries(), this.#namer, o.labels, this.#configCache);
    this.#configCache.commit();
    for (const warning of this.#compiled.warnings) process.emitWarning(warning, { code: 'PROXYLESS_W_CONFIG' });
    // ServiceEntries are a registry too, asked before the user's sources.
    this.#serviceEntries = new ServiceEntrySource(this.#namer);
    this.#serviceEntries.setEntries(this.#compiled.config.serviceEntries);
    this.#discovery = [this.#serviceEntries, ...o.discovery];

    // Outermost first. `balance` is terminal: it picks an endpoint and enters its stack.
    this.#serviceStack = new Stack<ServiceTarget>('service', [
      timeoutLayer(), // the route timeout and the request's deadline cover every try
      retryLayer(), // each try goes down the rest of the stack, another endpoint if possible
      hedgeLayer(), // a slow try gets a backup on another endpoint (opt-in per VirtualService)
      breakerLayer((s) => (s as MeshService).breaker), // an open circuit refuses tries at once (opt-in)
      limitsLayer(), // connectionPool overflow fails fast, per try, before an endpoint is picked
      balanceLayer(),
    ]);
    this.#endpointStack = new Stack<EndpointTarget>('endpoint', [
      loadLayer(), // outermost at the endpoint, so queueing in the pool counts as load
      // Counts 5xx, gateway errors and connection failures toward ejection (DestinationRule outlierDetection).
      outlierLayer<EndpointTarget & { ejected: boolean }>((e) => (e as EndpointState).outlierDetector),
      poolLayer(), // terminal: the endpoint's undici Pool
    ]);
    o.stacks.service?.(this.#serviceStack);
    o.stacks.endpoint?.(this.#endpointStack);

    this.#context = {
      buildServiceStack: (service) => this.#serviceStack.build(service),
      buildEndpointStack: (endpoint: EndpointState) => this.#endpointStack.build(endpoint),
      discoveryTimeout: o.discoveryTimeout,
      mergeSources: o.mergeSources,
      onBreaker: (service, breaker) => this.#watchBreaker(service, breaker),
      poolOptions: {
        connections: o.pool.connections,
        keepAliveTimeout: o.pool.keepAliveTimeout,
        connectTimeout: o.pool.connectTimeout,
      },
    };

    this.dispatcher = new MeshDispatcher({
      service: (name, port, secure, subset) => this.#service(name, port, secure, subset),
      name: (host) => this.#namer.name(host),
      virtualService: (name) => this.#compiled.routes.lookup(name),
      registryOnly: o.registryOnly,
      discoveryTimeout: o.discoveryTimeout,
      closeGracePeriod: o.closeGracePeriod,
      passthroughOptions: { keepAliveTimeout: o.pool.keepAliveTimeout, connectTimeout: o.pool.connectTimeout },
    }) as MeshDispatcher & GlobalFetchDispatcher;
    this.dispatcher.onClose = () => this.close();
    this.dispatcher.onDestroy = (error) => this.#shutdown(error ?? new MeshClosingError(0));

    for (const source of o.discovery) {
      const listener = (error: Error): void => void this.emit('discoveryError', error, source.name);
      source.on('error', listener);
      this.#sourceErrorListeners.set(source, listener);
    }
    this.#watchConfigSources();
  }

  /** Warnings of the config in force (fields not supported or not enforced yet, conflicts). */
  get warnings(): readonly string[] {
    return this.#compiled.warnings;
  }

  /**
   * Validates and applies a new set of inline resources (objects or YAML text) in place
   * of the ones given to `createMesh`, together with the files and sources. Throws
   * `InvalidConfigError` and changes nothing when the result is invalid.
   */
  applyConfig(config: string | object | readonly (string | object)[]): void {
    const inputs = readConfigInputs(Array.isArray(config) ? config : [config as string | object]);
    if (inputs.files.length > 0 || inputs.sources.length > 0) {
      throw new TypeError('applyConfig takes resource objects or YAML text; pass files and config sources to createMesh');
    }
    this.#apply(compileConfig([...inputs.inline, ...this.#sourceEntriesFlat()], this.#namer, this.#options.labels, this.#configCache), 'applyConfig');
    this.#inline = inputs.inline;
  }

  #configEntries(): ConfigEntry[] {
    return [...this.#inline, ...this.#sourceEntriesFlat()];
  }

  #sourceEntriesFlat(): ConfigEntry[] {
    return [...this.#sourceEntries.values()].flat();
  }

  /** Watches files and config sources; each change is validated with the rest and applied, or reported. */
  #watchConfigSources(): void {
    const all: ConfigSource[] = [...this.#configInputs.files, ...this.#configInputs.sources];
    for (const source of all) {
      const onError = (error: Error): void => void this.emit('configError', error, source.name);
      source.on('error', onError);
      const watch = source.watch((resources) => {
        const located = source instanceof FileConfigSource ? source.located : resources.map((resource, i) => ({ resource, origin: `${source.name}#${i + 1}` }));
        const previous = this.#sourceEntries.get(source);
        this.#sourceEntries.set(source, located);
        try {
          this.#apply(compileConfig(this.#configEntries(), this.#namer, this.#options.labels, this.#configCache), source.name);
        } catch (error) {
          // Keep the last good config: restore this source's previous resources.
          if (previous) this.#sourceEntries.set(source, previous);
          else this.#sourceEntries.delete(source);
          this.emit('configError', error as Error, source.name);
        }
      });
      this.#configWatches.push({ close: () => { watch.close(); source.off('error', onError); } });
    }
  }

  /** Swaps a compiled config in: routes, ServiceEntries and every service's policy at once. */
  #apply(compiled: CompiledConfig, source: string): void {
    this.#compiled = compiled;
    this.#configCache.commit();
    this.#serviceEntries.setEntries(compiled.config.serviceEntries);
    for (const service of this.#services.values()) service.applyPolicy(this.#policyFor(service.name, service.name.port, service.subset));
    this.dispatcher.forgetRoutes();
    this.emit('configApplied', { source, resources: compiled.resources, warnings: compiled.warnings });
  }

  /** The balancer and subset filter a service gets from the config in force. */
  #policyFor(name: ServiceName, port: number, subset: string | undefined): ServicePolicy {
    const query = { ...name, port };
    if (this.#serviceEntries.answer(query)?.passthrough) return { balancer: undefined, balancerKey: 'passthrough', subsetLabels: undefined };
    const resolved = resolvePolicy(this.#compiled.config.destinationRules.get(name.fqdn), port, subset);
    const settings = resolved.loadBalancer;
    const subsetLabels = resolved.subsetDefined ? resolved.subsetLabels : { 'proxyless.dev/undefined-subset': subset! };
    const limits = connectionPoolLimits(resolved.connectionPool);
    const rule = this.#compiled.config.destinationRules.get(name.fqdn);
    const retryBudget = rule ? retryBudgetSettings(rule.resource.metadata.annotations, rule.where) : undefined;
    const healthSpec = rule ? annotationValue(rule.resource.metadata.annotations, HEALTH_CHECK_ANNOTATION, rule.where) : undefined;
    const healthCheck = healthSpec === undefined ? undefined : healthCheckSettings(healthSpec, rule!.where);
    const breakerSpec = rule ? annotationValue(rule.resource.metadata.annotations, CIRCUIT_BREAKER_ANNOTATION, rule.where) : undefined;
    const breaker = breakerSpec === undefined ? undefined : breakerSettings(breakerSpec, rule!.where);
    const common = { subsetLabels, limits, retryBudget, outlier: outlierSettings(resolved.outlierDetection), healthCheck, breaker };
    if (settings?.simple === 'PASSTHROUGH') return { balancer: undefined, balancerKey: 'passthrough', ...common };
    return { balancer: balancerFromSettings<EndpointState>(settings ?? {}), balancerKey: JSON.stringify(settings ?? {}), ...common };
  }

  /**
   * What the mesh would do with a request, and why, without sending it: the
   * VirtualService and route that match (and which did not, for the first few), the
   * destinations with their shares, subsets and balancers, the candidate endpoints with
   * their load, and the policies that apply.
   */
  explain(url: string, init?: { method?: string; headers?: Record<string, string> }): Promise<Explanation> {
    return explainRequest(
      {
        name: (host) => this.#namer.name(host),
        virtualService: (name) => this.#compiled.routes.lookup(name),
        service: (name, port, secure, subset) => this.#service(name, port, secure, subset),
        destinationRuleFor: (fqdn) => this.#compiled.config.destinationRules.get(fqdn)?.where,
        discoveryTimeout: this.#options.discoveryTimeout,
      },
      url,
      init,
    );
  }

  /** Forwards a breaker's transitions as mesh events, and restores an imported state. */
  #watchBreaker(service: MeshService, breaker: ServiceBreaker): void {
    const name = `${service.name.fqdn}:${service.name.port}`;
    breaker.events.on('open', (e) => void this.emit('circuitOpen', { service: name, openedAt: e.openedAt, retryAt: e.retryAt } satisfies CircuitEvent));
    breaker.events.on('halfOpen', () => void this.emit('circuitHalfOpen', { service: name }));
    breaker.events.on('close', () => void this.emit('circuitClose', { service: name }));
    const saved = this.#breakerSnapshots.get(name);
    if (saved !== undefined) {
      this.#breakerSnapshots.delete(name);
      breaker.importState(saved);
    }
  }

  /**
   * Every circuit breaker's state as JSON, keyed by `fqdn:port`, to save before a
   * restart and give to {@link Mesh.restoreCircuitBreakers} in the new process.
   */
  circuitBreakers(): Record<string, BreakerSnapshot> {
    const out: Record<string, BreakerSnapshot> = {};
    for (const service of this.#services.values()) {
      if (service.breaker) out[`${service.name.fqdn}:${service.name.port}`] = service.breaker.exportState();
    }
    return out;
  }

  /**
   * Starts breakers from saved states (from {@link Mesh.circuitBreakers}): each applies
   * when its service is first used, so a restarted process does not hammer a service
   * its predecessor had cut off.
   */
  restoreCircuitBreakers(state: Record<string, unknown>): void {
    for (const [name, snapshot] of Object.entries(state)) this.#breakerSnapshots.set(name, snapshot);
  }

  /**
   * The VirtualService bound to a host, compiled (for benchmarks and tests).
   * @internal
   */
  virtualServiceFor(host: string): CompiledVirtualService | undefined {
    return this.#compiled.routes.lookup(this.#namer.name(host));
  }

  /**
   * WHATWG `fetch` through the mesh: `await mesh.fetch('http://reviews/api/1')`. It is
   * the platform's own `fetch` with the mesh as dispatcher, so it takes what the global
   * `fetch` takes (and undici's `Request`) and returns the platform's `Response`.
   * `init.dispatcher` is ignored: the mesh is the dispatcher. Bound: pass it where a
   * library wants a `fetch`.
   */
  readonly fetch: MeshFetch = (input, init) => meshFetch(this.dispatcher, input, init);

  /** Resolves once every discovery and config source has its first answer. */
  async ready(): Promise<void> {
    await Promise.all([...this.#discovery.map((s) => s.ready()), ...this.#configInputs.sources.map((s) => s.ready())]);
  }

  /** Each discovery source's state: last refresh, last error, counts (ServiceEntries first). */
  sources(): DiscoverySourceState[] {
    return this.#discovery.map((s) => s.state());
  }

  /** The services this mesh has routed to so far, with their endpoints and load. */
  services(): ServiceSnapshot[] {
    const now = performance.now();
    return [...this.#services.values()].map((s) => ({
      name: s.name.fqdn,
      port: s.name.port,
      subset: s.subset,
      status: s.status,
      balancer: s.balancerName,
      endpoints: s.endpoints().map((e) => ({
        key: e.key,
        weight: e.weight,
        labels: e.labels,
        available: e.available,
        pending: e.load.pending,
        failures: e.load.failures,
        cost: e.load.cost(now),
      })),
    }));
  }

  /**
   * Refuses new requests, lets in-flight ones finish within `closeGracePeriod`, then
   * closes every pool and discovery source. Requests still running after the grace
   * period fail with `PROXYLESS_ERR_CLOSE_TIMEOUT`. Safe to call more than once.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    const grace = this.#options.closeGracePeriod;
    const clean = await this.dispatcher.drain(grace);
    await this.#shutdown(clean ? undefined : new MeshClosingError(grace));
  }

  async #shutdown(error: Error | undefined): Promise<void> {
    this.#releaseStallClock();
    void this.dispatcher.drain(0);
    const services = [...this.#services.values()];
    if (error) await Promise.all(services.map((s) => s.destroy(error)));
    await Promise.all([
      ...services.map((s) => s.close()),
      this.dispatcher.closePassthrough(error),
      ...this.#discovery.map((s) => s.close()),
      ...this.#configInputs.files.map((s) => s.close()),
      ...this.#configInputs.sources.map((s) => s.close()),
    ]);
    for (const watch of this.#configWatches) watch.close();
    for (const [source, listener] of this.#sourceErrorListeners) source.off('error', listener);
  }

  /** The service for a name, port, scheme and subset: one each, as Envoy's clusters. */
  #service(serviceName: ServiceName, port: number, secure: boolean, subset?: string): MeshService {
    const key = `${secure ? 'https' : 'http'}://${serviceName.fqdn}:${port}/${subset ?? ''}`;
    let service = this.#services.get(key);
    if (service) return service;
    if (this.#services.size >= MAX_SERVICES) this.#forgetUnknownServices();
    const query = { host: serviceName.host, fqdn: serviceName.fqdn, names: serviceName.names, port, subset };
    const policy = this.#policyFor(serviceName, port, subset);
    service = new MeshService(this.#serviceContext(serviceName, secure, policy.limits), query, this.#discovery, policy);
    this.#services.set(key, service);
    return service;
  }

  /**
   * The context a service's endpoints are built with: pool options with the
   * DestinationRule's connection settings (they apply to pools made from then on), and
   * TLS for https:// URLs, verified against the logical host name (sent as SNI).
   */
  #serviceContext(name: ServiceName, secure: boolean, limits: ConnectionPoolLimits | undefined): ServiceContext {
    if (!secure && !limits) return this.#context;
    const base = this.#context.poolOptions;
    return {
      ...this.#context,
      secure,
      poolOptions: {
        ...base,
        connections: limits?.maxConnectionsPerEndpoint ?? base.connections,
        connectTimeout: limits?.connectTimeoutMs ?? base.connectTimeout,
        keepAliveTimeout: limits?.idleTimeoutMs ?? base.keepAliveTimeout,
        ...(limits?.maxRequestsPerConnection !== undefined ? { maxRequestsPerClient: limits.maxRequestsPerConnection } : {}),
        ...(secure ? { connect: { servername: name.host } } : {}),
      },
    };
  }

  /** Bounds memory when a program calls many hosts no source knows (pass-through). */
  #forgetUnknownServices(): void {
    for (const [key, service] of this.#services) {
      if (service.status === 'missing') {
        void service.close();
        this.#services.delete(key);
      }
    }
    this.dispatcher.forgetRoutes();
  }
}
