/**
 * A service-level circuit breaker (Hystrix-style: error percentage over a rolling window)
 * on opossum, as a service-stack layer with role `breaker`.
 *
 * - {@link breakerSettings} validates our extension's settings, as found in the
 *   DestinationRule annotation {@link CIRCUIT_BREAKER_ANNOTATION} (JSON).
 * - {@link ServiceBreaker} is one opossum breaker per service, plus what opossum lacks:
 *   `halfOpenSuccesses`, outcomes reported when a response starts rather than when a
 *   promise settles, a caller abort counted as neither success nor failure, and a state
 *   snapshot that survives a restart.
 * - {@link breakerLayer} refuses requests at once with {@link CircuitOpenError} while the
 *   breaker is open.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import * as z from 'zod';
import { durationSchema, durationToMs } from '../../config/istio/common.js';
import { InvalidConfigError, InvalidOptionError, ProxylessError } from '../../core/errors.js';
import { classifyFailure } from '../../core/classify-failure.js';
import { failDispatch, ForwardingHandler } from '../../core/forwarding-handler.js';
import { layer, type Layer } from '../../core/layer.js';
import { formatIssues, formatValue } from '../../core/validate.js';
import type { ServiceTarget } from '../../mesh/types.js';
import { CircuitBreaker, type OpossumBreaker, type OpossumOptions, type OpossumStateOption } from './internal-breaker-opossum.js';

type Controller = Dispatcher.DispatchController;

/** The DestinationRule annotation that holds a service's breaker settings, as JSON. */
export const CIRCUIT_BREAKER_ANNOTATION = 'proxyless.dev/circuit-breaker';

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

/**
 * What counts as a failure, in {@link BreakerSettings.failOn}:
 *
 * - `5xx`: a response with status 500..599.
 * - `gateway-error`: a response with status 502, 503 or 504.
 * - `connect-failure`: no connection could be made (`ECONNREFUSED`, `EHOSTUNREACH`,
 *   `ENETUNREACH`, `EHOSTDOWN`, `ENETDOWN`, `ENOTFOUND`, `EAI_AGAIN`, a connect-time
 *   `ETIMEDOUT`, undici's connect timeout, a TLS handshake failure), or it broke before
 *   the request was written to it. These are the classifier's `connect-failure` and
 *   `reset-before-request` (see `src/core/classify-failure.ts`, shared with retries and
 *   outlier detection).
 * - `reset`: the connection broke after the request was written, before the response
 *   started (`ECONNRESET`, `EPIPE`, `ECONNABORTED`, undici's `UND_ERR_SOCKET` "other side
 *   closed", HTTP/2 stream errors including a refused stream, a malformed response).
 * - `timeout`: undici's headers or body timeout, or the mesh's route or per-try timeout
 *   (whichever layer raised it, even when it ended the request through its controller).
 *   A caller's own `AbortSignal.timeout()` is a caller abort, not this.
 * - `error`: any error before the response started, except those that never count (below).
 *
 * A status code 500..599 written as a number counts that status alone. 4xx responses
 * never count as failures: they are the caller's mistakes, not the service's health.
 * Statuses not listed count as successes; errors not listed count as neither.
 *
 * Never counted, whatever `failOn` says: a request the caller aborted (through its
 * controller or signal), a deadline that ran out before sending, the mesh closing, and
 * the mesh's own refusals (overload, an open circuit): none of them say anything about
 * the service.
 */
export type FailCondition = '5xx' | 'gateway-error' | 'connect-failure' | 'reset' | 'timeout' | 'error';

const FAIL_CONDITIONS: readonly FailCondition[] = ['5xx', 'gateway-error', 'connect-failure', 'reset', 'timeout', 'error'];

/**
 * A service's breaker settings, validated and with every default filled in. Made by
 * {@link breakerSettings} from the annotation's JSON; the JSON field names are given
 * with each property.
 */
export interface BreakerSettings {
  /**
   * JSON `errorThresholdPercentage`, default **50**: the breaker opens when the failure
   * percentage in the rolling window exceeds this (strictly: 50 % does not open it at
   * 50). From 0 up to, not including, 100. As in opossum, the percentage is failures
   * over all requests in the window, refused ones and ones counted as neither included.
   */
  readonly errorThresholdPercentage: number;
  /**
   * JSON `volumeThreshold`, default **20**: how many requests the rolling window must
   * hold before the breaker may open at all (opossum's own default is 0).
   */
  readonly volumeThreshold: number;
  /** JSON `rollingWindow` (a duration such as `"10s"`), default **10 s**: how long outcomes count. */
  readonly rollingWindowMs: number;
  /**
   * JSON `rollingBuckets`, default **10**: the window moves in this many steps (10 s in
   * buckets of 1 s). It must divide the window into whole milliseconds.
   */
  readonly rollingBuckets: number;
  /** JSON `resetTimeout` (a duration), default **30 s**: how long the breaker stays open before it goes half-open. */
  readonly resetTimeoutMs: number;
  /**
   * JSON `halfOpenSuccesses`, default **1**: how many probe requests in a row must
   * succeed in half-open before the breaker closes. Half-open lets one probe through at
   * a time (opossum's rule); any failure reopens it. opossum itself closes on the first
   * success; {@link ServiceBreaker} counts the rest on top.
   */
  readonly halfOpenSuccesses: number;
  /**
   * JSON `failOn`, default **`["5xx", "connect-failure", "reset"]`**: which results count
   * as failures; see {@link FailCondition}. At least one.
   */
  readonly failOn: readonly (FailCondition | number)[];
}

