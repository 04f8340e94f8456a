import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import * as z from 'zod';
import { InvalidOptionError, MeshNotReadyError } from '../core/errors/index.js';
import { formatIssues } from '../core/validate.js';
import type { InboundExchange } from './exchange.js';
import { InFlightSet } from './in-flight.js';

/**
 * Graceful drain, as Istio's agent and Envoy drain a pod: readiness fails at once, the
 * registrations are removed, and after `delay` (Istio's `terminationDrainDuration`) the
 * servers stop accepting; requests in flight get `grace` to finish; the outbound mesh
 * closes last, so handlers can still call out while they finish.
 */
export interface DrainOptions {
  /** Time between the start of the drain and the servers no longer accepting, in ms: 0 to 3600000. Default 5000 (Istio's). */
  delay?: number;
  /** Time requests in flight get to finish once the servers stopped accepting, in ms: 0 to 3600000. Default 20000. */
  grace?: number;
  /**
   * Signals that start a drain (`['SIGTERM', 'SIGINT']`). Default none: call
   * `mesh.drain()` yourself. The handler is removed at the first signal, so a second one
   * ends the process the default way. The process is not exited: it ends by itself once
   * the servers and the mesh are closed and nothing else keeps it alive.
   */
  signals?: readonly ('SIGTERM' | 'SIGINT' | 'SIGHUP')[];
}

/** A registration the drain removes first and readiness waits for (`register()` of `@proxyless/etcd`). */
export interface DrainRegistration {
  /** Resolves once registered; readiness waits for it. */
  ready?(): Promise<unknown>;
  /** Deregisters. */
  close(): Promise<unknown>;
}

/** What a lifecycle needs of the mesh. */
export interface LifecycleMesh {
  /** Resolves once every discovery and config source answered (rejects after `timeout` ms). */
  ready(options?: { timeout?: number }): Promise<void>;
  /** Closes the outbound side: called last in a drain. */
  close(): Promise<void>;
}

/** What a finished drain reports. */
export interface DrainedInfo {
  /** Requests still running when the grace ended, whose connections were closed. */
  readonly cut: number;
}

/** Lifecycle events. */
export interface LifecycleEvents {
  /** A drain started: readiness fails from now on. */
  draining: [];
  /** The servers stopped accepting. */
  stopAccepting: [];
  /** The drain finished: servers closed, mesh closed. `cut` requests were still running when the grace ended. */
  drained: [info: DrainedInfo];
  /** Something went wrong on the way (a registration that could not be removed, a server close error); the drain goes on. */
  error: [error: Error];
}

const ms = z
  .number({ error: (issue) => (issue.code === 'invalid_type' ? 'a whole number of milliseconds' : undefined) })
  .int({ error: 'a whole number of milliseconds' })
  .min(0)
  .max(3_600_000);
const drainSchema = z.strictObject({
  delay: ms.optional(),
  grace: ms.optional(),
  signals: z.array(z.enum(['SIGTERM', 'SIGINT', 'SIGHUP'])).max(3).optional(),
});

/** Checks {@link DrainOptions}; throws `InvalidOptionError` naming each problem. */
export function checkDrainOptions(options: unknown, where: string, root = 'drain'): DrainOptions {
  const result = drainSchema.safeParse(options, { reportInput: true });
  if (!result.success) throw new InvalidOptionError(where, formatIssues(result.error.issues, root));
  return result.data;
}

/** The state of a workload as its health endpoints report it. */
export type LifecycleState = 'starting' | 'ready' | 'draining' | 'drained';

/**
 * One per mesh: readiness (discovery sources answered, registrations done, not draining),
 * requests in flight across every inbound of the mesh, the servers to stop, and the drain.
 */
