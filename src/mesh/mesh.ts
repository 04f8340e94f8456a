import { EventEmitter } from 'node:events';
import { buildConnector } from 'undici';
import { balancerFromSettings } from '../balance/from-load-balancer-settings.js';
import { localityBalancer } from '../balance/locality-balancer.js';
import { localityOfLabels, parseLocality, type LocalityClient } from '../balance/locality.js';
import { ConnectingSockets } from '../core/connecting-sockets.js';
import { IdentityNotReadyError, MeshClosedError, MeshClosingError } from '../core/errors/index.js';
import { emitSafely } from '../core/emit-safely.js';
import { Stack } from '../core/layer.js';
import { compileConfig, serviceNamespaceOf, type CompiledConfig, type ConfigClient } from '../compile/compile-config.js';
import type { EffectiveDestinationRule } from '../config/destination-rule-index.js';
import { ConfigCache } from '../config/config-cache.js';
import { readConfigInputs, type ConfigInputs } from '../config/config-inputs.js';
import type { ConfigEntry } from '../config/load-config.js';
import { resolvePolicy } from '../config/service-policy.js';
import { annotationValue, retryBudgetSettings } from '../config/extensions.js';
import { breakerSettings, CIRCUIT_BREAKER_ANNOTATION, connectionPoolLimits, HEALTH_CHECK_ANNOTATION, healthCheckSettings, outlierSettings } from '../config/settings/index.js';
import type { BreakerSnapshot, ServiceBreaker } from '../policy/breaker/index.js';
import type { ConfigSource } from '../config/types.js';
import { ServiceEntrySource } from '../compile/service-entry-source.js';
import type { ServiceName } from '../discovery/types.js';
import type { CompiledVirtualService } from '../route/route-table.js';
import { explainRequest, type Explanation } from '../route/explain.js';
import { pathSteps, type PathSteps } from '../route/normalize-path.js';
import { ServiceNamer } from '../discovery/service-name.js';
import type { DiscoverySource, DiscoverySourceState } from '../discovery/types.js';
import { FileConfigSource } from '../config/file-config-source.js';
import { abandonHold, acquireSource, releaseSource } from '../discovery/source-holds.js';
import type { EndpointState } from './endpoint-state.js';
import { MeshDispatcher } from './mesh-dispatcher.js';
import { MeshService, type EndpointTransport, type ServiceContext, type ServicePolicy, type ServiceStatus } from './mesh-service.js';
import { endpointConnector, unverifiedTlsWarning } from './endpoint-tls.js';
import { meshFetch, type GlobalFetchDispatcher, type MeshFetch } from './mesh-fetch.js';
import { resolveMeshOptions, type ResolvedMeshOptions } from './options.js';
import { endpointLayers, serviceLayers } from './default-layers.js';
import { policyEventSink, type BudgetExhaustedEvent, type EndpointEvent, type HealthChangedEvent, type HedgeEvent, type RetryEvent } from './policy-event-sink.js';
import { ServiceTable, type ServicesEvictedInfo, type ServiceStats } from './service-table.js';
import { waitForSources, type ReadyOptions } from './wait-for-sources.js';
import { checkDrainOptions, lifecycleOf, type DrainOptions, type DrainRegistration } from '../inbound/lifecycle.js';
import type { InboundConfigView } from '../inbound/rate-limit-config.js';
import type { ConnectionPoolLimits } from '../policy/limits/index.js';
import type { EndpointTarget, MeshOptions, ServiceTarget } from './types.js';
import { MeshSecurity } from '../compile/mesh-security.js';
import { ClientTls } from './client-tls.js';
import { explainInbound, type InboundExplanation, type InboundRequestSpec } from './explain-inbound.js';
import type { ServerResponse } from 'node:http';
import { createMeshServer, type MeshServer, type CreateServerOptions } from '../inbound/mesh-server.js';
import type { MeshIncomingMessage } from '../inbound/types.js';
import type { CompiledSecurity } from '../security/compile-security.js';
import type { DryRunCounters, DryRunResult } from '../security/authorizer.js';
import type { IdentitySource } from '../tls/identity-source.js';
import type { AuthzRequest } from '../security/request-view.js';
import type { SvidSummary } from '../tls/svid.js';
import { OutboundTelemetry } from '../telemetry/outbound-telemetry.js';
import { wireMeshTelemetry } from '../telemetry/mesh-events.js';
import { startAdmin, type AdminOptions, type AdminServer } from '../admin/admin-server.js';
import type { ConfigRecord, MeshAdminView } from '../admin/mesh-view.js';

export type { ServiceStats, ServicesEvictedInfo } from './service-table.js';
export type { ReadyOptions } from './wait-for-sources.js';

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
  /** Requests in flight on it now (a service with none may be evicted, see {@link ServiceStats}). */
  readonly inFlight: number;
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