/** The settings used when a service has the annotation with no fields set (`{}`). */
export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = Object.freeze({
  errorThresholdPercentage: 50,
  volumeThreshold: 20,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  resetTimeoutMs: 30_000,
  halfOpenSuccesses: 1,
  failOn: Object.freeze(['5xx', 'connect-failure', 'reset'] as const),
});

/** The longest delay a Node timer takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const PERCENT = 'a number from 0 up to, not including, 100 (the breaker opens when the failure percentage exceeds it)';
const VOLUME = 'an integer >= 0 (requests in the window before the breaker may open)';
const BUCKETS = 'an integer from 1 to 1000';
const SUCCESSES = 'an integer from 1 to 1000 (probe successes in a row that close the breaker)';
const FAIL_ON_ITEM = `one of ${FAIL_CONDITIONS.map((c) => JSON.stringify(c)).join(', ')} or a status code 500..599`;

function isFailOnItem(value: unknown): value is FailCondition | number {
  if (typeof value === 'string') return (FAIL_CONDITIONS as readonly string[]).includes(value);
  return Number.isInteger(value) && (value as number) >= 500 && (value as number) <= 599;
}

const failOnItemSchema = z.custom<FailCondition | number>(isFailOnItem, {
  error: (issue) =>
    issue.input === '4xx' || (typeof issue.input === 'number' && issue.input >= 400 && issue.input <= 499)
      ? `${FAIL_ON_ITEM}; 4xx responses never count as failures (they are the caller's mistakes)`
      : FAIL_ON_ITEM,
});

const specObject = z.strictObject({
  errorThresholdPercentage: z.number({ error: PERCENT }).min(0, { error: PERCENT }).lt(100, { error: PERCENT }).default(50),
  volumeThreshold: z.int({ error: VOLUME }).min(0, { error: VOLUME }).max(1_000_000_000, { error: VOLUME }).default(20),
  rollingWindow: durationSchema.default('10s'),
  rollingBuckets: z.int({ error: BUCKETS }).min(1, { error: BUCKETS }).max(1000, { error: BUCKETS }).default(10),
  resetTimeout: durationSchema.default('30s'),
  halfOpenSuccesses: z.int({ error: SUCCESSES }).min(1, { error: SUCCESSES }).max(1000, { error: SUCCESSES }).default(1),
  failOn: z
    .array(failOnItemSchema, { error: `a list of ${FAIL_ON_ITEM}` })
    .min(1, { error: 'at least one condition (to turn the breaker off, remove the annotation)' })
    .default(['5xx', 'connect-failure', 'reset']),
});

const specSchema = specObject.superRefine((spec, ctx) => {
  const windowMs = durationToMs(spec.rollingWindow);
  const resetMs = durationToMs(spec.resetTimeout);
  if (windowMs < 1 || windowMs > MAX_TIMER_MS) {
    ctx.addIssue({ code: 'custom', path: ['rollingWindow'], input: spec.rollingWindow, message: 'a duration from 1ms to 24d' });
  } else if (!Number.isInteger(windowMs / spec.rollingBuckets)) {
    ctx.addIssue({
      code: 'custom',
      path: ['rollingBuckets'],
      input: spec.rollingBuckets,
      message: `a count that divides rollingWindow ${JSON.stringify(spec.rollingWindow)} (${windowMs} ms) into buckets of whole milliseconds`,
    });
  }
  if (resetMs < 1 || resetMs > MAX_TIMER_MS) {
    ctx.addIssue({ code: 'custom', path: ['resetTimeout'], input: spec.resetTimeout, message: 'a duration from 1ms to 24d' });
  }
});

const SPEC_KEYS = Object.keys(specObject.shape);

/**
 * Validates a service's circuit-breaker settings (the JSON of the DestinationRule
 * annotation {@link CIRCUIT_BREAKER_ANNOTATION}, as text or already parsed) and fills in
 * the defaults documented on {@link BreakerSettings}. `undefined` gives the defaults.
 *
 * ```json
 * { "errorThresholdPercentage": 50, "volumeThreshold": 20, "rollingWindow": "10s",
 *   "rollingBuckets": 10, "resetTimeout": "30s", "halfOpenSuccesses": 1,
 *   "failOn": ["5xx", "connect-failure", "reset"] }
 * ```
 *
 * @param spec the annotation's value: JSON text, or the parsed object
 * @param where what to name in errors, e.g. `DestinationRule/reviews: metadata.annotations["proxyless.dev/circuit-breaker"]`
 * @throws {@link InvalidConfigError} listing every problem as `where: field: value (expected: ...)`
 */
