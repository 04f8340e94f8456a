/**
 * Active HTTP health checks: an opt-in extension (Istio has no such field). A
 * DestinationRule turns them on with the annotation `proxyless.dev/health-check`
 * holding JSON (parsed by `src/config/settings/health-check.ts`); the fields follow Envoy's `config.core.v3.HealthCheck` and its
 * `HttpHealthCheck` (lowerCamel, as Envoy's own JSON mapping spells them), with defaults
 * where Envoy has none. Passive outlier detection still applies on top: a check says
 * whether an endpoint *can* serve, outlier detection whether it *does*.
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


/** What a health checker needs from an endpoint; it writes `healthy`. */
export interface HealthCheckedEndpoint {
  /** Identity, `address:port`; an endpoint given again with the same key keeps its state. */
  readonly key: string;
  /** IP address or host name checked. */
  readonly address: string;
  /** TCP port checked. */
  readonly port: number;
  /** Written by the checker: false once the endpoint failed its checks. */
  healthy: boolean;
}

/** A check's verdict with a short description (`status 500 (expected 200-399)`). */
export interface HealthCheckResult {
  /** Whether the check passed. */
  readonly healthy: boolean;
  /** What was seen, for {@link HealthChecker.status}. */
  readonly detail?: string | undefined;
}

/**
 * A check of one endpoint. Resolving `true` (or `{ healthy: true }`) is a pass;
 * `false`, `{ healthy: false }`, a rejection or a throw is a failure. `signal` aborts when
 * the timeout passes or the endpoint is removed; a check still pending at the timeout
 * counts as failed whether or not it honours the signal.
 */
export type HealthCheckFunction<E> = (endpoint: E, signal: AbortSignal) => Promise<boolean | HealthCheckResult>;

/** The timer functions a checker uses (tests inject fakes). Handles with an `unref()` method are unref'd. */
export interface HealthCheckTimers {
  /** Runs `callback` once after `ms`; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer set by `setTimeout` (a handle already fired or cleared is ignored). */
  clearTimeout(handle: unknown): void;
}

/**
 * Why a health check failed, as Envoy's health check event log names it (`failure_type`):
 * `ACTIVE`, the endpoint answered and the answer failed the check (a status outside
 * `expectedStatuses`, a custom check's `false`); `NETWORK`, no answer (connection refused
 * or reset, a TLS failure, a custom check that threw); `NETWORK_TIMEOUT`, no answer within
 * `timeoutMs`.
 */
export type HealthCheckFailureType = 'ACTIVE' | 'NETWORK' | 'NETWORK_TIMEOUT';

