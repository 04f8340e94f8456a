import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { buildConnector } from 'undici';
import { startAdmin, type AdminOptions, type AdminServer } from '../admin/admin-server.js';
import type { MeshAdminView } from '../admin/mesh-view.js';
import { ConnectingSockets } from '../core/connecting-sockets.js';
import { emitSafely } from '../core/emit-safely.js';
import { MeshClosedError, MeshClosingError } from '../core/errors/index.js';
import { ServiceNamer } from '../discovery/service-name.js';
import type { DiscoverySourceState } from '../discovery/types.js';
import { checkDrainOptions, lifecycleOf, type DrainOptions, type DrainRegistration } from '../inbound/lifecycle.js';
import { createMeshServer, type MeshServer, type CreateServerOptions } from '../inbound/mesh-server.js';
import type { InboundConfigView } from '../inbound/rate-limit-config.js';
import type { MeshIncomingMessage } from '../inbound/types.js';
import type { BreakerSnapshot } from '../policy/breaker/index.js';
import { explainRequest, type Explanation } from '../route/explain.js';
import { pathSteps } from '../route/normalize-path.js';
import type { CompiledVirtualService } from '../route/route-table.js';
import { wireMeshTelemetry } from '../telemetry/mesh-events.js';
import { OutboundTelemetry } from '../telemetry/outbound-telemetry.js';
import type { SvidSummary } from '../tls/svid.js';
import { ConfigInForce } from './config-in-force.js';
import { unverifiedTlsWarning } from './endpoint-tls.js';
import type { InboundExplanation, InboundRequestSpec } from './explain-inbound.js';
import { HeldSources } from './held-sources.js';
import { MeshDispatcher, type DispatcherContext } from './mesh-dispatcher.js';
import type { MeshEvents, SecurityStats, ServiceSnapshot } from './mesh-events.js';
import { meshFetch, type GlobalFetchDispatcher, type MeshFetch } from './mesh-fetch.js';
import { MeshServices } from './mesh-services.js';
import { MeshShutdown, type ShutdownParts } from './mesh-shutdown.js';
import { resolveMeshOptions, type ResolvedMeshOptions } from './options.js';
import { policyEventSink } from './policy-event-sink.js';
import type { ServiceStats } from './service-table.js';
import type { MeshOptions } from './types.js';
import { waitForSources, type ReadyOptions } from './wait-for-sources.js';
import { WorkloadSecurity } from './workload-security.js';