/** What {@link Mesh.securityStats} reports. */
export interface SecurityStats {
  /** Dry-run AuthorizationPolicy results since the mesh was created (as Envoy's `istio_dry_run_*` counters). */
  readonly dryRun: Readonly<DryRunCounters>;
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
  /** The service table reached `maxServices`: these idle services were evicted (their pools and watches closed). */
  servicesEvicted: [info: ServicesEvictedInfo];
  /**
   * A dry-run AuthorizationPolicy (`istio.io/dry-run: "true"`) was evaluated for a
   * request: what enforcing it would have done. Never enforced; counted in
   * `mesh.securityStats()`. Do not keep `req` (it is reused).
   */
  authorizationDryRun: [result: DryRunResult, req: AuthzRequest];
  /** The workload's identity rotated: new connections (both ways) use the new SVID. */
  identityRotated: [identity: SvidSummary];
  /** The identity source reported a problem; the current SVID stays in use. */
  identityError: [error: Error];
  /** Outlier detection ejected an endpoint. */
  endpointEjected: [info: EndpointEvent];
  /** An ejected endpoint came back. */
  endpointRestored: [info: EndpointEvent];
  /** Active health checking found an endpoint healthy or unhealthy. */
  healthChanged: [info: HealthChangedEvent];
  /** A retry was scheduled after a failed try. */
  retry: [info: RetryEvent];
  /** A hedged (backup) try was sent. */
  hedge: [info: HedgeEvent];
  /** A retry or hedge was wanted and its budget refused it. */
  retryBudgetExhausted: [info: BudgetExhaustedEvent];
}

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
  /** The security resources of the config in force, compiled for this workload, and the identity. */
  readonly #security: MeshSecurity;
  /** Connectors for DestinationRule tls modes and auto mTLS. */
  readonly #clientTls: ClientTls;
  readonly #identityListeners: Array<() => void> = [];
  /** What each resource validated and compiled to, so a reload redoes only what changed. */
  readonly #configCache = new ConfigCache();
  /** The balancers' latency samples leave out this process's stalls while the mesh is open (acquired last in the constructor). */
  readonly #serviceEntries: ServiceEntrySource;
  readonly #discovery: readonly DiscoverySource[];
  readonly #services: ServiceTable;
  readonly #serviceStack: Stack<ServiceTarget>;
  readonly #endpointStack: Stack<EndpointTarget>;
  /** What every service gets from the mesh; {@link Mesh.#serviceContext} adds its own transport. */
  readonly #context: Omit<ServiceContext, 'secure' | 'endpointTransport'>;
  readonly #sourceErrorListeners = new Map<DiscoverySource, (error: Error) => void>();
  /** The sources given by the caller, held from construction until close (see `holdSource`). */
  readonly #heldSources: Array<DiscoverySource | ConfigSource> = [];
  /** Connection attempts of every pool (endpoints and pass-through), ended at once on shutdown. */
  readonly #connecting = new ConnectingSockets();
  #closing: Promise<void> | undefined;
  /** Set when the services are being closed: no service may be made after that. */
  #shutDown = false;
  #shutdownDone: Promise<void> | undefined;
  /** Spans, metrics, access log and diagnostics channels of the calls (src/telemetry). */
  readonly #telemetry: OutboundTelemetry;
  /** The last config version applied, and the last one rejected (for the admin page). */
  #lastApplied: ConfigRecord | undefined;
  #lastRejected: ConfigRecord | undefined;
  /** Admin servers started by {@link Mesh.admin}, closed with the mesh. */
  readonly #admins = new Set<AdminServer>();

  /** Use {@link createMesh}, which validates the options. */
  constructor(options: MeshOptions | undefined) {
    super();
    this.#options = resolveMeshOptions(options);
    const o = this.#options;
    this.#namer = new ServiceNamer(o.namespace, o.clusterDomain);
    this.#services = new ServiceTable(o.maxServices, (service) => this.#keepBreakerState(service));
    this.#telemetry = new OutboundTelemetry(o.telemetry, o.labels, o.namespace);
    // The access log's protocol: what the connections to each upstream negotiated.
    this.#telemetry.protocolOf = (upstream) => this.#connecting.protocolOf(upstream);
    this.#configInputs = readConfigInputs(o.config);
    this.#inline = this.#configInputs.inline;
    for (const file of this.#configInputs.files) this.#sourceEntries.set(file, file.located);
    this.#clientTls = new ClientTls(o.identity);
    this.#security = new MeshSecurity({
      namespace: o.namespace,
      labels: o.labels,
      rootNamespace: o.rootNamespace,
      providers: o.authorization,
      identity: o.identity,
      onDryRun: (result, req) => this.#emitSafely('authorizationDryRun', result, req),
    });
    const first = this.#compileAll(this.#configEntries());
    this.#compiled = first.compiled;
    this.#security.commit(first.security);
    this.#configCache.commit();
    this.#lastApplied = { source: 'createMesh', at: Date.now(), resources: this.#compiled.resources, warnings: this.#compiled.warnings };
    for (const warning of this.warnings) process.emitWarning(warning, { code: 'PROXYLESS_W_CONFIG' });
    // ServiceEntries are a registry too, asked before the user's sources.
    this.#serviceEntries = new ServiceEntrySource(this.#namer);
    this.#serviceEntries.setEntries(this.#compiled.serviceEntries);
    this.#discovery = [this.#serviceEntries, ...o.discovery];

    // Outermost first (default-layers.ts says why each sits where it does). `balance` is
    // terminal: it picks an endpoint and enters its stack; `pool` is the endpoint's.
    const l = serviceLayers;
    this.#serviceStack = new Stack<ServiceTarget>('service', [l.timeout, l.retry, l.hedge, l.breaker, l.limits, l.balance]);
    const e = endpointLayers;
    this.#endpointStack = new Stack<EndpointTarget>('endpoint', [e.telemetry, e.load, e.outlier, e.pool]);
    o.stacks.service?.(this.#serviceStack);
    o.stacks.endpoint?.(this.#endpointStack);

    this.#context = {
      buildServiceStack: (service) => this.#serviceStack.build(service),
      buildEndpointStack: (endpoint: EndpointState) => this.#endpointStack.build(endpoint),
      discoveryTimeout: o.discoveryTimeout,
      mergeSources: o.mergeSources,
      onBreaker: (service, breaker) => this.#watchBreaker(service, breaker),
      onSourceError: (source, error) => this.#emitSafely('discoveryError', error, source.name),
      ...wireMeshTelemetry(this, this.#telemetry, () => this.#services.values()),
      events: policyEventSink(this),
    };
    if (o.pool.tls?.options.rejectUnauthorized === false) process.emitWarning(unverifiedTlsWarning(), { code: 'PROXYLESS_W_TLS_UNVERIFIED' });

    this.dispatcher = new MeshDispatcher({
      service: (name, port, secure, subset) => this.#service(name, port, secure, subset),
      name: (host) => this.#namer.name(host),
      virtualService: (name, port) => this.#compiled.routes.lookup(name, port),
      registryOnly: o.registryOnly,
      discoveryTimeout: o.discoveryTimeout,
      closeGracePeriod: o.closeGracePeriod,
      requestBufferLimit: o.requestBufferLimit,
      // Hosts passed through get the endpoints' connection limit too (not their TLS settings).
      passthroughOptions: {
        connections: o.pool.connections,
        keepAliveTimeout: o.pool.keepAliveTimeout,
        connect: this.#connecting.wrap(buildConnector({ timeout: o.pool.connectTimeout })),
      },
      pathSteps: pathSteps(o.pathNormalization),
      telemetry: this.#telemetry,
    }) as MeshDispatcher & GlobalFetchDispatcher;
    this.dispatcher.onClose = () => this.close();
    this.dispatcher.onDestroy = (error) => this.#shutdown(error ?? new MeshClosingError(0));

    try {
      // Holds the caller's sources (the last mesh to close one closes it; see holdSource).
      for (const source of [...o.discovery, ...this.#configInputs.sources]) {
        acquireSource(source, 'a new mesh');
        this.#heldSources.push(source);
      }
      for (const source of o.discovery) {
        const listener = (error: Error): void => this.#emitSafely('discoveryError', error, source.name);
        source.on('error', listener);
        this.#sourceErrorListeners.set(source, listener);
      }
      this.#watchConfigSources();
      this.#watchIdentity();
    } catch (error) {
      // Nothing of a mesh that failed to construct stays behind: no watch, no listener, no hold.
      for (const watch of this.#configWatches) watch.close();
      for (const stop of this.#identityListeners) stop();
      this.#security.close();
      for (const [source, listener] of this.#sourceErrorListeners) source.off('error', listener);
      for (const source of this.#heldSources) abandonHold(source);
      for (const file of this.#configInputs.files) void file.close();
      this.#telemetry.close();
      throw error;
    }
  }

  /**
   * Follows the identity source: rotations and errors become mesh events; a first SVID
   * (or one of another trust domain) recompiles the security resources, whose principals
   * are read in the workload's trust domain.
   */
  #watchIdentity(): void {
    const identity = this.#options.identity;
    if (identity === undefined) return;
    let trustDomain = this.#security.trustDomain;
    const onRotated = (svid: import('../tls/svid.js').X509Svid): void => {
      if (svid.spiffeId.trustDomain !== trustDomain) {
        trustDomain = svid.spiffeId.trustDomain;
        try {
          this.#apply(this.#compileAll(this.#configEntries()), `identity(${identity.name})`);
        } catch (error) {
          this.#emitSafely('configError', error as Error, `identity(${identity.name})`);
        }
      }
      this.#emitSafely('identityRotated', svid.toJSON());
    };
    const onError = (error: Error): void => this.#emitSafely('identityError', error);
    identity.on('rotated', onRotated);
    identity.on('error', onError);
    this.#identityListeners.push(() => {
      identity.off('rotated', onRotated);
      identity.off('error', onError);
    });
  }

  /**
   * This workload's identity now: its SPIFFE ID, trust domain, validity and serial
   * number (never the key), or undefined when the mesh has no identity source or the
   * source has no SVID yet (await `mesh.identityReady()`).
   */
  identity(): SvidSummary | undefined {
    return this.#options.identity?.current()?.toJSON();
  }

  /** Resolves with the identity once the source has its first SVID (at once if it has one). Rejects without an identity source. */
  async identityReady(options: { readonly timeout?: number } = {}): Promise<SvidSummary> {
    const identity = this.#options.identity;
    if (identity === undefined) throw new IdentityNotReadyError('(none)', 'createMesh({ identity }) was not given an identity source', undefined);
    return (await identity.ready(options)).toJSON();
  }

  /**
   * The security state for the inbound side: identity source and compiled resources.
   *
   * @internal
   */
  inboundSecurity(): { readonly identity: IdentitySource | undefined; readonly security: MeshSecurity; readonly pathSteps: PathSteps } {
    return { identity: this.#options.identity, security: this.#security, pathSteps: pathSteps(this.#options.pathNormalization) };
  }

  /**
   * A node:http server for this workload whose port speaks what PeerAuthentication says
   * (STRICT: mTLS only; PERMISSIVE, the default: mTLS and plaintext on one port; DISABLE:
   * plaintext), with the inbound stack (health, telemetry, identity, authorization,
   * deadline, limits) in front of `listener`. mTLS uses the mesh's identity, rotated
   * without a restart; `req.mesh.peer` is the verified caller.
   *
   * ```ts
   * mesh.createServer(app).listen(8080);                                          // Express
   * Fastify({ serverFactory: (handler) => mesh.createServer(handler, { inbound: false }) }); // with meshPlugin
   * ```
   */
  createServer(listener: (req: MeshIncomingMessage, res: ServerResponse) => unknown, options?: CreateServerOptions): MeshServer {
    return createMeshServer(this, listener, options);
  }

  /**
   * What this workload's server side would do with a request, and why, without serving
   * it: the port's mTLS mode and the PeerAuthentication that set it, then which
   * AuthorizationPolicy allowed or denied it (every policy and rule, the field that
   * failed, with what it wanted and what the request had).
   *
   * ```ts
   * mesh.explainInbound({ url: '/admin', peer: 'spiffe://cluster.local/ns/default/sa/productpage' }).lines;
   * // [ 'mTLS: STRICT on port 80, ...', 'DENIED (403) by DENY policy default/deny-admin, rule 0', ... ]
   * ```
   */
  explainInbound(request: InboundRequestSpec): InboundExplanation {
    return explainInbound(this.#security.current.compiled, request, pathSteps(this.#options.pathNormalization));
  }

  /** Dry-run AuthorizationPolicy results so far (what enforcing them would have done). */
  securityStats(): SecurityStats {
    return { dryRun: { ...this.#security.dryRunCounters } };
  }

  /**
   * Emits a mesh event from inside a source's callback (its timer, socket or file
   * watch). A listener of ours that throws must not unwind into the source and break
   * it: the error is rethrown on its own tick, as an EventEmitter listener's error would
   * surface anyway.
   */
  #emitSafely<K extends keyof MeshEvents>(event: K, ...args: MeshEvents[K]): void {
    emitSafely(this as EventEmitter, event, ...args);
  }

  /** Warnings of the config in force (fields not supported or not enforced yet, conflicts), security resources included. */
  get warnings(): readonly string[] {
    const security = this.#security.current.warnings;
    return security.length === 0 ? this.#compiled.warnings : [...this.#compiled.warnings, ...security];
  }

  /** Validates and compiles a config version: routing and policies, and the security resources for this workload. */
  #compileAll(entries: readonly ConfigEntry[]): { compiled: CompiledConfig; security: CompiledSecurity } {
    const compiled = compileConfig(entries, this.#namer, this.#configClient(), this.#configCache, { unknownFields: this.#options.unknownFields });
    return { compiled, security: this.#security.compile(compiled.config) };
  }

  /**
   * Validates and applies a new set of inline resources (objects or YAML text) in place
   * of the ones given to `createMesh`, together with the files and sources. Throws
   * `InvalidConfigError` and changes nothing when the result is invalid.
   */
  applyConfig(config: string | object | readonly (string | object)[]): void {
    // A closed mesh's services must not remake their health checks, breakers or sweeps.
    if (this.#closing !== undefined || this.#shutDown) throw new MeshClosedError('applyConfig');
    let compiled: { compiled: CompiledConfig; security: CompiledSecurity };
    let inputs: ConfigInputs;
    try {
      inputs = readConfigInputs(Array.isArray(config) ? config : [config as string | object], { inlineOnly: true });
      compiled = this.#compileAll([...inputs.inline, ...this.#sourceEntriesFlat()]);
    } catch (error) {
      // A rejected version (proxyless.config.reloads.rejected, proxyless:config:rejected); the caller gets the error.
      this.#telemetry.configRejected('applyConfig', error);
      this.#rejected('applyConfig', error);
      throw error;
    }
    this.#apply(compiled, 'applyConfig');
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
      const onError = (error: Error): void => this.#emitSafely('configError', error, source.name);
      source.on('error', onError);
      // Closed by the constructor too if a later source's watch() throws (a closed source).
      this.#configWatches.push({ close: () => void source.off('error', onError) });
      const watch = source.watch((resources) => {
        if (this.#closing !== undefined || this.#shutDown) return; // a late reload of a closing mesh changes nothing
        const located = source instanceof FileConfigSource ? source.located : resources.map((resource, i) => ({ resource, origin: `${source.name}#${i + 1}` }));
        const previous = this.#sourceEntries.get(source);
        this.#sourceEntries.set(source, located);
        try {
          this.#apply(this.#compileAll(this.#configEntries()), source.name);
        } catch (error) {
          // Keep the last good config: restore this source's previous resources.
          if (previous) this.#sourceEntries.set(source, previous);
          else this.#sourceEntries.delete(source);
          this.#rejected(source.name, error);
          this.#emitSafely('configError', error as Error, source.name);
        }
      });
      this.#configWatches.push(watch);
    }
  }

  /** Swaps a compiled config in: routes, ServiceEntries and every service's policy at once. */
  #apply({ compiled, security }: { compiled: CompiledConfig; security: CompiledSecurity }, source: string): void {
    this.#compiled = compiled;
    this.#security.commit(security);
    this.#configCache.commit();
    this.#serviceEntries.setEntries(compiled.serviceEntries);
    for (const service of this.#services.values()) service.applyPolicy(this.#policyFor(service.name, service.name.port, service.subset));
    this.dispatcher.forgetRoutes();
    this.#lastApplied = { source, at: Date.now(), resources: compiled.resources, warnings: compiled.warnings };
    // Safely: a listener that throws must not look like an invalid config (it is in force now).
    this.#emitSafely('configApplied', { source, resources: compiled.resources, warnings: this.warnings });
  }

  /** Remembers a rejected config version for the admin page (its message only: the resources stay out). */
  #rejected(source: string, error: unknown): void {
    this.#lastRejected = { source, at: Date.now(), resources: 0, warnings: [], error: error instanceof Error ? error.message : String(error) };
  }

  /**
   * Starts an admin server for this mesh (JSON endpoints, `/dashboard`, `/stats`): on
   * 127.0.0.1 and an ephemeral port by default; another host needs a `token`, and every
   * mutating endpoint needs it too. Closed with the mesh. See docs/admin.md.
   */
  async admin(options: AdminOptions = {}): Promise<AdminServer> {
    if (this.#closing !== undefined || this.#shutDown) throw new MeshClosedError('admin');
    // `/certs` shows the mesh's own identity unless the caller gives another.
    const identity = this.#options.identity;
    const server = await startAdmin(this, options.identity === undefined && identity !== undefined ? { ...options, identity } : options);
    this.#admins.add(server);
    server.onClose = () => this.#admins.delete(server);
    return server;
  }

  /**
   * What the admin module reads: the services themselves, the config in force with its
   * origins, and the last applied and rejected versions.
   *
   * @internal
   */
  adminView(): MeshAdminView {
    return {
      services: () => this.#services.values(),
      entries: () => this.#configEntries(),
      compiled: () => this.#compiled,
      lastApplied: () => this.#lastApplied,
      lastRejected: () => this.#lastRejected,
      namespace: this.#options.namespace,
      closed: () => this.#closing !== undefined || this.#shutDown,
    };
  }

  /** This workload's locality (the `locality` option, else its own labels) and labels, for locality load balancing. */
  get #localityClient(): LocalityClient {
    const o = this.#options;
    return { locality: o.locality === undefined ? localityOfLabels(o.labels) : parseLocality(o.locality), labels: o.labels };
  }

  /** What decides which config resources apply to this mesh. */
  #configClient(): ConfigClient {
    return { labels: this.#options.labels, rootNamespace: this.#options.rootNamespace };
  }

  /** The DestinationRule in force for a service, by Istio's lookup (namespaces, wildcards, merging). */
  #ruleFor(name: Pick<ServiceName, 'host' | 'fqdn'>): EffectiveDestinationRule | undefined {
    const compiled = this.#compiled;
    return compiled.destinationRules.lookup(name.fqdn, name.host, serviceNamespaceOf(name as ServiceName, this.#namer, compiled.serviceEntries));
  }

  /** The balancer and subset filter a service gets from the config in force. */
  #policyFor(name: ServiceName, port: number, subset: string | undefined): ServicePolicy {
    const query = { ...name, port };
    const entry = this.#serviceEntries.answer(query);
    if (entry?.passthrough) return { balancer: undefined, balancerKey: 'passthrough', subsetLabels: undefined };
    const meshExternal = entry?.meshExternal === true;
    const rule = this.#ruleFor(name);
    const resolved = resolvePolicy(rule, port, subset);
    const settings = resolved.loadBalancer;
    const subsetLabels = resolved.subsetDefined ? resolved.subsetLabels : { 'proxyless.dev/undefined-subset': subset! };
    const limits = connectionPoolLimits(resolved.connectionPool);
    const retryBudget = rule ? retryBudgetSettings(rule.annotations, rule.where) : undefined;
    const healthSpec = rule ? annotationValue(rule.annotations, HEALTH_CHECK_ANNOTATION, rule.where) : undefined;
    const healthCheck = healthSpec === undefined ? undefined : healthCheckSettings(healthSpec, rule!.where);
    const breakerSpec = rule ? annotationValue(rule.annotations, CIRCUIT_BREAKER_ANNOTATION, rule.where) : undefined;
    const breaker = breakerSpec === undefined ? undefined : breakerSettings(breakerSpec, rule!.where);
    const common = { subsetLabels, limits, retryBudget, outlier: outlierSettings(resolved.outlierDetection), healthCheck, breaker, meshExternal, tls: resolved.trafficPolicy?.tls };
    if (settings?.simple === 'PASSTHROUGH') return { balancer: undefined, balancerKey: 'passthrough', ...common };
    // Locality failover needs outlier detection, as in Istio (loadbalancer.go: ApplyToCluster).
    const failover = resolved.outlierDetection !== undefined;
    const balancer = localityBalancer<EndpointState>(settings, failover, this.#localityClient, () => balancerFromSettings<EndpointState>(settings ?? {}));
    return { balancer, balancerKey: JSON.stringify({ settings: settings ?? {}, failover }), ...common };
  }

  /**
   * What the mesh would do with a request, and why, without sending it: the
   * VirtualService and route that match (and which did not, for the first few), the
   * destinations with their shares, subsets and balancers, the candidate endpoints with
   * their load, and the policies that apply.
   */
  explain(url: string, init?: { method?: string; headers?: Record<string, string> }): Promise<Explanation> {
    // It makes services (and discovery watches): a closed mesh would never close them.
    if (this.#closing !== undefined || this.#shutDown) return Promise.reject(new MeshClosedError('explain'));
    return explainRequest(
      {
        name: (host) => this.#namer.name(host),
        virtualService: (name, port) => this.#compiled.routes.lookup(name, port),
        service: (name, port, secure, subset) => this.#service(name, port, secure, subset),
        destinationRuleFor: (name) => this.#ruleFor(name)?.where,
        discoveryTimeout: this.#options.discoveryTimeout,
        pathSteps: pathSteps(this.#options.pathNormalization),
      },
      url,
      init,
    );
  }

  /** Forwards a breaker's transitions as mesh events, and restores an imported state. */
  #watchBreaker(service: MeshService, breaker: ServiceBreaker): void {
    const name = `${service.name.fqdn}:${service.name.port}`;
    // Emitted from the breaker's timers: a listener that throws must not break them.
    breaker.events.on('open', (e) => this.#emitSafely('circuitOpen', { service: name, openedAt: e.openedAt, retryAt: e.retryAt } satisfies CircuitEvent));
    breaker.events.on('halfOpen', () => this.#emitSafely('circuitHalfOpen', { service: name }));
    breaker.events.on('close', () => this.#emitSafely('circuitClose', { service: name }));
    const saved = this.#breakerSnapshots.get(name);
    if (saved !== undefined) {
      this.#breakerSnapshots.delete(name);
      try {
        breaker.importState(saved);
      } catch (error) {
        // A snapshot for another spelling of the host, or a malformed one: the breaker
        // starts closed rather than failing the request that made the service.
        process.emitWarning(`${name}: circuit breaker state not restored: ${(error as Error).message}`, { code: 'PROXYLESS_W_BREAKER_STATE' });
      }
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
  virtualServiceFor(host: string, port?: number): CompiledVirtualService | undefined {
    return this.#compiled.routes.lookup(this.#namer.name(host), port);
  }

  /**
   * WHATWG `fetch` through the mesh: `await mesh.fetch('http://reviews/api/1')`. It is
   * the platform's own `fetch` with the mesh as dispatcher, so it takes what the global
   * `fetch` takes (and undici's `Request`) and returns the platform's `Response`.
   * `init.dispatcher` is ignored: the mesh is the dispatcher. Bound: pass it where a
   * library wants a `fetch`.
   */
  readonly fetch: MeshFetch = (input, init) => meshFetch(this.dispatcher, input, init);

  /**
   * `await using mesh = createMesh(...)`: the mesh closes (as {@link Mesh.close}) when
   * the block that holds it ends.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Resolves once every discovery and config source has its first answer. Rejects with
   * `MeshNotReadyError` naming the sources still silent after `timeout` ms (default: the
   * `discoveryTimeout` option), with the signal's reason when `signal` aborts, and with a
   * source's own error when its `ready()` rejects (e.g. `SourceClosedError`).
   */
  ready(options: ReadyOptions = {}): Promise<void> {
    return waitForSources([...this.#discovery, ...this.#configInputs.sources], options, this.#options.discoveryTimeout);
  }

  /**
   * Drains this workload, as a pod drains on SIGTERM: `/healthz/ready` answers 503 at
   * once, registrations ({@link Mesh.addRegistration}) are removed, and after `delay` ms
   * (default 5000, Istio's `terminationDrainDuration`) the servers of its inbounds stop
   * accepting; requests in flight get `grace` ms (default 20000) to finish, their
   * responses closing their connections; then the mesh closes (last, so handlers can
   * still call out). Defaults come from the inbounds' `drain` options. Later calls return
   * the same promise.
   */
  drain(options: Pick<DrainOptions, 'delay' | 'grace'> = {}): Promise<void> {
    return lifecycleOf(this).drain(checkDrainOptions(options, 'mesh.drain', 'options'));
  }

  /**
   * A registration of this workload (`register()` of `@proxyless/etcd`, or anything with
   * `close()` and optionally `ready()`): readiness waits for it, and a drain removes it
   * first, so callers stop picking this workload before it stops accepting.
   */
  addRegistration(registration: DrainRegistration): void {
    lifecycleOf(this).addRegistration(registration);
  }

  /**
   * The config in force as the inbound side reads it.
   *
   * @internal
   */
  inboundConfig(): InboundConfigView {
    return { namespace: this.#options.namespace, labels: this.#options.labels, telemetry: this.#options.telemetry, localRateLimits: this.#compiled.config.localRateLimits };
  }

  /** The service table's size, its bound and how many services were evicted (see `maxServices`). */
  serviceStats(): ServiceStats {
    return this.#services.stats();
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
      inFlight: s.inFlight,
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

  /**
   * Closes everything, once: `destroy()` and `close()` may both come (undici's idiom,
   * or a close that took too long), and a second run would release the sources' holds
   * again, closing a source under another mesh that still holds it.
   */
  #shutdown(error: Error | undefined): Promise<void> {
    return (this.#shutdownDone ??= this.#shutdownOnce(error));
  }

  async #shutdownOnce(error: Error | undefined): Promise<void> {
    this.#shutDown = true;
    this.#telemetry.close();
    void this.dispatcher.drain(0);
    // Whatever still runs (requests past the grace period, mirrored copies, requests
    // waiting for discovery or an endpoint) ends now, each caller answered at once.
    const reason = error ?? new MeshClosingError(this.#options.closeGracePeriod);
    this.dispatcher.cancelAll(reason);
    const services = [...this.#services.values()];
    // Every call has ended: what a pool still holds is a try whose caller was answered
    // (cancelled while it waited for a connection), which a pool's close() would wait for
    // until the attempt ends (up to connectTimeout). Pools are destroyed instead, and
    // attempts still connecting are ended: close() takes no longer than its grace period.
    await Promise.all(services.map((s) => s.destroy(reason)));
    this.#connecting.destroyAll(reason);
    // Stop listening before releasing: a source another mesh still holds keeps running.
    for (const watch of this.#configWatches) watch.close();
    for (const stop of this.#identityListeners) stop();
    this.#security.close();
    for (const [source, listener] of this.#sourceErrorListeners) source.off('error', listener);
    // Everything is closed before close() settles, even when a source's close() throws:
    // the first such error is then the outcome (Promise.all would settle at it, with pools
    // and other sources still closing).
    const outcomes = await Promise.allSettled([
      ...[...this.#admins].map((a) => a.close()),
      ...services.map((s) => s.close()),
      this.dispatcher.closePassthrough(reason),
      this.#serviceEntries.close(),
      // The files this mesh opened are its own; the caller's sources close with their last holder.
      ...this.#configInputs.files.map((s) => s.close()),
      ...this.#heldSources.map((s) => releaseSource(s)),
      // The identity source given to this mesh closes with it (its timers and file watches).
      ...(this.#options.identity !== undefined ? [this.#options.identity.close()] : []),
    ]);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * The service for a name, port, scheme and subset: one each, as Envoy's clusters.
   * Throws when a source cannot watch it (`SourceClosedError`, `DiscoverySourceError`);
   * nothing of the failed service stays behind, so the next request tries again.
   */
  #service(serviceName: ServiceName, port: number, secure: boolean, subset?: string): MeshService {
    const key = `${secure ? 'https' : 'http'}://${serviceName.fqdn}:${port}/${subset ?? ''}`;
    let service = this.#services.get(key);
    if (service) return service;
    // After shutdown nothing would close it (its watches, pools and timers would leak).
    if (this.#shutDown) throw new MeshClosedError();
    const evicted = this.#services.makeRoom();
    if (evicted.length > 0) {
      // Cached routes may point at evicted services: route again on the next request.
      this.dispatcher.forgetRoutes();
      this.#emitSafely('servicesEvicted', { services: evicted, remaining: this.#services.size, maxServices: this.#options.maxServices });
    }
    const query = { host: serviceName.host, fqdn: serviceName.fqdn, names: serviceName.names, port, subset };
    const policy = this.#policyFor(serviceName, port, subset);
    service = new MeshService(this.#serviceContext(serviceName, secure), query, this.#discovery, policy);
    this.#services.add(key, service);
    return service;
  }

  /** What a service needs from the mesh, with the transport to its endpoints (TLS for https:// URLs). */
  #serviceContext(name: ServiceName, secure: boolean): ServiceContext {
    return {
      ...this.#context,
      secure,
      endpointTransport: (limits) => this.#endpointTransport(name, secure, limits),
      // http:// services: the mesh decides per connection whether to originate (m)TLS.
      endpointConnector: secure
        ? undefined
        : (endpoint, service, base, timeoutMs) => {
            const target = { fqdn: name.fqdn, port: service.name.port, subset: service.subset, namespace: serviceNamespaceOf(name, this.#namer, this.#compiled.serviceEntries) };
            return this.#connecting.wrap(this.#clientTls.endpointConnector(() => endpoint.labels, target, () => service.tlsPolicy, base as buildConnector.connector, timeoutMs));
          },
    };
  }

  /** An evicted service's open or half-open breaker comes back with it (a bounded map: oldest dropped first). */
  #keepBreakerState(service: MeshService): void {
    const breaker = service.breaker;
    if (!breaker || breaker.state() === 'closed') return;
    const name = `${service.name.fqdn}:${service.name.port}`;
    this.#breakerSnapshots.delete(name);
    this.#breakerSnapshots.set(name, breaker.exportState());
    if (this.#breakerSnapshots.size > this.#options.maxServices) {
      this.#breakerSnapshots.delete(this.#breakerSnapshots.keys().next().value!);
    }
  }

  /**
   * How a service's endpoints connect, for the DestinationRule connection settings in
   * force (a reload applies them to pools made from then on): `endpointPool` overridden
   * by `connectionPool`, and for https:// URLs TLS with `endpointPool.tls`, verified
   * against the logical host name (sent as SNI) unless `tls.servername` says otherwise.
   * The health checks of https:// services use the same connector.
   */
  #endpointTransport(name: ServiceName, secure: boolean, limits: ConnectionPoolLimits | undefined): EndpointTransport {
    const pool = this.#options.pool;
    const connectTimeout = limits?.connectTimeoutMs ?? pool.connectTimeout;
    // Attempts are tracked so that shutdown can end them (see ConnectingSockets).
    const connector = secure ? this.#connecting.wrap(endpointConnector(pool.tls, name.host, connectTimeout)) : undefined;
    return {
      connector,
      poolOptions: {
        connections: limits?.maxConnectionsPerEndpoint ?? pool.connections,
        connectTimeout,
        keepAliveTimeout: limits?.idleTimeoutMs ?? pool.keepAliveTimeout,
        ...(limits?.maxRequestsPerConnection !== undefined ? { maxRequestsPerClient: limits.maxRequestsPerConnection } : {}),
        connect: connector ?? this.#connecting.wrap(buildConnector({ timeout: connectTimeout })),
      },
    };
  }
}

