/**
 * The mesh's services: one per scheme, host, port and subset (as Envoy's clusters),
 * made on first use with the policy the config in force gives it and the transport to
 * its endpoints, kept in a bounded table; the ServiceEntries in force, asked before the
 * user's discovery sources; and the services' circuit breakers' states.
 *
 * @module
 */
import type { CompiledConfig } from '../compile/compile-config.js';
import { ServiceEntrySource } from '../compile/service-entry-source.js';
import type { EffectiveDestinationRule } from '../config/destination-rule-index.js';
import { MeshClosedError } from '../core/errors/index.js';
import type { DiscoverySource, ServiceName } from '../discovery/types.js';
import type { BreakerSnapshot } from '../policy/breaker/index.js';
import { BreakerStates } from './breaker-states.js';
import { meshStacks } from './default-layers.js';
import type { EndpointState } from './endpoint-state.js';
import { serviceSnapshot, type MeshEvents, type ServiceSnapshot } from './mesh-events.js';
import { MeshService } from './mesh-service.js';
import type { ResolvedMeshOptions } from './options.js';
import type { ServiceContext } from './service-context.js';
import { ServicePolicies } from './service-policies.js';
import { ServiceTable, type ServiceStats } from './service-table.js';
import { serviceContext, type TransportParts } from './service-transport.js';

/** The events the services emit (safely: from sources' and breakers' callbacks). */
type ServiceEventName = 'discoveryError' | 'servicesEvicted' | 'circuitOpen' | 'circuitHalfOpen' | 'circuitClose';

/** What the services need from their mesh. */
export interface MeshServicesHost extends TransportParts {
  /** The options the services read (bounds, stacks, discovery, locality). */
  readonly options: Pick<ResolvedMeshOptions, 'pool' | 'discovery' | 'discoveryTimeout' | 'mergeSources' | 'maxServices' | 'stacks' | 'locality' | 'labels'>;
  /** What each service reports through: telemetry's hooks and the policy events. */
  readonly hooks: Pick<ServiceContext, 'onSourceRefresh' | 'onHealth' | 'onEjection' | 'events'>;
  /** Emits a mesh event safely. */
  emit<K extends ServiceEventName>(event: K, ...args: MeshEvents[K]): void;
  /** Whether the services are being closed: no service may be made then. */
  shutDown(): boolean;
  /** Services were evicted or their policies changed: cached routes may point at old ones. */
  forgetRoutes(): void;
}

/** See the module comment. */
export class MeshServices {
  /** The ServiceEntries in force, a registry asked before the user's sources. */
  readonly serviceEntries: ServiceEntrySource;
  /** Every discovery source, ServiceEntries first. */
  readonly discovery: readonly DiscoverySource[];
  readonly #host: MeshServicesHost;
  readonly #table: ServiceTable;
  readonly #breakers: BreakerStates;
  readonly #policies: ServicePolicies;
  /** What every service gets from the mesh; {@link serviceContext} adds its own transport. */
  readonly #context: Omit<ServiceContext, 'secure' | 'endpointTransport'>;

  /** @param host the mesh's parts; the ServiceEntries of its config in force are served at once */
  constructor(host: MeshServicesHost) {
    const o = host.options;
    this.#host = host;
    this.serviceEntries = new ServiceEntrySource(host.namer);
    this.serviceEntries.setEntries(host.config.compiled.serviceEntries);
    this.discovery = [this.serviceEntries, ...o.discovery];
    this.#breakers = new BreakerStates(o.maxServices, host.emit);
    this.#table = new ServiceTable(o.maxServices, (service) => this.#breakers.keep(service));
    this.#policies = new ServicePolicies(host.namer, host.config, this.serviceEntries, o);
    const stacks = meshStacks(o.stacks);
    this.#context = {
      buildServiceStack: (service) => stacks.service.build(service),
      buildEndpointStack: (endpoint: EndpointState) => stacks.endpoint.build(endpoint),
      discoveryTimeout: o.discoveryTimeout,
      mergeSources: o.mergeSources,
      onBreaker: (service, breaker) => this.#breakers.watch(service, breaker),
      onSourceError: (source, error) => host.emit('discoveryError', error, source.name),
      ...host.hooks,
    };
  }

  /**
   * The service for a name, port, scheme and subset: one each, as Envoy's clusters.
   * Throws when a source cannot watch it (`SourceClosedError`, `DiscoverySourceError`);
   * nothing of the failed service stays behind, so the next request tries again.
   */
  service(serviceName: ServiceName, port: number, secure: boolean, subset?: string): MeshService {
    const key = `${secure ? 'https' : 'http'}://${serviceName.fqdn}:${port}/${subset ?? ''}`;
    let service = this.#table.get(key);
    if (service) return service;
    // After shutdown nothing would close it (its watches, pools and timers would leak).
    if (this.#host.shutDown()) throw new MeshClosedError();
    const evicted = this.#table.makeRoom();
    if (evicted.length > 0) {
      // Cached routes may point at evicted services: route again on the next request.
      this.#host.forgetRoutes();
      this.#host.emit('servicesEvicted', { services: evicted, remaining: this.#table.size, maxServices: this.#host.options.maxServices });
    }
    const query = { host: serviceName.host, fqdn: serviceName.fqdn, names: serviceName.names, port, subset };
    const policy = this.#policies.policyFor(serviceName, port, subset);
    service = new MeshService(serviceContext(this.#host, this.#context, serviceName, secure), query, this.discovery, policy);
    this.#table.add(key, service);
    return service;
  }

  /** A new config version is in force: its ServiceEntries are served, and every service gets its new policy. */
  apply(compiled: CompiledConfig): void {
    this.serviceEntries.setEntries(compiled.serviceEntries);
    for (const service of this.#table.values()) service.applyPolicy(this.#policies.policyFor(service.name, service.name.port, service.subset));
  }

  /** The DestinationRule in force for a service (for `mesh.explain`). */
  ruleFor(name: Pick<ServiceName, 'host' | 'fqdn'>): EffectiveDestinationRule | undefined {
    return this.#policies.ruleFor(name);
  }

  /** Every service held. */
  values(): IterableIterator<MeshService> {
    return this.#table.values();
  }

  /** See `Mesh.serviceStats`. */
  stats(): ServiceStats {
    return this.#table.stats();
  }

  /** See `Mesh.services`. */
  snapshots(): ServiceSnapshot[] {
    const now = performance.now();
    return [...this.#table.values()].map((s) => serviceSnapshot(s, now));
  }

  /** See `Mesh.circuitBreakers`. */
  circuitBreakers(): Record<string, BreakerSnapshot> {
    return this.#breakers.export(this.#table.values());
  }

  /** See `Mesh.restoreCircuitBreakers`. */
  restoreCircuitBreakers(state: Record<string, unknown>): void {
    this.#breakers.restore(state);
  }
}
