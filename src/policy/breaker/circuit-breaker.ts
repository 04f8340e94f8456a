/**
 * A service-level circuit breaker (Hystrix-style: error percentage over a rolling window)
 * on opossum, as a service-stack layer with role `breaker`.
 *
 * - Its settings ({@link BreakerSettings}) come from the DestinationRule annotation
 *   `proxyless.dev/circuit-breaker`, parsed by `src/config/settings/breaker.ts`.
 * - {@link ServiceBreaker} is one opossum breaker per service, plus what opossum lacks:
 *   `halfOpenSuccesses`, outcomes reported when a response starts rather than when a
 *   promise settles, a caller abort counted as neither success nor failure, and a state
 *   snapshot that survives a restart.
 * - {@link breakerLayer} refuses requests at once with `CircuitOpenError` while the
 *   breaker is open.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { InvalidOptionError, CircuitOpenError } from '../../core/errors/index.js';

// The error class lives with every other in src/core/errors/; re-exported where it was.
export { CircuitOpenError } from '../../core/errors/index.js';
import { classifyFailure } from '../../core/classify-failure.js';
import { formatIssues, formatValue } from '../../core/validate.js';
import { breakerSettingsSchema, DEFAULT_BREAKER_SETTINGS, type BreakerSettings, type FailCondition } from './settings.js';
import { snapshotSchema, type BreakerEvents, type BreakerOutcome, type BreakerSnapshot, type BreakerState, type BreakerStats } from './types.js';
import { CircuitBreaker, type OpossumBreaker, type OpossumOptions, type OpossumStateOption } from './internal-breaker-opossum.js';


// ---------------------------------------------------------------------------------------
// The breaker
// ---------------------------------------------------------------------------------------

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
// module-level function: opossum passes it the permit given to `call()`, and it hands
// the promise's settle functions to that permit (no module-level slot). Admission is
// read right after `call()` returns: opossum 10 invokes the action within `call()`
// unless the circuit is open (or half-open with a call in flight). The breaker tests
// pin this: were a future opossum to defer the action, every request would be refused.
function runAction(permit: BreakerPermit): Promise<unknown> {
  return new Promise((resolve, reject) => {
    permit.breakerResolve = resolve;
    permit.breakerReject = reject;
  });
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
   * @param settings validated settings (config's `breakerSettings` makes them from the annotation); default {@link DEFAULT_BREAKER_SETTINGS}
   * @throws `InvalidOptionError` when a setting is out of range
   */
  constructor(service: string, settings: BreakerSettings = DEFAULT_BREAKER_SETTINGS) {
    const problems: string[] = [];
    if (typeof service !== 'string' || service === '') problems.push(`service: ${formatValue(service)} (expected: the service's name)`);
    const checked = breakerSettingsSchema.safeParse(settings, { reportInput: true });
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
   * @throws `InvalidOptionError` for a malformed snapshot or another service's
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