export function breakerSettings(spec: unknown, where: string): BreakerSettings {
  let value = spec;
  if (typeof spec === 'string') {
    try {
      value = JSON.parse(spec) as unknown;
    } catch (error) {
      throw new InvalidConfigError([
        `${where}: ${formatValue(spec)} is not JSON: ${(error as Error).message} (expected: a JSON object such as {"volumeThreshold": 20, "resetTimeout": "30s"})`,
      ]);
    }
  }
  if (value === undefined) return DEFAULT_BREAKER_SETTINGS;
  const result = specSchema.safeParse(value, { reportInput: true });
  if (!result.success) {
    const lines = formatIssues(result.error.issues, '', (path) => (path.length === 0 ? SPEC_KEYS : undefined));
    throw new InvalidConfigError(lines.map((line) => `${where}: ${line}`));
  }
  const s = result.data;
  return Object.freeze({
    errorThresholdPercentage: s.errorThresholdPercentage,
    volumeThreshold: s.volumeThreshold,
    rollingWindowMs: durationToMs(s.rollingWindow),
    rollingBuckets: s.rollingBuckets,
    resetTimeoutMs: durationToMs(s.resetTimeout),
    halfOpenSuccesses: s.halfOpenSuccesses,
    failOn: Object.freeze([...new Set(s.failOn)]),
  });
}

/** The same ranges as the JSON, for settings built in code and passed to {@link ServiceBreaker}. */
const settingsSchema = z.strictObject({
  errorThresholdPercentage: z.number({ error: PERCENT }).min(0, { error: PERCENT }).lt(100, { error: PERCENT }),
  volumeThreshold: z.int({ error: VOLUME }).min(0, { error: VOLUME }),
  rollingWindowMs: z.int({ error: 'an integer number of ms from 1 to 2^31-1' }).min(1).max(MAX_TIMER_MS),
  rollingBuckets: z.int({ error: BUCKETS }).min(1, { error: BUCKETS }).max(1000, { error: BUCKETS }),
  resetTimeoutMs: z.number({ error: 'a number of ms from 1 to 2^31-1' }).min(1).max(MAX_TIMER_MS),
  halfOpenSuccesses: z.int({ error: SUCCESSES }).min(1, { error: SUCCESSES }).max(1000, { error: SUCCESSES }),
  failOn: z.array(failOnItemSchema).min(1),
}).superRefine((s, ctx) => {
  if (!Number.isInteger(s.rollingWindowMs / s.rollingBuckets)) {
    ctx.addIssue({ code: 'custom', path: ['rollingBuckets'], input: s.rollingBuckets, message: 'a count that divides rollingWindowMs into buckets of whole milliseconds' });
  }
});

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/**
 * The service's circuit breaker is open (or half-open with its probe in flight): the
 * request was refused at once, without being sent (HTTP 503 semantics). Retrying right
 * away is refused too, until {@link CircuitOpenError.retryAt}.
 */
export class CircuitOpenError extends ProxylessError {
  /** The HTTP status a sidecar would answer with. */
  readonly statusCode = 503;
  /** The service. */
  readonly service: string;
  /** `open`, or `half-open` when a probe request is in flight. */
  readonly state: 'open' | 'half-open';
  /** When the breaker opened, in ms since the epoch. */
  readonly openedAt: number | undefined;
  /** When it lets a probe request through, in ms since the epoch (open only). */
  readonly retryAt: number | undefined;