export type { ServiceStats, ServicesEvictedInfo } from './service-table.js';
export type { ReadyOptions } from './wait-for-sources.js';
export type { EndpointSnapshot, ServiceSnapshot, ConfigAppliedInfo, CircuitEvent, SecurityStats, MeshEvents } from './mesh-events.js';

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
  /** The config in force, its files and sources, and how a new version comes in. */
  readonly #config: ConfigInForce;
  /** The identity, the security resources compiled for this workload, the outbound TLS connectors. */
  readonly #security: WorkloadSecurity;
  /** The services, the ServiceEntries in force and the breakers' states. */
  readonly #services: MeshServices;
  /** The caller's sources, held from construction until close (see `holdSource`). */
  readonly #held: HeldSources;
  /** Connection attempts of every pool (endpoints and pass-through), ended at once on shutdown. */
  readonly #connecting = new ConnectingSockets();
  /** `close()`, `destroy()` and the shutdown they end in. */
  readonly #shutdown: MeshShutdown;
  /** Spans, metrics, access log and diagnostics channels of the calls (src/telemetry). */
  readonly #telemetry: OutboundTelemetry;
  /** Admin servers started by {@link Mesh.admin}, closed with the mesh. */
  readonly #admins = new Set<AdminServer>();
  /** How a URL finds its service: the dispatcher's way, which `explain` follows too. */
  readonly #routing: Pick<DispatcherContext, 'service' | 'name' | 'virtualService' | 'discoveryTimeout' | 'pathSteps'>;
  /**
   * Emits a mesh event from inside a source's callback (timer, socket, file watch): a
   * listener that throws must not unwind into the source; its error is rethrown on its own tick.
   */
  readonly #emit = <K extends keyof MeshEvents>(event: K, ...args: MeshEvents[K]): void => emitSafely(this as EventEmitter, event, ...args);

  /** Use {@link createMesh}, which validates the options. */
  constructor(options: MeshOptions | undefined) {
    super();
    this.#options = resolveMeshOptions(options);
    const o = this.#options;
    this.#namer = new ServiceNamer(o.namespace, o.clusterDomain);
    this.#telemetry = new OutboundTelemetry(o.telemetry, o.labels, o.namespace);
    // The access log's protocol: what the connections to each upstream negotiated.
    this.#telemetry.protocolOf = (upstream) => this.#connecting.protocolOf(upstream);
    this.#security = new WorkloadSecurity(o, this.#emit);
    this.#config = new ConfigInForce({
      namer: this.#namer,
      options: o,
      security: this.#security.security,
      // A new version in force: ServiceEntries, every service's policy and the routes follow it at once.
      swapIn: (compiled) => {
        this.#services.apply(compiled);
        this.dispatcher.forgetRoutes();
      },
      rejectedByCall: (source, error) => this.#telemetry.configRejected(source, error),
      closed: () => this.#shutdown.closed,
      emit: this.#emit,
    });
    for (const warning of this.warnings) process.emitWarning(warning, { code: 'PROXYLESS_W_CONFIG' });
    this.#services = new MeshServices({
      options: o,
      namer: this.#namer,
      config: this.#config,
      connecting: this.#connecting,
      clientTls: this.#security.clientTls,
      hooks: { ...wireMeshTelemetry(this, this.#telemetry, () => this.#services.values()), events: policyEventSink(this) },
      emit: this.#emit,
      shutDown: () => this.#shutdown.shutDown,
      forgetRoutes: () => this.dispatcher.forgetRoutes(),
    });
    if (o.pool.tls?.options.rejectUnauthorized === false) process.emitWarning(unverifiedTlsWarning(), { code: 'PROXYLESS_W_TLS_UNVERIFIED' });
    this.#routing = {
      service: (name, port, secure, subset) => this.#services.service(name, port, secure, subset),
      name: (host) => this.#namer.name(host),
      virtualService: (name, port) => this.#config.compiled.routes.lookup(name, port),
      discoveryTimeout: o.discoveryTimeout,
      pathSteps: pathSteps(o.pathNormalization),
    };
    this.dispatcher = new MeshDispatcher({
      ...this.#routing,
      registryOnly: o.registryOnly,
      closeGracePeriod: o.closeGracePeriod,
      requestBufferLimit: o.requestBufferLimit,
      // Hosts passed through get the endpoints' connection limit too (not their TLS settings).
      passthroughOptions: {
        connections: o.pool.connections,
        keepAliveTimeout: o.pool.keepAliveTimeout,
        connect: this.#connecting.wrap(buildConnector({ timeout: o.pool.connectTimeout })),
      },
      telemetry: this.#telemetry,
    }) as MeshDispatcher & GlobalFetchDispatcher;
    this.#shutdown = new MeshShutdown(o.closeGracePeriod, this.dispatcher, () => this.#shutdownParts());
    this.#held = new HeldSources((error, source) => this.#emit('discoveryError', error, source));
    try {
      // Holds the caller's sources (the last mesh to close one closes it; see holdSource).
      this.#held.hold(o.discovery, this.#config.inputs.sources);
      this.#config.watch();
      this.#security.watchIdentity((source) => this.#config.recompile(source));
    } catch (error) {
      // Nothing of a mesh that failed to construct stays behind: no watch, no listener, no hold.
      this.#config.stopWatching();
      this.#security.close();
      this.#held.abandon();
      void Promise.allSettled(this.#config.closeFiles());
      this.#telemetry.close();
      throw error;
    }
  }

  /**
   * This workload's identity now: its SPIFFE ID, trust domain, validity and serial
   * number (never the key), or undefined when the mesh has no identity source or the
   * source has no SVID yet (await `mesh.identityReady()`).
   */
  identity(): SvidSummary | undefined {
    return this.#security.identity();
  }

  /** Resolves with the identity once the source has its first SVID (at once if it has one). Rejects without an identity source. */
  identityReady(options: { readonly timeout?: number } = {}): Promise<SvidSummary> {
    return this.#security.identityReady(options);
  }

  /**
   * The security state for the inbound side: identity source and compiled resources.
   * @internal
   */
  inboundSecurity(): ReturnType<WorkloadSecurity['inboundSecurity']> {
    return this.#security.inboundSecurity();
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
    return this.#security.explainInbound(request);
  }

  /** Dry-run AuthorizationPolicy results so far (what enforcing them would have done). */
  securityStats(): SecurityStats {
    return this.#security.stats();
  }

  /** Warnings of the config in force (fields not supported or not enforced yet, conflicts), security resources included. */
  get warnings(): readonly string[] {
    return this.#config.warnings;
  }

  /**
   * Validates and applies a new set of inline resources (objects or YAML text) in place
   * of the ones given to `createMesh`, together with the files and sources. Throws
   * `InvalidConfigError` and changes nothing when the result is invalid.
   */
  applyConfig(config: string | object | readonly (string | object)[]): void {
    // A closed mesh's services must not remake their health checks, breakers or sweeps.
    if (this.#shutdown.closed) throw new MeshClosedError('applyConfig');
    this.#config.applyInline(config);
  }

  /**
   * Starts an admin server for this mesh (JSON endpoints, `/dashboard`, `/stats`): on
   * 127.0.0.1 and an ephemeral port by default; another host needs a `token`, and every
   * mutating endpoint needs it too. Closed with the mesh. See docs/admin.md.
   */
  async admin(options: AdminOptions = {}): Promise<AdminServer> {
    if (this.#shutdown.closed) throw new MeshClosedError('admin');
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
   * @internal
   */
  adminView(): MeshAdminView {
    return {
      services: () => this.#services.values(),
      entries: () => this.#config.entries(),
      compiled: () => this.#config.compiled,
      lastApplied: () => this.#config.lastApplied,
      lastRejected: () => this.#config.lastRejected,
      namespace: this.#options.namespace,
      closed: () => this.#shutdown.closed,
    };
  }

  /**
   * What the mesh would do with a request, and why, without sending it: the
   * VirtualService and route that match (and which did not, for the first few), the
   * destinations with their shares, subsets and balancers, the candidate endpoints with
   * their load, and the policies that apply.
   */
  explain(url: string, init?: { method?: string; headers?: Record<string, string> }): Promise<Explanation> {
    // It makes services (and discovery watches): a closed mesh would never close them.
    if (this.#shutdown.closed) return Promise.reject(new MeshClosedError('explain'));
    return explainRequest({ ...this.#routing, destinationRuleFor: (name) => this.#services.ruleFor(name)?.where }, url, init);
  }

  /**
   * Every circuit breaker's state as JSON, keyed by `fqdn:port`, to save before a
   * restart and give to {@link Mesh.restoreCircuitBreakers} in the new process.
   */
  circuitBreakers(): Record<string, BreakerSnapshot> {
    return this.#services.circuitBreakers();
  }

  /**
   * Starts breakers from saved states (from {@link Mesh.circuitBreakers}): each applies
   * when its service is first used, so a restarted process does not hammer a service
   * its predecessor had cut off.
   */
  restoreCircuitBreakers(state: Record<string, unknown>): void {
    this.#services.restoreCircuitBreakers(state);
  }

  /**
   * The VirtualService bound to a host, compiled (for benchmarks and tests).
   * @internal
   */
  virtualServiceFor(host: string, port?: number): CompiledVirtualService | undefined {
    return this.#config.compiled.routes.lookup(this.#namer.name(host), port);
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
    return waitForSources([...this.#services.discovery, ...this.#config.inputs.sources], options, this.#options.discoveryTimeout);
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
   * @internal
   */
  inboundConfig(): InboundConfigView {
    return { namespace: this.#options.namespace, labels: this.#options.labels, telemetry: this.#options.telemetry, localRateLimits: this.#config.compiled.config.localRateLimits };
  }

  /** The service table's size, its bound and how many services were evicted (see `maxServices`). */
  serviceStats(): ServiceStats {
    return this.#services.stats();
  }

  /** Each discovery source's state: last refresh, last error, counts (ServiceEntries first). */
  sources(): DiscoverySourceState[] {
    return this.#services.discovery.map((s) => s.state());
  }

  /** The services this mesh has routed to so far, with their endpoints and load. */
  services(): ServiceSnapshot[] {
    return this.#services.snapshots();
  }

  /**
   * Refuses new requests, lets in-flight ones finish within `closeGracePeriod`, then
   * closes every pool and discovery source. Requests still running after the grace
   * period fail with `PROXYLESS_ERR_CLOSE_TIMEOUT`. Safe to call more than once.
   */
  close(): Promise<void> {
    return this.#shutdown.close();
  }

  /** What a shutdown ends (see mesh-shutdown.ts for the order). */
  #shutdownParts(): ShutdownParts {
    return {
      telemetry: this.#telemetry,
      services: [...this.#services.values()],
      connecting: this.#connecting,
      admins: [...this.#admins],
      stopListening: () => {
        this.#config.stopWatching();
        this.#security.close();
        this.#held.stopListening();
      },
      closeRest: () => [
        this.#services.serviceEntries.close(),
        ...this.#config.closeFiles(),
        ...this.#held.release(),
        ...this.#security.closeIdentitySource(),
      ],
    };
  }
}
