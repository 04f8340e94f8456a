import { EventEmitter } from 'node:events';
import { fetch as undiciFetch } from 'undici';
import { balancerFromSettings } from '../balance/from-load-balancer-settings.js';
import { balanceLayer } from '../balance/balance-layer.js';
import { loadLayer } from '../balance/load-layer.js';
import { MeshClosingError } from '../core/errors.js';
import { Stack } from '../core/layer.js';
import { loadConfig, type MeshConfig } from '../config/load-config.js';
import { ServiceNamer } from '../discovery/service-name.js';
import type { DiscoverySource, DiscoverySourceState } from '../discovery/types.js';
import type { EndpointState } from './endpoint-state.js';
import { MeshDispatcher } from './mesh-dispatcher.js';
import { MeshService, type ServiceContext, type ServiceStatus } from './mesh-service.js';
import { resolveMeshOptions, type ResolvedMeshOptions } from './options.js';
import { poolLayer } from './pool-layer.js';
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
  /** Whether discovery knows it. */
  readonly status: ServiceStatus;
  /** The balancer's name, or `passthrough`. */
  readonly balancer: string;
  /** Its endpoints. */
  readonly endpoints: readonly EndpointSnapshot[];
}

/** Typed events of a {@link Mesh}. */
export interface MeshEvents {
  /** A discovery source reported an error; it keeps serving its last known good set. */
  discoveryError: [error: Error, source: string];
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
   * `setGlobalDispatcher(mesh.dispatcher)`.
   */
  readonly dispatcher: MeshDispatcher;
  /** Warnings from loading the config (fields not supported yet, duplicate rules). */
  readonly warnings: readonly string[];
  readonly #options: ResolvedMeshOptions;
  readonly #namer: ServiceNamer;
  readonly #config: MeshConfig;
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
    this.#config = loadConfig(o.config, this.#namer);
    this.warnings = this.#config.warnings;
    for (const warning of this.warnings) process.emitWarning(warning, { code: 'PROXYLESS_W_CONFIG' });

    // Outermost first. `balance` is terminal: it picks an endpoint and enters its stack.
    this.#serviceStack = new Stack<ServiceTarget>('service', [balanceLayer()]);
    this.#endpointStack = new Stack<EndpointTarget>('endpoint', [
      loadLayer(), // outermost at the endpoint, so queueing in the pool counts as load
      poolLayer(), // terminal: the endpoint's undici Pool
    ]);
    o.stacks.service?.(this.#serviceStack);
    o.stacks.endpoint?.(this.#endpointStack);

    this.#context = {
      buildServiceStack: (service) => this.#serviceStack.build(service),
      buildEndpointStack: (endpoint: EndpointState) => this.#endpointStack.build(endpoint),
      discoveryTimeout: o.discoveryTimeout,
      poolOptions: {
        connections: o.pool.connections,
        keepAliveTimeout: o.pool.keepAliveTimeout,
        connectTimeout: o.pool.connectTimeout,
      },
    };

    this.dispatcher = new MeshDispatcher({
      service: (host, port) => this.#service(host, port),
      registryOnly: o.registryOnly,
      discoveryTimeout: o.discoveryTimeout,
      closeGracePeriod: o.closeGracePeriod,
      passthroughOptions: { keepAliveTimeout: o.pool.keepAliveTimeout, connectTimeout: o.pool.connectTimeout },
    });
    this.dispatcher.onClose = () => this.close();
    this.dispatcher.onDestroy = (error) => this.#shutdown(error ?? new MeshClosingError(0));

    for (const source of o.discovery) {
      const listener = (error: Error): void => void this.emit('discoveryError', error, source.name);
      source.on('error', listener);
      this.#sourceErrorListeners.set(source, listener);
    }
  }

  /**
   * WHATWG `fetch` through the mesh: `await mesh.fetch('http://reviews/api/1')`.
   * `init.dispatcher` is ignored: the mesh is the dispatcher.
   */
  readonly fetch = (input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]): ReturnType<typeof undiciFetch> =>
    undiciFetch(input, init === undefined ? { dispatcher: this.dispatcher } : { ...init, dispatcher: this.dispatcher });

  /** Resolves once every discovery source has its first answer. */
  async ready(): Promise<void> {
    await Promise.all(this.#options.discovery.map((s) => s.ready()));
  }

  /** Each discovery source's state: last refresh, last error, counts. */
  sources(): DiscoverySourceState[] {
    return this.#options.discovery.map((s) => s.state());
  }

  /** The services this mesh has routed to so far, with their endpoints and load. */
  services(): ServiceSnapshot[] {
    const now = performance.now();
    return [...this.#services.values()].map((s) => ({
      name: s.name.fqdn,
      port: s.name.port,
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
    void this.dispatcher.drain(0);
    const services = [...this.#services.values()];
    if (error) await Promise.all(services.map((s) => s.destroy(error)));
    await Promise.all([
      ...services.map((s) => s.close()),
      this.dispatcher.closePassthrough(error),
      ...this.#options.discovery.map((s) => s.close()),
    ]);
    for (const [source, listener] of this.#sourceErrorListeners) source.off('error', listener);
  }

  #service(host: string, port: number): MeshService {
    const name = { ...this.#namer.name(host), port };
    const key = `${name.fqdn}:${port}`;
    let service = this.#services.get(key);
    if (service) return service;
    if (this.#services.size >= MAX_SERVICES) this.#forgetUnknownServices();
    const rule = this.#config.destinationRules.get(name.fqdn);
    const settings = rule?.spec.trafficPolicy?.loadBalancer;
    const balancer = settings?.simple === 'PASSTHROUGH' ? undefined : balancerFromSettings<EndpointState>(settings ?? {});
    service = new MeshService(this.#context, name, this.#options.discovery, { balancer });
    this.#services.set(key, service);
    return service;
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
