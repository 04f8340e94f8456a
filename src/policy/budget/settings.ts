/**
 * The retry budget's settings. The DestinationRule annotation `proxyless.dev/retry-budget`
 * is parsed into them by `src/config/extensions.ts`.
 *
 * @module
 */

/** A service's retry budget settings. */
export interface RetryBudgetSettings {
  /** No budget: retries limited only by `attempts` (not recommended: retry storms). */
  readonly disabled: boolean;
  /** Retries allowed as a share of requests, in percent. Default 20. */
  readonly percent: number;
  /** Retries always allowed per second, whatever the traffic. Default 10. */
  readonly minRetriesPerSecond: number;
  /** How long a request counts towards the budget, in ms. Default 10000. */
  readonly ttlMs: number;
}
