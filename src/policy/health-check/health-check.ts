/**
 * Active HTTP health checks: an opt-in extension (Istio has no such field). A
 * DestinationRule turns them on with the annotation `proxyless.dev/health-check`
 * holding JSON (parsed by `src/config/settings/health-check.ts`); the fields follow Envoy's `config.core.v3.HealthCheck` and its
 * `HttpHealthCheck` (lowerCamel, as Envoy's own JSON mapping spells them), with defaults
 * where Envoy has none. Passive outlier detection still applies on top: a check says
 * whether an endpoint *can* serve, outlier detection whether it *does*.
 *
 * This file schedules the checks; `internal-probe.ts` runs one under its deadline,
 * `internal-endpoint-state.ts` holds an endpoint's counts and the threshold rule, and
 * `internal-health-http-check.ts` is the HTTP request itself.
 *
 * @module
 */
import { buildConnector, type Dispatcher } from 'undici';
import * as z from 'zod';
import { ConnectingSockets } from '../../core/connecting-sockets.js';
import { InvalidOptionError } from '../../core/errors/index.js';
import { checkWithSchema } from '../../core/validate.js';
import { MAX_MS, type HealthCheckSettings } from './settings.js';
import { healthCheckAgent, httpHealthCheck } from './internal-health-http-check.js';
import { healthOf, newTracked, recordCheck, type Tracked } from './internal-endpoint-state.js';
import type { EndpointHealth, HealthCheckedEndpoint, HealthCheckerOptions, HealthCheckFunction, HealthCheckTimers } from './types.js';
import { describeError, startProbe } from './internal-probe.js';


const DEFAULT_TIMERS: HealthCheckTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const settingsShape = z.object({
  path: z.string().startsWith('/'),
  intervalMs: z.number().min(1).max(MAX_MS),
  jitter: z.number().min(0).max(1),
  timeoutMs: z.number().min(1).max(MAX_MS),
  healthyThreshold: z.number().int().min(1),
  unhealthyThreshold: z.number().int().min(1),
  expectedStatuses: z.array(z.object({ start: z.number().int(), end: z.number().int() })).min(1),
  method: z.enum(['GET', 'HEAD']),
  host: z.string().min(1).optional(),
});

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', { error: 'a function' });

const optionsShape = z.object({
  settings: settingsShape,
  service: z.string().min(1),
  onChange: fn.optional(),
  check: fn.optional(),
  tls: z.object({ connect: fn }).optional(),
  timers: z.object({ setTimeout: fn, clearTimeout: fn }).optional(),
  random: fn.optional(),
  now: fn.optional(),
});

/**
 * Active health checks for the endpoints of one service.
 *
 * Each endpoint is checked on its own timer: the first check runs `interval × U·jitter`
 * after the endpoint is added, each next one `interval × (1 + U·jitter)` after the
 * previous one ended (so one endpoint never has two checks in flight). A check that has
 * not answered within `timeout` is aborted and fails.
 *
 * **New endpoints start healthy, and their first check decides.** Envoy marks a host it
 * health-checks as failed until its first check passes (and during cluster warming waits
 * for that round); one pass then makes it healthy without `healthyThreshold`. Here an
 * endpoint takes traffic as soon as discovery reports it, because an in-process mesh has
 * no warming phase and starting unhealthy would make the first requests after start-up
 * wait or fail. To keep Envoy's outcome, the endpoint's first check settles its state at
 * once: a first failure marks it unhealthy without waiting for `unhealthyThreshold`. A
 * dead endpoint therefore takes traffic for at most `interval × jitter + timeout` (2 s
 * with the defaults; passive outlier detection and connect-failure retries cover that
 * window). From then on, `unhealthyThreshold` failures in a row mark it unhealthy and
 * `healthyThreshold` passes in a row healthy again.
 *
 * The checker writes `endpoint.healthy` and calls `onChange` on every change; it does
 * not touch anything else (whoever owns the endpoints decides what unhealthy means for
 * balancing). Checks go through the checker's own undici Agent, never the mesh; for an
 * https:// service give it the service's TLS connector ({@link HealthCheckerOptions.tls})
 * so the checks make the same TLS as the traffic. Timers
 * are unref'd: a checker never keeps a process alive. {@link close} stops everything.
 *
 * @typeParam E the endpoint type; the checker keeps the objects given and writes their `healthy`
 */
