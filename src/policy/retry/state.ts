/**
 * What the retry layer keeps per service, in the target's slot {@link RETRY_STATE}: the
 * retry budget and the retries in flight.
 *
 * @module
 */
import { stateKey } from '../../core/target.js';
import { RetryBudget } from '../budget/retry-budget.js';
import type { RetryBudgetSettings } from '../budget/settings.js';

/** The retry layer's per-service state (see {@link RETRY_STATE}). */
export interface RetryState {
  /** The service's retry budget (read per request: a reload may replace it). */
  readonly budget: RetryBudget;
  /** Retries in flight across the service now; written by the retry layer. */
  activeRetries: number;
  /** `connectionPool.http.maxRetries` in force: how many retries may be in flight at once; undefined for no bound. */
  readonly maxRetries: number | undefined;
}

/** The slot of a {@link ServiceTarget} holding its {@link RetryState}. */
export const RETRY_STATE = stateKey<RetryState>('retry');

/**
 * A service's retry state whose settings a config reload may change: the budget is
 * made on first use and made again only when its own settings changed.
 */
export class ServiceRetryState implements RetryState {
  activeRetries = 0;
  maxRetries: number | undefined;
  #settings: RetryBudgetSettings | undefined;
  #budget: RetryBudget | undefined;

  /**
   * @param settings the retry budget annotation's settings; undefined for the default budget
   * @param maxRetries `connectionPool.http.maxRetries`, if set
   */
  constructor(settings?: RetryBudgetSettings, maxRetries?: number) {
    this.#settings = settings;
    this.maxRetries = maxRetries;
  }

  /** See {@link RetryState.budget}. */
  get budget(): RetryBudget {
    if (this.#budget === undefined) this.#budget = retryBudgetFrom(this.#settings);
    return this.#budget;
  }

  /**
   * Applies reloaded settings. The budget keeps its counts unless `budgetChanged`
   * (its settings differ from the ones in force).
   */
  update(settings: RetryBudgetSettings | undefined, maxRetries: number | undefined, budgetChanged: boolean): void {
    this.#settings = settings;
    this.maxRetries = maxRetries;
    if (budgetChanged) this.#budget = undefined;
  }
}

/** The budget the settings describe: the default budget when unset, no bound when disabled. */
export function retryBudgetFrom(s: RetryBudgetSettings | undefined): RetryBudget {
  if (s === undefined) return new RetryBudget();
  return s.disabled ? RetryBudget.unlimited() : new RetryBudget({ percent: s.percent, minPerSecond: s.minRetriesPerSecond, ttlMs: s.ttlMs });
}
