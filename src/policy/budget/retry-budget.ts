/** How many time buckets a budget keeps, whatever its ttl: memory and time per call stay fixed. */
const BUCKETS = 10;

/**
 * A retry budget per service, as Finagle's and Linkerd's: retries may be at most
 * `percent` of the requests of the last `ttlMs`, plus a floor of `minPerSecond` retries
 * per second (so a service with little traffic can still retry). Deposits expire after
 * `ttlMs`, counted in {@link BUCKETS} buckets of `ttlMs / 10` each: a deposit expires
 * between 0.9 and 1 ttl after it was made. The cost of a call does not depend on the ttl:
 * running totals make a withdrawal O(1), and moving time forward clears at most
 * {@link BUCKETS} buckets.
 */
export class RetryBudget {
  /** Defaults: 20 % of requests, 10 retries/s floor, deposits live 10 s. */
  static readonly DEFAULTS = Object.freeze({ percent: 20, minPerSecond: 10, ttlMs: 10_000 });
  readonly #percent: number;
  readonly #reserve: number;
  readonly #bucketMs: number;
  readonly #requests = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #requestTotal = 0;
  #retryTotal = 0;
  #bucketStart: number;
  #index = 0;
  readonly #now: () => number;

  /**
   * @param options percent of requests, retries per second always allowed, and how long a
   *   request counts (ms, > 0; config bounds it to 1-60 s)
   * @param now the clock, in ms
   */
  constructor(options: { percent?: number; minPerSecond?: number; ttlMs?: number } = {}, now: () => number = () => performance.now()) {
    const { percent, minPerSecond, ttlMs } = { ...RetryBudget.DEFAULTS, ...options };
    if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new RangeError(`RetryBudget ttlMs: ${ttlMs} (expected: a finite number of ms above 0)`);
    this.#percent = percent / 100;
    this.#bucketMs = ttlMs / BUCKETS;
    this.#reserve = (minPerSecond * ttlMs) / 1000;
    this.#now = now;
    this.#bucketStart = now();
  }

  /** A budget that never runs out (the `disabled` setting). */
  static unlimited(): RetryBudget {
    const budget = new RetryBudget();
    budget.tryWithdraw = () => true;
    budget.deposit = () => {};
    return budget;
  }

  /** A request was made (a deposit). */
  deposit(): void {
    this.#advance();
    this.#requests[this.#index]!++;
    this.#requestTotal++;
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryWithdraw(): boolean {
    this.#advance();
    // One more retry must fit within the (fractional) allowance.
    if (this.#retryTotal + 1 > this.#requestTotal * this.#percent + this.#reserve) return false;
    this.#retries[this.#index]!++;
    this.#retryTotal++;
    return true;
  }

  #advance(): void {
    const elapsed = Math.floor((this.#now() - this.#bucketStart) / this.#bucketMs);
    if (elapsed <= 0) return;
    this.#bucketStart += elapsed * this.#bucketMs;
    // After a full ttl of silence every bucket is stale: clear them all once.
    for (let i = Math.min(elapsed, BUCKETS); i > 0; i--) {
      this.#index = (this.#index + 1) % BUCKETS;
      this.#requestTotal -= this.#requests[this.#index]!;
      this.#retryTotal -= this.#retries[this.#index]!;
      this.#requests[this.#index] = 0;
      this.#retries[this.#index] = 0;
    }
  }
}
