/**
 * Hedging settings. The VirtualService annotation `proxyless.dev/hedging` is parsed into
 * them by `src/config/extensions.ts`.
 *
 * @module
 */

/** Hedging settings of a VirtualService's routes. */
export interface HedgingSettings {
  /** Send the backup after this fixed delay, in ms... */
  readonly delayMs: number | undefined;
  /** ...or once the call is slower than this percentile of the service's recent latencies. */
  readonly percentile: number | undefined;
  /** Backup requests allowed, as a share of requests, in percent. Default 5. */
  readonly maxExtraPercent: number;
  /** Route names it applies to; all routes when unset. */
  readonly routes: readonly string[] | undefined;
}