/** Options for {@link HealthChecker}. */
export interface HealthCheckerOptions<E extends HealthCheckedEndpoint> {
  /** Validated settings, from config's `healthCheckSettings` (or `DEFAULT_HEALTH_CHECK_SETTINGS`). */
  readonly settings: HealthCheckSettings;
  /** The service's logical host (`reviews`, `reviews.default.svc.cluster.local`): the Host header unless `settings.host` is set, and the name in warnings. */
  readonly service: string;
  /**
   * Called each time the checker changes an endpoint's `healthy` (after writing it), with
   * what the check that decided it saw (`detail`: `status 503 (expected 200-399)`,
   * `timed out after 1000 ms`, ...) and, when it failed, why (`failure`). Must not throw;
   * an exception is reported as a process warning.
   */
  readonly onChange?: ((endpoint: E, healthy: boolean, result: { readonly detail: string; readonly failure: HealthCheckFailureType | undefined }) => void) | undefined;
  /** Replaces the HTTP check (tests; other protocols). Default: an HTTP request per {@link HealthCheckSettings} on the checker's own undici Agent. */
  readonly check?: HealthCheckFunction<E> | undefined;
  /**
   * Check over TLS (`https://`) with this connector: give the one the service's traffic
   * uses (undici's `buildConnector(...)` with its trust, client certificate and SNI), so
   * the checks see the endpoint as the requests do. Default: plain HTTP.
   */
  readonly tls?:
    | {
        /** The connector of the service's traffic (undici `buildConnector(...)`). */
        readonly connect: buildConnector.connector;
      }
    | undefined;
  /** Timer functions. Default: the global `setTimeout` and `clearTimeout`, looked up at each call. */
  readonly timers?: HealthCheckTimers | undefined;
  /** Uniform random numbers in [0, 1) for jitter. Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** Clock for {@link EndpointHealth.lastCheckedAt}, in ms. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** One endpoint's health as the checker sees it (a snapshot). */
export interface EndpointHealth {
  /** The endpoint's key, `address:port`. */
  readonly key: string;
  /** Whether the endpoint counts as healthy. */
  readonly healthy: boolean;
  /** Checks completed since the endpoint was added. */
  readonly checks: number;
  /** Passing checks in a row (0 after a failure). */
  readonly consecutivePasses: number;
  /** Failing checks in a row (0 after a pass). */
  readonly consecutiveFailures: number;
  /** When the last check completed (`now()`), or undefined before the first. */
  readonly lastCheckedAt: number | undefined;
  /** What the last check saw: `status 200`, `timed out after 1000 ms`, `connect ECONNREFUSED ...`. */
  readonly lastResult: string | undefined;
}

/** Per-endpoint checking state. */
interface Tracked<E> {
  endpoint: E;
  healthy: boolean;
  checks: number;
  passes: number;
  failures: number;
  lastCheckedAt: number | undefined;
  lastResult: string | undefined;
  /** Why the last check failed (undefined after a pass). */
  lastFailure: HealthCheckFailureType | undefined;
  /** The timer for the next check, while waiting. */
  next: unknown;
  /** The timeout timer of the check in flight. */
  deadline: unknown;
  /** Aborts the check in flight. */
  inFlight: AbortController | undefined;
  /** Set once the endpoint is removed or the checker closed: late results are dropped. */
  gone: boolean;
}

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
    return [...this.#tracked.values()].map((t) => ({
      key: t.endpoint.key,
      healthy: t.healthy,
      checks: t.checks,
      consecutivePasses: t.passes,
      consecutiveFailures: t.failures,
      lastCheckedAt: t.lastCheckedAt,
      lastResult: t.lastResult,
    }));
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
    const tracked: Tracked<E> = {
      endpoint,
      healthy: true,
      checks: 0,
      passes: 0,
      failures: 0,
      lastCheckedAt: undefined,
      lastResult: undefined,
      lastFailure: undefined,
      next: undefined,
      deadline: undefined,
      inFlight: undefined,
      gone: false,
    };
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
    const controller = new AbortController();
    tracked.inFlight = controller;
    let settled = false;
    const finish = (healthy: boolean, detail: string, failure: HealthCheckFailureType | undefined): void => {
      if (settled) return;
      settled = true;
      if (tracked.deadline !== undefined) this.#timers.clearTimeout(tracked.deadline);
      tracked.deadline = undefined;
      tracked.inFlight = undefined;
      if (tracked.gone) return;
      this.#record(tracked, healthy, detail, healthy ? undefined : failure);
      if (tracked.gone) return; // onChange may have closed the checker or removed the endpoint
      const { intervalMs, jitter } = this.#settings;
      // Written so rounding never takes it past interval × (1 + jitter).
      this.#schedule(tracked, intervalMs * (1 + this.#random() * jitter));
    };
    const timeoutMs = this.#settings.timeoutMs;
    tracked.deadline = this.#timer(() => {
      tracked.deadline = undefined;
      const detail = `timed out after ${timeoutMs} ms`;
      controller.abort(new Error(`health check of ${tracked.endpoint.key} (${this.#service}) ${detail}`));
      finish(false, detail, 'NETWORK_TIMEOUT');
    }, timeoutMs);
    let pending: Promise<boolean | HealthCheckResult>;
    try {
      pending = Promise.resolve(this.#check(tracked.endpoint, controller.signal));
    } catch (error) {
      pending = Promise.reject(error as Error);
    }
    pending.then(
      (result) => {
        if (typeof result === 'boolean') finish(result, result ? 'passed' : 'failed', 'ACTIVE');
        else finish(result.healthy === true, result.detail ?? (result.healthy === true ? 'passed' : 'failed'), 'ACTIVE');
      },
      (error: unknown) => finish(false, describeError(error), 'NETWORK'),
    );
  }

  #record(tracked: Tracked<E>, passed: boolean, detail: string, failure: HealthCheckFailureType | undefined): void {
    tracked.checks++;
    tracked.lastCheckedAt = this.#now();
    tracked.lastResult = detail;
    tracked.lastFailure = failure;
    const first = tracked.checks === 1;
    if (passed) {
      tracked.failures = 0;
      tracked.passes++;
      if (!tracked.healthy && tracked.passes >= this.#settings.healthyThreshold) {
        tracked.healthy = true;
        this.#write(tracked);
      }
    } else {
      tracked.passes = 0;
      tracked.failures++;
      if (tracked.healthy && (first || tracked.failures >= this.#settings.unhealthyThreshold)) {
        tracked.healthy = false;
        this.#write(tracked);
      }
    }
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
    if (tracked.deadline !== undefined) this.#timers.clearTimeout(tracked.deadline);
    tracked.next = tracked.deadline = undefined;
    tracked.inFlight?.abort(new Error(`health check of ${tracked.endpoint.key} (${this.#service}) stopped: endpoint removed or checker closed`));
    tracked.inFlight = undefined;
  }

  #timer(callback: () => void, ms: number): unknown {
    const handle = this.#timers.setTimeout(callback, ms);
    (handle as { unref?: () => void } | undefined)?.unref?.();
    return handle;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message || (error instanceof AggregateError ? error.errors.map((e: unknown) => describeError(e)).join('; ') : '');
    if (message) return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
    return typeof code === 'string' ? code : error.name;
  }
  return String(error);
}
