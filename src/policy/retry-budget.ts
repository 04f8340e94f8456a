/**
 * A retry budget per service, as Finagle's and Linkerd's: retries may be at most
 * `percent` of the requests of the last `ttlMs`, plus a floor of `minPerSecond` retries
 * per second (so a service with little traffic can still retry). Deposits expire after
 * `ttlMs`. Counted in one-second buckets: O(1) per call, a fixed small memory.
 */
export class RetryBudget {
  /** Defaults: 20 % of requests, 10 retries/s floor, deposits live 10 s. */
  static readonly DEFAULTS = Object.freeze({ percent: 20, minPerSecond: 10, ttlMs: 10_000 });
  readonly #percent: number;
  readonly #reserve: number;
  readonly #buckets: number;
  readonly #requests: Float64Array;
  readonly #retries: Float64Array;
  #bucketStart: number;
  #index = 0;
  readonly #now: () => number;

  constructor(options: { percent?: number; minPerSecond?: number; ttlMs?: number } = {}, now: () => number = () => performance.now()) {
    const { percent, minPerSecond, ttlMs } = { ...RetryBudget.DEFAULTS, ...options };
    this.#percent = percent / 100;
    this.#buckets = Math.max(1, Math.round(ttlMs / 1000));
    this.#reserve = minPerSecond * this.#buckets;
    this.#requests = new Float64Array(this.#buckets);
    this.#retries = new Float64Array(this.#buckets);
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
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryWithdraw(): boolean {
    this.#advance();
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < this.#buckets; i++) {
      requests += this.#requests[i]!;
      retries += this.#retries[i]!;
    }
    // One more retry must fit within the (fractional) allowance.
    if (retries + 1 > requests * this.#percent + this.#reserve) return false;
    this.#retries[this.#index]!++;
    return true;
  }

  #advance(): void {
    const now = this.#now();
    let elapsed = Math.floor((now - this.#bucketStart) / 1000);
    if (elapsed <= 0) return;
    this.#bucketStart += elapsed * 1000;
    if (elapsed > this.#buckets) elapsed = this.#buckets;
    for (let i = 0; i < elapsed; i++) {
      this.#index = (this.#index + 1) % this.#buckets;
      this.#requests[this.#index] = 0;
      this.#retries[this.#index] = 0;
    }
  }
}
