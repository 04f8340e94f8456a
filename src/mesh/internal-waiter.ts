import type { Cancellation, CancelListener } from '../core/cancellation.js';

/**
 * One request waiting on a service (for discovery's first answer or a first endpoint):
 * ends when its condition holds, at its timeout, or when its request is cancelled,
 * whichever comes first, and then leaves the service's set of waiters.
 */
export class Waiter implements CancelListener {
  readonly #waiters: Set<Waiter>;
  readonly #condition: () => boolean;
  readonly #cancellation: Cancellation | undefined;
  readonly #done: (outcome: boolean | Error) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(waiters: Set<Waiter>, condition: () => boolean, cancellation: Cancellation | undefined, done: (outcome: boolean | Error) => void) {
    this.#waiters = waiters;
    this.#condition = condition;
    this.#cancellation = cancellation;
    this.#done = done;
  }

  /** Joins the waiters, arms the timeout and listens for the request's cancellation. */
  start(timeoutMs: number): void {
    this.#waiters.add(this);
    this.#timer = setTimeout(() => this.#finish(this.#condition()), timeoutMs);
    this.#cancellation?.listen(this);
  }

  /** A discovery update (or a restored endpoint, or close) may have made the condition hold. */
  check(): void {
    if (this.#condition()) this.#finish(true);
  }

  /** The request was cancelled: stop waiting, tell `done` the reason. */
  onCancel(reason: Error): void {
    this.#finish(reason);
  }

  #finish(outcome: boolean | Error): void {
    if (!this.#waiters.delete(this)) return;
    clearTimeout(this.#timer);
    this.#cancellation?.unlisten(this);
    this.#done(outcome);
  }
}

/**
 * The requests waiting on one service, woken when something they may wait for happens
 * (a discovery update, an endpoint restored to health, the service closing).
 */
export class Waiters {
  readonly #waiters = new Set<Waiter>();

  /**
   * Waits for `condition()` to hold (checked on every {@link Waiters.wake}), for at most
   * `timeoutMs`, or until `cancellation` is cancelled. `done` gets `true` (the condition
   * holds), `false` (timed out) or the cancellation's reason.
   */
  wait(timeoutMs: number, condition: () => boolean, cancellation: Cancellation | undefined, done: (outcome: boolean | Error) => void): void {
    if (condition()) return done(true);
    if (cancellation?.cancelled) return done(cancellation.cancelReason!);
    new Waiter(this.#waiters, condition, cancellation, done).start(timeoutMs);
  }

  /** Something changed: each waiter whose condition holds now ends. */
  wake(): void {
    if (this.#waiters.size === 0) return;
    for (const waiter of [...this.#waiters]) waiter.check();
  }
}