export class HealthChecker<E extends HealthCheckedEndpoint> {
  readonly #settings: HealthCheckSettings;
  readonly #service: string;
  readonly #onChange: HealthCheckerOptions<E>['onChange'];
  readonly #check: HealthCheckFunction<E>;
  readonly #timers: HealthCheckTimers;
  /** The timers probes use: unref'd. */
  readonly #probeTimers: HealthCheckTimers = {
    setTimeout: (callback, ms) => this.#timer(callback, ms),
    clearTimeout: (handle) => this.#timers.clearTimeout(handle),
  };
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #tracked = new Map<string, Tracked<E>>();
  #agent: Dispatcher | undefined;
  /** The agent's connection attempts: close() ends them (undici's destroy() leaves them running until connected or timed out). */
  readonly #connecting = new ConnectingSockets();
  #closing: Promise<void> | undefined;

  /** @throws InvalidOptionError when the options are not as documented in {@link HealthCheckerOptions} */
  constructor(options: HealthCheckerOptions<E>) {
    const checked = checkWithSchema(optionsShape, options);
    if (!checked.ok) throw new InvalidOptionError('HealthChecker', checked.problems);
    this.#settings = options.settings;
    this.#service = options.service;
    this.#onChange = options.onChange;
    this.#timers = options.timers ?? DEFAULT_TIMERS;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    const hostHeader = options.settings.host ?? options.service;
    const connect = options.tls?.connect;
    this.#check =
      options.check ??
      ((endpoint, signal) =>
        httpHealthCheck(
          (this.#agent ??= healthCheckAgent(this.#connecting.wrap(connect ?? buildConnector({})))),
          this.#settings,
          hostHeader,
          endpoint,
          signal,
          connect !== undefined,
        ));
  }

  /** The settings in force. */
  get settings(): HealthCheckSettings {
    return this.#settings;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Makes `endpoints` the set checked (keys compared, as discovery updates arrive).
   * Endpoints not seen before are set healthy and scheduled for a first check; those
   * known keep their state (a new object with a known key takes it over, `healthy`
   * written onto it); those missing stop being checked, an in-flight check aborted and
   * its result dropped. Does nothing after {@link close}.
   */
  setEndpoints(endpoints: Iterable<E>): void {
    if (this.closed) return;
    const seen = new Set<string>();
    for (const endpoint of endpoints) {
      seen.add(endpoint.key);
      const tracked = this.#tracked.get(endpoint.key);
      if (!tracked) {
        this.#adopt(endpoint);
      } else if (tracked.endpoint !== endpoint) {
        tracked.endpoint = endpoint;
        if (endpoint.healthy !== tracked.healthy) this.#write(tracked);
      }
    }
    for (const [key, tracked] of this.#tracked) {
      if (!seen.has(key)) {
        this.#stop(tracked);
        this.#tracked.delete(key);
      }
    }
  }

  /** A snapshot of every endpoint checked, in the order they were added. */
  status(): EndpointHealth[] {
    return [...this.#tracked.values()].map(healthOf);
  }

  /**
   * Stops every timer, aborts checks in flight (their results are dropped, `healthy` is
   * left as it is) and closes the checker's undici Agent. Idempotent: every call returns
   * the same promise.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    for (const tracked of this.#tracked.values()) this.#stop(tracked);
    this.#tracked.clear();
    const agent = this.#agent;
    this.#agent = undefined;
    this.#closing = agent ? agent.destroy().catch(() => undefined) : Promise.resolve();
    this.#connecting.destroyAll(new Error(`health checker of "${this.#service}" closed`));
    return this.#closing;
  }

  #adopt(endpoint: E): void {
    const tracked = newTracked(endpoint);
    this.#tracked.set(endpoint.key, tracked);
    if (endpoint.healthy !== true) this.#write(tracked);
    this.#schedule(tracked, this.#settings.intervalMs * (this.#random() * this.#settings.jitter));
  }

  #schedule(tracked: Tracked<E>, ms: number): void {
    tracked.next = this.#timer(() => {
      tracked.next = undefined;
      this.#run(tracked);
    }, ms);
  }

  #run(tracked: Tracked<E>): void {
    if (tracked.gone) return;
    tracked.inFlight = startProbe(this.#check, tracked.endpoint, this.#settings.timeoutMs, this.#probeTimers, `${tracked.endpoint.key} (${this.#service})`, (healthy, detail, failure) => {
      tracked.inFlight = undefined;
      if (tracked.gone) return;
      if (recordCheck(tracked, this.#settings, healthy, detail, failure, this.#now())) this.#write(tracked);
      if (tracked.gone) return; // onChange may have closed the checker or removed the endpoint
      const { intervalMs, jitter } = this.#settings;
      // Written so rounding never takes it past interval × (1 + jitter).
      this.#schedule(tracked, intervalMs * (1 + this.#random() * jitter));
    });
  }


  /** Writes the tracked state onto the endpoint and tells `onChange`. */
  #write(tracked: Tracked<E>): void {
    const endpoint = tracked.endpoint;
    endpoint.healthy = tracked.healthy;
    if (!this.#onChange) return;
    try {
      this.#onChange(endpoint, tracked.healthy, { detail: tracked.lastResult ?? (tracked.healthy ? 'passed' : 'failed'), failure: tracked.healthy ? undefined : tracked.lastFailure });
    } catch (error) {
      process.emitWarning(
        `health checker for "${this.#service}": onChange threw for ${endpoint.key} (healthy: ${tracked.healthy}); checks go on: ${describeError(error)}`,
        { code: 'PROXYLESS_W_HEALTH_CHECK_CALLBACK' },
      );
    }
  }

  #stop(tracked: Tracked<E>): void {
    tracked.gone = true;
    if (tracked.next !== undefined) this.#timers.clearTimeout(tracked.next);
    tracked.next = undefined;
    tracked.inFlight?.stop(new Error(`health check of ${tracked.endpoint.key} (${this.#service}) stopped: endpoint removed or checker closed`));
    tracked.inFlight = undefined;
  }

  #timer(callback: () => void, ms: number): unknown {
    const handle = this.#timers.setTimeout(callback, ms);
    (handle as { unref?: () => void } | undefined)?.unref?.();
    return handle;
  }
}
