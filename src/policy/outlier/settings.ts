/**
 * Outlier detection settings in numbers and their defaults. Istio's `OutlierDetection`
 * is converted into them by `src/config/settings/outlier.ts`.
 *
 * @module
 */

/**
 * Outlier detection settings in numbers, as {@link OutlierDetector} uses them. A
 * consecutive-error threshold of 0 turns that detection off. All times are milliseconds.
 *
 * Config's `outlierSettings` makes these from an Istio `OutlierDetection`;
 * {@link DEFAULT_OUTLIER_SETTINGS} are the values Istio and Envoy use for unset fields.
 */
export interface OutlierSettings {
  /**
   * Consecutive 5xx results that eject a host (gateway errors count too, and so do
   * local-origin failures unless {@link OutlierSettings.splitExternalLocalOriginErrors}). Envoy
   * `consecutive_5xx`. 0 = off.
   */
  readonly consecutive5xxErrors: number;
  /**
   * Consecutive gateway errors (502, 503, 504, and local-origin failures unless split)
   * that eject a host. Envoy `consecutive_gateway_failure` with enforcement. 0 = off.
   */
  readonly consecutiveGatewayErrors: number;
  /**
   * Count local-origin failures (connect failures, resets, timeouts) on their own
   * counter instead of as 5xx/gateway errors. Envoy `split_external_local_origin_errors`.
   */
  readonly splitExternalLocalOriginErrors: boolean;
  /**
   * Consecutive local-origin failures that eject a host; only used when
   * {@link OutlierSettings.splitExternalLocalOriginErrors} is true. Envoy
   * `consecutive_local_origin_failure`. 0 = off.
   */
  readonly consecutiveLocalOriginFailures: number;
  /** How often the caller runs {@link OutlierDetector.sweep}, in ms (> 0). Envoy `interval`. */
  readonly intervalMs: number;
  /** Ejection time for a first ejection, in ms (> 0). Envoy `base_ejection_time`. */
  readonly baseEjectionTimeMs: number;
  /** Longest ejection, in ms (>= {@link OutlierSettings.baseEjectionTimeMs}). Envoy `max_ejection_time`. */
  readonly maxEjectionTimeMs: number;
  /**
   * Most hosts that may be ejected at once, as a percentage of the hosts added, 0..100.
   * Envoy `max_ejection_percent`: an ejection happens only if, counting it, no more than
   * this share of the hosts would be ejected (see {@link OutlierSettings.alwaysEjectOneHost}).
   */
  readonly maxEjectionPercent: number;
  /**
   * Envoy `always_eject_one_host`: allow one ejection even when
   * {@link OutlierSettings.maxEjectionPercent} would not (a service with fewer than 10 hosts and the
   * default 10 % ejects nothing otherwise). Istio has no field for it: false.
   */
  readonly alwaysEjectOneHost: boolean;
  /**
   * Panic threshold, 0..100: while fewer than this share of the hosts is healthy
   * (not ejected), {@link OutlierDetector.panic} is true and the caller balances across
   * all hosts, ejected or not. Istio `minHealthPercent`, Envoy `healthy_panic_threshold`.
   * 0 = never.
   */
  readonly minHealthPercent: number;
}

/**
 * The settings for unset fields, from Istio's `OutlierDetection` reference and, where
 * Istio leaves a field to Envoy, Envoy's `OutlierDetection` defaults:
 *
 * - `consecutive5xxErrors` 5 (Istio; Envoy `consecutive_5xx` 5, enforced 100 %).
 * - `consecutiveGatewayErrors` 0, off (Istio: "disabled by default"; Envoy counts 5 but
 *   enforces 0 %).
 * - `splitExternalLocalOriginErrors` false; `consecutiveLocalOriginFailures` 5.
 * - `intervalMs` 10 000 (10 s); `baseEjectionTimeMs` 30 000 (30 s).
 * - `maxEjectionTimeMs` 300 000 (Envoy's 300 s; Istio never sets it, and Envoy uses the
 *   base ejection time instead when that is larger).
 * - `maxEjectionPercent` 10; `alwaysEjectOneHost` false (Envoy's default).
 * - `minHealthPercent` 0: no panic mode (Istio sets Envoy's panic threshold to it,
 *   overriding Envoy's own 50 %).
 */
export const DEFAULT_OUTLIER_SETTINGS: OutlierSettings = Object.freeze({
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  splitExternalLocalOriginErrors: false,
  consecutiveLocalOriginFailures: 5,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 10,
  alwaysEjectOneHost: false,
  minHealthPercent: 0,
});
