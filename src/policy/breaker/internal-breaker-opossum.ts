/**
 * The part of opossum 10 that `ServiceBreaker` uses, typed here: opossum ships no
 * type declarations, and `@types/opossum` is not a dependency (it also lacks the
 * constructor's `state` option, which we need for import).
 *
 * @internal
 * @module
 */

// @ts-expect-error -- opossum ships no types; the shape we use is declared below. If
// @types/opossum is ever installed this line fails to compile: then delete it and the
// declarations in this file.
import opossum from 'opossum';

/** Counters of opossum's rolling window (`breaker.stats`, one `Status` bucket). */
export interface OpossumStats {
  fires: number;
  successes: number;
  failures: number;
  rejects: number;
  timeouts: number;
  fallbacks: number;
  semaphoreRejections: number;
}

/** opossum's constructor `state` option (the `state` half of `toJSON()`). */
export interface OpossumStateOption {
  enabled?: boolean;
  /** `false` with `halfOpen: false` means open. */
  closed?: boolean;
  halfOpen?: boolean;
  warmUp?: boolean;
  shutdown?: boolean;
  /** When the reset timer last started; opossum goes half-open at once when it is older than `resetTimeout`. */
  lastTimerAt?: number;
}

/** opossum's rolling-window status object (`CircuitBreaker.newStatus`). */
export interface OpossumStatus {
  readonly stats: OpossumStats;
}

/** The options we pass; opossum keeps this very object as `breaker.options`. */
export interface OpossumOptions {
  name?: string;
  /** `false` disables opossum's own per-call timeout (on by default, 10 s). */
  timeout?: number | false;
  resetTimeout?: number;
  errorThresholdPercentage?: number;
  volumeThreshold?: number;
  rollingCountTimeout?: number;
  rollingCountBuckets?: number;
  rollingPercentilesEnabled?: boolean;
  enableSnapshots?: boolean;
  state?: OpossumStateOption;
  status?: OpossumStatus;
}

/** Options of `CircuitBreaker.newStatus`. */
export interface OpossumStatusOptions {
  rollingCountBuckets: number;
  rollingCountTimeout: number;
  rollingPercentilesEnabled?: boolean;
  enableSnapshots?: boolean;
  /** Counters put into the newest bucket. */
  stats?: Partial<OpossumStats>;
}

/** An opossum circuit breaker, as far as we use it. */
export interface OpossumBreaker {
  readonly options: OpossumOptions;
  readonly closed: boolean;
  readonly opened: boolean;
  readonly halfOpen: boolean;
  /** Half-open and no probe admitted yet. */
  readonly pendingClose: boolean;
  readonly stats: OpossumStats;
  /** Runs the action with `context` as `this`, or rejects at once when open. */
  call(context: unknown, ...args: unknown[]): Promise<unknown>;
  open(): void;
  close(): void;
  shutdown(): void;
  on(event: 'open' | 'halfOpen' | 'close', listener: () => void): this;
}

/** The opossum `CircuitBreaker` class. */
export interface OpossumConstructor {
  new (action: (...args: never[]) => unknown, options?: OpossumOptions): OpossumBreaker;
  newStatus(options: OpossumStatusOptions): OpossumStatus;
}

/** opossum's `CircuitBreaker` class, typed. */
export const CircuitBreaker = opossum as OpossumConstructor;