export class MeshLifecycle extends EventEmitter<LifecycleEvents> {
  readonly #mesh: LifecycleMesh;
  #sourcesReady = false;
  #sourcesProblem: string | undefined = 'waiting for the discovery and config sources to answer';
  readonly #registrations = new Set<DrainRegistration>();
  #pendingRegistrations = 0;
  readonly #servers = new Set<Server>();
  readonly #inFlight = new InFlightSet<InboundExchange>();
  #delay = 5000;
  #grace = 20_000;
  #configuredDelay = false;
  #configuredGrace = false;
  readonly #signals = new Map<string, () => void>();
  #draining: Promise<void> | undefined;
  #drained = false;
  #idle: (() => void) | undefined;

  /** @param mesh the mesh whose readiness and close it follows */
  constructor(mesh: LifecycleMesh) {
    super();
    this.#mesh = mesh;
    this.#waitForSources();
  }

  /** Readiness: ready, or still starting, draining or drained. */
  get state(): LifecycleState {
    if (this.#drained) return 'drained';
    if (this.#draining) return 'draining';
    return this.#sourcesReady && this.#pendingRegistrations === 0 ? 'ready' : 'starting';
  }

  /** Why the workload is not ready, in words; undefined when it is. */
  notReadyReason(): string | undefined {
    if (this.#drained) return 'drained';
    if (this.#draining) return 'draining';
    if (!this.#sourcesReady) return this.#sourcesProblem;
    if (this.#pendingRegistrations > 0) return `${this.#pendingRegistrations} registration(s) not done yet`;
    return undefined;
  }

  /** Requests in flight across the mesh's inbounds. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** True from the start of a drain. */
  get draining(): boolean {
    return this.#draining !== undefined;
  }

  /** Merges one inbound's drain settings: the longest delay and grace win; signals add up. */
  configure(options: DrainOptions): void {
    if (options.delay !== undefined) {
      this.#delay = this.#configuredDelay ? Math.max(this.#delay, options.delay) : options.delay;
      this.#configuredDelay = true;
    }
    if (options.grace !== undefined) {
      this.#grace = this.#configuredGrace ? Math.max(this.#grace, options.grace) : options.grace;
      this.#configuredGrace = true;
    }
    for (const signal of options.signals ?? []) {
      if (this.#signals.has(signal)) continue;
      const onSignal = (): void => {
        for (const [name, listener] of this.#signals) process.off(name, listener);
        this.#signals.clear();
        void this.drain();
      };
      this.#signals.set(signal, onSignal);
      process.on(signal, onSignal);
    }
  }

  /** Adds a registration: readiness waits for its `ready()`, a drain removes it first. */
  addRegistration(registration: DrainRegistration): void {
    if (registration === null || typeof registration !== 'object' || typeof registration.close !== 'function') {
      throw new InvalidOptionError('addRegistration', [`registration: ${String(registration)} (expected: an object with close(), such as register() of @proxyless/etcd)`]);
    }
    if (this.#registrations.has(registration)) return;
    this.#registrations.add(registration);
    if (typeof registration.ready !== 'function') return;
    this.#pendingRegistrations++;
    Promise.resolve()
      .then(() => registration.ready!())
      .then(
        () => this.#pendingRegistrations--,
        (error: unknown) => {
          this.#pendingRegistrations--;
          this.#report(error);
        },
      );
  }

  /** Adds a server the drain stops (node:http or https, or the one under Express or Fastify). */
  addServer(server: Server): void {
    if (this.#servers.has(server)) return;
    this.#servers.add(server);
    // A server attached after the servers stopped accepting stops at once.
    if (this.#stopped) this.#stop(server);
  }

  /** Forgets a server (it closed by itself). */
  removeServer(server: Server): void {
    this.#servers.delete(server);
  }

  /** A request entered (the `drain` step). During a drain its response will close its connection. */
  enter(exchange: InboundExchange): void {
    this.#inFlight.add(exchange);
    if (this.#draining) closeAfterResponse(exchange);
  }

  /** A request ended. */
  leave(exchange: InboundExchange): void {
    this.#inFlight.delete(exchange);
    if (this.#inFlight.size === 0) this.#idle?.();
  }

  #stopped = false;

  /**
   * Drains (see {@link DrainOptions}); resolves once the mesh is closed. Later calls
   * return the same promise. `options` override the configured delay and grace.
   */
  drain(options: Pick<DrainOptions, 'delay' | 'grace'> = {}): Promise<void> {
    return (this.#draining ??= this.#drain(options.delay ?? this.#delay, options.grace ?? this.#grace));
  }

  async #drain(delay: number, grace: number): Promise<void> {
    for (const [name, listener] of this.#signals) process.off(name, listener);
    this.#signals.clear();
    // Readiness is 503 from here on (state), and responses from now close their connections.
    for (const exchange of this.#inFlight.snapshot()) closeAfterResponse(exchange);
    this.#emitSafely('draining');
    // Registrations first: clients stop picking this workload before it stops accepting.
    await withTimeout(
      Promise.all([...this.#registrations].map((r) => Promise.resolve().then(() => r.close()).catch((error: unknown) => this.#report(error)))),
      grace,
    );
    if (delay > 0) await sleep(delay);
    this.#stopped = true;
    for (const server of this.#servers) this.#stop(server);
    this.#emitSafely('stopAccepting');
    let cut = 0;
    if (this.#inFlight.size > 0) {
      const idle = new Promise<void>((resolve) => (this.#idle = resolve));
      await withTimeout(idle, grace);
      this.#idle = undefined;
      cut = this.#inFlight.size;
    }
    // Whatever still runs past the grace is cut; then nothing keeps a connection open.
    for (const server of this.#servers) server.closeAllConnections?.();
    // The cut requests end as their sockets close (a few ticks): their spans and metrics too.
    if (this.#inFlight.size > 0) {
      const ended = new Promise<void>((resolve) => (this.#idle = resolve));
      await withTimeout(ended, 1000);
      this.#idle = undefined;
    }
    try {
      await this.#mesh.close();
    } catch (error) {
      this.#report(error);
    }
    this.#drained = true;
    this.#emitSafely('drained', { cut });
  }

  #stop(server: Server): void {
    if (server.listening) {
      server.close((error) => {
        if (error && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') this.#report(error);
      });
    }
    // Connections with no request in flight close now (close() does that too since Node 19).
    server.closeIdleConnections?.();
  }

  #waitForSources(): void {
    this.#mesh.ready({ timeout: 2 ** 31 - 1 }).then(
      () => {
        this.#sourcesReady = true;
        this.#sourcesProblem = undefined;
      },
      (error: unknown) => {
        if (error instanceof MeshNotReadyError && !this.#draining) return this.#waitForSources();
        this.#sourcesProblem = `a source failed: ${error instanceof Error ? error.message : String(error)}`;
      },
    );
  }

  #report(error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    if (this.listenerCount('error') > 0) this.#emitSafely('error', e);
    else process.emitWarning(`proxyless drain: ${e.message}`, { code: 'PROXYLESS_W_DRAIN' });
  }

  #emitSafely<K extends keyof LifecycleEvents>(event: K, ...args: LifecycleEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: LifecycleEvents[K]) => boolean)(event, ...args);
    } catch (thrown) {
      process.nextTick(() => {
        throw thrown;
      });
    }
  }
}

/** HTTP/1: the connection closes after this response (Envoy's drain does the same). HTTP/2 has no such header. */
function closeAfterResponse(exchange: InboundExchange): void {
  const res = exchange.res;
  if (res.headersSent || exchange.req.httpVersionMajor >= 2) return;
  res.setHeader('connection', 'close');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const lifecycles = new WeakMap<object, MeshLifecycle>();

/** The lifecycle of a mesh, made on first use. */
export function lifecycleOf(mesh: LifecycleMesh): MeshLifecycle {
  let lifecycle = lifecycles.get(mesh);
  if (lifecycle === undefined) {
    lifecycle = new MeshLifecycle(mesh);
    lifecycles.set(mesh, lifecycle);
  }
  return lifecycle;
}