  /**
   * @param service the service; @param state the breaker's state; @param openedAt when it
   * opened; @param settings its settings, to say how to tune it;
   * @param successesNeeded half-open: probe successes still needed to close it
   */
  constructor(service: string, state: 'open' | 'half-open', openedAt: number | undefined, settings: BreakerSettings, successesNeeded = 0) {
    const retryAt = state === 'open' && openedAt !== undefined ? openedAt + settings.resetTimeoutMs : undefined;
    const opened = openedAt === undefined ? '' : ` since ${new Date(openedAt).toISOString()}`;
    const why =
      `it opens when more than ${settings.errorThresholdPercentage} % of at least ${settings.volumeThreshold} requests ` +
      `within ${formatMs(settings.rollingWindowMs)} fail (failOn: ${settings.failOn.join(', ')})`;
    const when =
      state === 'open'
        ? `it lets a probe request through ${retryAt === undefined ? `after resetTimeout ${formatMs(settings.resetTimeoutMs)}` : `at ${new Date(retryAt).toISOString()} (resetTimeout ${formatMs(settings.resetTimeoutMs)})`}`
        : `it is half-open: one probe request at a time goes through, one is in flight now, and it closes after ` +
          `${successesNeeded} more probe success${successesNeeded === 1 ? '' : 'es'}`;
    super(
      'PROXYLESS_ERR_CIRCUIT_OPEN',
      `the circuit breaker of service "${service}" is ${state}${opened}; ${why}; ${when}. The request was refused ` +
        `at once (503) without being sent. Fix or scale the service, or tune the DestinationRule annotation ` +
        `"${CIRCUIT_BREAKER_ANNOTATION}" (errorThresholdPercentage, volumeThreshold, rollingWindow, resetTimeout, ` +
        `halfOpenSuccesses, failOn).`,
    );
    this.service = service;
    this.state = state;
    this.openedAt = openedAt;
    this.retryAt = retryAt;
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 100 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

// ---------------------------------------------------------------------------------------
// The breaker
// ---------------------------------------------------------------------------------------

/** A breaker's state: `closed` lets requests through, `open` refuses them, `half-open` lets probes through one at a time. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** How one request counts: see {@link FailCondition}. */
export type BreakerOutcome = 'success' | 'failure' | 'neither';

/** The counters of the rolling window (opossum's). `fires` counts every request asked about, refused ones included. */
export interface BreakerStats {
  /** Requests asked about (admitted or refused). */
  readonly fires: number;
  /** Requests that counted as successes. */
  readonly successes: number;
  /** Requests that counted as failures. */
  readonly failures: number;
  /**
   * Requests opossum refused: while open, and while in its half-open with the probe in
   * flight. (Refusals after the first probe success, when `halfOpenSuccesses` > 1, are
   * ours and not counted here.)
   */
  readonly rejects: number;
}

/** The `open` event: the breaker opened (from closed, or again from half-open). */
export interface BreakerOpenEvent {
  /** The service. */
  readonly service: string;
  /** When it opened, ms since the epoch. */
  readonly openedAt: number;
  /** When it will go half-open, ms since the epoch. */
  readonly retryAt: number;
  /** The window's counters when it opened. */
  readonly stats: BreakerStats;
}

/** The `halfOpen` event: `resetTimeout` passed; probe requests go through, one at a time. */
export interface BreakerHalfOpenEvent {
  /** The service. */
  readonly service: string;
  /** Probe successes in a row needed to close (`halfOpenSuccesses`). */
  readonly successesNeeded: number;
}

/** The `close` event: enough probes succeeded; requests flow again. */
export interface BreakerCloseEvent {
  /** The service. */
  readonly service: string;
}

/** The events of {@link ServiceBreaker.events}, each with one argument. */
export interface BreakerEvents {
  /** The breaker opened. */
  open: [event: BreakerOpenEvent];
  /** The breaker went half-open. */
  halfOpen: [event: BreakerHalfOpenEvent];
  /** The breaker closed after `halfOpenSuccesses` probe successes. */
  close: [event: BreakerCloseEvent];
}

/**
 * A breaker's state as plain JSON, from {@link ServiceBreaker.exportState}, for
 * {@link ServiceBreaker.importState} in a restarted process.
 */
export interface BreakerSnapshot {
  /** Format version: 1. */
  readonly version: 1;
  /** The service the breaker guards. */
  readonly service: string;
  /** The state when the snapshot was taken. */
  readonly state: BreakerState;
  /** When the breaker last opened (ms since the epoch), or null when closed. */
  readonly openedAt: number | null;
  /** Half-open: probe successes still needed to close; otherwise 0. */
  readonly successesNeeded: number;
  /** When the snapshot was taken, ms since the epoch. */
  readonly takenAt: number;
  /** The rolling window's length in ms when it was taken. */
  readonly windowMs: number;
  /** The rolling window's counters when it was taken. */
  readonly stats: BreakerStats;
}

const statsSchema = z.strictObject({
  fires: z.int().min(0),
  successes: z.int().min(0),
  failures: z.int().min(0),
  rejects: z.int().min(0),
});

const snapshotSchema = z
  .strictObject({
    version: z.literal(1),
    service: z.string().min(1),
    state: z.enum(['closed', 'open', 'half-open']),
    openedAt: z.number().nullable(),
    successesNeeded: z.int().min(0),
    takenAt: z.number(),
    windowMs: z.number().min(0),
    stats: statsSchema,
  })
  .superRefine((s, ctx) => {
    if (s.state !== 'closed' && s.openedAt === null) {
      ctx.addIssue({ code: 'custom', path: ['openedAt'], input: null, message: 'a time in ms since the epoch when state is "open" or "half-open"' });
    }
  });

/**
 * What a {@link ServiceBreaker} keeps per request, written into the object that carries
 * the request (in {@link breakerLayer}, its handler), so that a request costs no extra
 * allocation. Start both fields `undefined` (see {@link breakerPermit}) and leave them to
 * the breaker: {@link ServiceBreaker.tryPass} sets them when it admits the request,
 * {@link ServiceBreaker.record} clears them.
 */
export interface BreakerPermit {
  /** Settles the request's opossum call as a success. Owned by the breaker. */
  breakerResolve: ((value?: unknown) => void) | undefined;
  /** Settles the request's opossum call as a failure. Owned by the breaker. */
  breakerReject: ((reason?: unknown) => void) | undefined;
}

/** A fresh {@link BreakerPermit}, for callers that have no handler object to carry one. */
export function breakerPermit(): BreakerPermit {
  return { breakerResolve: undefined, breakerReject: undefined };
}

// opossum runs an action per call and watches the promise it returns. Ours is one
// module-level function: it hands the promise's settle functions to the permit, so no
// closure is made per request (the executor below is module-level too).
let arming: BreakerPermit | undefined;
function armPermit(resolve: (value?: unknown) => void, reject: (reason?: unknown) => void): void {
  arming!.breakerResolve = resolve;
  arming!.breakerReject = reject;
  arming = undefined;
}
function runAction(permit: BreakerPermit): Promise<unknown> {
  arming = permit;
  return new Promise(armPermit);
}
function ignore(): void {}

/** What opossum is told about a failure (one shared object: the outcome is all it needs). */
const COUNTED_FAILURE = new Error('proxyless: the response counted as a failure for the circuit breaker');

type ErrorKind = 'never' | 'timeout' | 'connect-failure' | 'reset' | 'other';

/**
 * An error's kind for `failOn`, from the mesh's one failure classifier
 * ({@link classifyFailure}): a connection failure, or a reset before the request was
 * written, is `connect-failure`; a reset after it, or a refused HTTP/2 stream, is
 * `reset`; response timeouts are `timeout`; cancellations and the mesh's own refusals
 * never count.
 */
function errorKind(error: Error, started: boolean | undefined): ErrorKind {
  switch (classifyFailure(error, started)) {
    case 'connect-failure':
    case 'reset-before-request':
      return 'connect-failure';
    case 'reset':
    case 'refused-stream':
      return 'reset';
    case 'timeout':
      return 'timeout';
    case 'cancelled':
    case 'refused':
      return 'never';
    default:
      return 'other';
  }
}

/**
 * One service's circuit breaker: an opossum breaker (error percentage over a rolling
 * window, volume threshold, reset timeout, one probe at a time in half-open) with its
 * own per-call timeout turned off (timeouts are the `timeout` layer's job), plus:
 *
 * - **outcomes by response**: a request is reported with {@link ServiceBreaker.record}
 *   when its response starts (its status, classified by `failOn`) or when it fails (its
 *   error); a request the caller aborted counts as neither success nor failure.
 * - **`halfOpenSuccesses`**: opossum closes on the first probe success. When more are
 *   needed, the breaker stays half-open after that ({@link ServiceBreaker.state} says
 *   `half-open`, no `close` event) and keeps letting one probe through at a time until
 *   enough have succeeded in a row; a failure reopens it, as in opossum's half-open.
 *   Only requests admitted as probes count towards closing.
 * - **snapshots**: {@link ServiceBreaker.exportState} and
 *   {@link ServiceBreaker.importState} carry the state, when it opened and the window's
 *   counters across a restart.
 *
 * Each breaker runs one timer for the rolling window (and one while open): call
 * {@link ServiceBreaker.close} when dropping it.
 */
export class ServiceBreaker {
  /** The service the breaker guards (used in errors and events). */
  readonly service: string;
  /** The settings, validated, defaults filled in. */
  readonly settings: BreakerSettings;
  /** `open`, `halfOpen` and `close` transitions, each with one event object (see {@link BreakerEvents}). */
  readonly events = new EventEmitter<BreakerEvents>();

  #opossum: OpossumBreaker;
  /** Probe successes still needed to close; > 0 only while half-open. */
  #needed = 0;
  /** The probe in flight, if any. */
  #probe: BreakerPermit | undefined;
  #openedAt: number | undefined;
  #closed = false;
  readonly #failStatus = new Uint8Array(100);
  readonly #failOn: ReadonlySet<FailCondition | number>;

  /**
   * @param service the service's name, for errors and events
   * @param settings from {@link breakerSettings}; default {@link DEFAULT_BREAKER_SETTINGS}
   * @throws {@link InvalidOptionError} when a setting is out of range
   */
  constructor(service: string, settings: BreakerSettings = DEFAULT_BREAKER_SETTINGS) {
    const problems: string[] = [];
    if (typeof service !== 'string' || service === '') problems.push(`service: ${formatValue(service)} (expected: the service's name)`);
    const checked = settingsSchema.safeParse(settings, { reportInput: true });
    if (!checked.success) problems.push(...formatIssues(checked.error.issues, 'settings'));
    if (problems.length > 0) throw new InvalidOptionError('ServiceBreaker', problems);
    this.service = service;
    this.settings = settings;
    this.#failOn = new Set(settings.failOn);
    for (let status = 500; status <= 599; status++) {
      const fails =
        this.#failOn.has(status) || this.#failOn.has('5xx') || (this.#failOn.has('gateway-error') && status >= 502 && status <= 504);
      this.#failStatus[status - 500] = fails ? 1 : 0;
    }
    this.#opossum = this.#create(undefined, undefined, settings.resetTimeoutMs);
  }

  /** The current state. After {@link ServiceBreaker.close}: `closed`. */
  state(): BreakerState {
    const opossum = this.#opossum;
    if (opossum.opened) return 'open';
    if (opossum.halfOpen || this.#needed > 0) return 'half-open';
    return 'closed';
  }

  /** When the breaker last opened (ms since the epoch); undefined while closed. */
  get openedAt(): number | undefined {
    return this.#openedAt;
  }

  /** The rolling window's counters. */
  stats(): BreakerStats {
    const stats = this.#opossum.stats;
    return { fires: stats.fires, successes: stats.successes, failures: stats.failures, rejects: stats.rejects };
  }

  /**
   * Asks whether a request may go. When it may, the breaker writes its bookkeeping into
   * `permit` and expects one {@link ServiceBreaker.record} for it later. When not (open,
   * or half-open with a probe in flight), nothing needs recording: refuse the request,
   * e.g. with {@link ServiceBreaker.openError}. After {@link ServiceBreaker.close} every
   * request may go, uncounted.
   */
  tryPass(permit: BreakerPermit): boolean {
    if (this.#closed) return true;
    const opossum = this.#opossum;
    let probe = opossum.halfOpen; // opossum admits one call while half-open, refuses the rest
    if (!probe && this.#needed > 0 && opossum.closed) {
      // opossum closed on the first probe success; we stay half-open: one probe at a time.
      if (this.#probe !== undefined) return false;
      probe = true;
    }
    opossum.call(undefined, permit).catch(ignore);
    if (permit.breakerResolve === undefined) return false;
    if (probe) this.#probe = permit;
    return true;
  }

  /**
   * Reports how an admitted request went. Only the first report per request counts;
   * reporting a permit that was not admitted does nothing. See
   * {@link ServiceBreaker.outcomeOf}.
   */
  record(permit: BreakerPermit, outcome: BreakerOutcome): void {
    const resolve = permit.breakerResolve;
    const reject = permit.breakerReject;
    if (resolve === undefined || reject === undefined) return;
    permit.breakerResolve = undefined;
    permit.breakerReject = undefined;
    if (this.#closed) return;
    const probe = this.#probe === permit;
    if (probe) this.#probe = undefined;
    if (outcome === 'success') {
      if (probe && this.#needed > 0) {
        this.#needed--;
        // Already closed in opossum (an earlier probe closed it): the count is reached now.
        if (this.#needed === 0 && this.#opossum.closed) this.#onClose();
      }
      resolve(undefined); // opossum: a success; in its half-open, that closes it (→ #onClose)
    } else if (outcome === 'failure') {
      // Any failure in half-open reopens, also in our own half-open after opossum closed.
      if (this.state() === 'half-open') this.#opossum.open();
      reject(COUNTED_FAILURE);
    } else if (probe && this.#opossum.halfOpen) {
      // opossum has no "neither": its half-open stays refusing until its one probe
      // settles. Settling it as a success closes opossum but not us (#needed is
      // unchanged, so the breaker stays half-open and the next request becomes the
      // probe); opossum's `successes` counter is one higher for it.
      resolve(undefined);
    }
    // Otherwise a "neither" leaves opossum's call pending: counted as a fire, neither
    // success nor failure; it is collected with the permit.
  }

  /**
   * Classifies a response status or an error by the settings' `failOn`: statuses not
   * listed (4xx always) are successes; errors not listed, and errors that say nothing
   * about the service, are neither. `callerAborted`: the request was ended through its
   * controller (by the caller or a layer above), which counts as neither unless the
   * reason is a timeout and `failOn` lists `timeout`. `started`: whether the request had
   * been handed to a connection (a reset before that is a `connect-failure`).
   */
  outcomeOf(result: number | Error, callerAborted = false, started?: boolean): BreakerOutcome {
    if (typeof result === 'number') return result >= 500 && result <= 599 && this.#failStatus[result - 500] === 1 ? 'failure' : 'success';
    const kind = errorKind(result, started);
    if (kind === 'never') return 'neither';
    if (kind === 'timeout') return this.#failOn.has('timeout') || this.#failOn.has('error') ? 'failure' : 'neither';
    if (callerAborted) return 'neither';
    if (this.#failOn.has('error') || (kind !== 'other' && this.#failOn.has(kind))) return 'failure';
    return 'neither';
  }

  /** The error for a request {@link ServiceBreaker.tryPass} refused: the service, the times, how to tune. */
  openError(): CircuitOpenError {
    const state = this.state();
    return new CircuitOpenError(this.service, state === 'closed' ? 'open' : state, this.#openedAt, this.settings, this.#needed);
  }

  /** A JSON-safe snapshot of the state, when it opened and the window's counters. */
  exportState(): BreakerSnapshot {
    const state = this.state();
    return {
      version: 1,
      service: this.service,
      state,
      openedAt: state === 'closed' ? null : (this.#openedAt ?? null),
      successesNeeded: state === 'half-open' ? Math.max(this.#needed, 1) : 0,
      takenAt: Date.now(),
      windowMs: this.settings.rollingWindowMs,
      stats: this.stats(),
    };
  }

  /**
   * Starts from a snapshot taken by {@link ServiceBreaker.exportState} (of a breaker for
   * the same service), e.g. in a restarted process; meant for start-up, before traffic
   * (requests in flight are not tracked across it). An `open`
   * snapshot stays open until its original `openedAt + resetTimeout` (half-open at once
   * when that has passed); a `half-open` one is half-open with the probe successes it
   * still needed (at most `halfOpenSuccesses`). The window's counters are restored into
   * the newest bucket when the snapshot is younger than one window (so they age out one
   * window after the import), and dropped when older. Emits no events.
   *
   * @throws {@link InvalidOptionError} for a malformed snapshot or another service's
   */
  importState(snapshot: unknown): void {
    const parsed = snapshotSchema.safeParse(snapshot, { reportInput: true });
    const problems = parsed.success ? [] : formatIssues(parsed.error.issues, 'snapshot');
    if (parsed.success && parsed.data.service !== this.service) {
      problems.push(`snapshot.service: ${JSON.stringify(parsed.data.service)} (expected: ${JSON.stringify(this.service)}, the service this breaker guards)`);
    }
    if (this.#closed) problems.push(`breaker: closed (expected: importState before close())`);
    if (!parsed.success || problems.length > 0) throw new InvalidOptionError('ServiceBreaker.importState', problems);
    const snap = parsed.data;
    const settings = this.settings;
    const now = Date.now();
    const stats = now - snap.takenAt < settings.rollingWindowMs ? snap.stats : undefined;
    let state: OpossumStateOption = { closed: true };
    let resetInMs = settings.resetTimeoutMs;
    let needed = 0;
    let openedAt: number | undefined;
    if (snap.state === 'open' || snap.state === 'half-open') {
      openedAt = snap.openedAt!;
      const elapsed = Math.max(0, now - openedAt);
      if (snap.state === 'open' && elapsed < settings.resetTimeoutMs) {
        state = { closed: false, halfOpen: false };
        resetInMs = settings.resetTimeoutMs - elapsed;
      } else {
        state = { closed: false, halfOpen: true };
        needed = snap.state === 'half-open' ? Math.min(Math.max(snap.successesNeeded, 1), settings.halfOpenSuccesses) : settings.halfOpenSuccesses;
      }
    }
    const old = this.#opossum;
    this.#opossum = this.#create(state, stats, resetInMs);
    old.shutdown();
    this.#needed = needed;
    this.#probe = undefined;
    this.#openedAt = openedAt;
  }

  /** Stops the breaker's timers (opossum's `shutdown()`); afterwards it lets every request through uncounted. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#needed = 0;
    this.#probe = undefined;
    this.#openedAt = undefined;
    this.#opossum.shutdown();
  }

  /**
   * Makes the opossum breaker. `state` and `stats` come from an import. `resetInMs` is
   * how long until the first half-open when `state` is open: opossum starts its reset
   * timer with `options.resetTimeout` inside its constructor (and would restart a full
   * one for an imported open state), then reads that option again at every later open,
   * so the constructor gets the time left and the option is set back to the full
   * `resetTimeout` right after.
   */
  #create(state: OpossumStateOption | undefined, stats: BreakerStats | undefined, resetInMs: number): OpossumBreaker {
    const s = this.settings;
    const options: OpossumOptions = {
      name: this.service,
      timeout: false,
      resetTimeout: resetInMs,
      errorThresholdPercentage: s.errorThresholdPercentage,
      volumeThreshold: s.volumeThreshold,
      rollingCountTimeout: s.rollingWindowMs,
      rollingCountBuckets: s.rollingBuckets,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      // A Status object, not plain stats: given plain stats, opossum builds the window
      // with its default 10 s / 10 buckets instead of ours.
      status: CircuitBreaker.newStatus({
        rollingCountTimeout: s.rollingWindowMs,
        rollingCountBuckets: s.rollingBuckets,
        rollingPercentilesEnabled: false,
        enableSnapshots: false,
        ...(stats ? { stats: { ...stats } } : {}),
      }),
      ...(state ? { state: { enabled: true, warmUp: false, shutdown: false, ...state } } : {}),
    };
    const opossum = new CircuitBreaker(runAction, options);
    options.resetTimeout = s.resetTimeoutMs;
    opossum.on('open', () => this.#onOpen());
    opossum.on('halfOpen', () => this.#onHalfOpen());
    opossum.on('close', () => this.#onClose());
    return opossum;
  }

  #onOpen(): void {
    this.#needed = 0;
    this.#probe = undefined;
    const openedAt = (this.#openedAt = Date.now());
    this.#emit('open', { service: this.service, openedAt, retryAt: openedAt + this.settings.resetTimeoutMs, stats: this.stats() });
  }

  #onHalfOpen(): void {
    this.#needed = this.settings.halfOpenSuccesses;
    this.#emit('halfOpen', { service: this.service, successesNeeded: this.#needed });
  }

  #onClose(): void {
    if (this.#needed > 0 || this.#closed) return; // more probe successes needed: still half-open
    this.#openedAt = undefined;
    this.#emit('close', { service: this.service });
  }

  /**
   * Emits outside opossum's bookkeeping: a listener that throws must not turn a
   * success into a failure inside opossum's promise chain; its error is rethrown on
   * its own (an uncaught exception, as from any timer).
   */
  #emit<K extends keyof BreakerEvents>(name: K, ...args: BreakerEvents[K]): void {
    try {
      (this.events.emit as (name: K, ...args: BreakerEvents[K]) => boolean)(name, ...args);
    } catch (error) {
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

// ---------------------------------------------------------------------------------------
// The layer
// ---------------------------------------------------------------------------------------

/** Reports a request's outcome to its breaker when the response starts or the request fails. */
class BreakerHandler extends ForwardingHandler implements BreakerPermit {
  breakerResolve: ((value?: unknown) => void) | undefined = undefined;
  breakerReject: ((reason?: unknown) => void) | undefined = undefined;
  readonly #breaker: ServiceBreaker;

  constructor(next: Dispatcher.DispatchHandler, breaker: ServiceBreaker) {
    super(next);
    this.#breaker = breaker;
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#breaker.record(this, 'success');
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  #started = false;

  override onRequestStart(controller: Controller, context: unknown): void {
    this.#started = true;
    super.onRequestStart(controller, context);
  }

  override onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    // An interim response (100 Continue, 103 Early Hints) is not the response: the final one decides.
    if (statusCode >= 200) this.#breaker.record(this, this.#breaker.outcomeOf(statusCode));
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  override onResponseError(controller: Controller, error: Error): void {
    // A request ended through its controller was aborted by the caller or a layer above.
    this.#breaker.record(this, this.#breaker.outcomeOf(error, controller?.aborted === true, this.#started));
    super.onResponseError(controller, error);
  }
}

/**
 * The service-stack layer with role `breaker`: while the service's breaker is open (or
 * half-open with its probe in flight) a request fails at once with
 * {@link CircuitOpenError} (503, code `PROXYLESS_ERR_CIRCUIT_OPEN`), never sent;
 * otherwise it goes on, and its outcome is reported to the breaker when the response
 * starts (the status) or the request fails (the error); see {@link ServiceBreaker}. One
 * handler object per request, nothing else.
 *
 * @param breakerFor the breaker of a service, or `undefined` for none (the layer then
 *   adds nothing). Called per request, so a reload that swaps breakers applies at once:
 *   keep it a lookup.
 */
export function breakerLayer(breakerFor: (service: ServiceTarget) => ServiceBreaker | undefined): Layer<ServiceTarget> {
  if (typeof breakerFor !== 'function') {
    throw new InvalidOptionError('breakerLayer', [`breakerFor: ${formatValue(breakerFor)} (expected: a function (service) => ServiceBreaker | undefined)`]);
  }
  return layer<ServiceTarget>('breaker', (next, target) => (opts, handler) => {
    const breaker = breakerFor(target);
    if (breaker === undefined) return next(opts, handler);
    const counted = new BreakerHandler(handler, breaker);
    if (!breaker.tryPass(counted)) return failDispatch(handler, breaker.openError());
    try {
      return next(opts, counted);
    } catch (error) {
      breaker.record(counted, 'neither');
      throw error;
    }
  });
}
