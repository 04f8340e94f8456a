/**
 * Istio's `OutlierDetection` (from a DestinationRule's traffic policy) converted into
 * the outlier detector's {@link OutlierSettings}.
 *
 * @module
 */
import type * as z from 'zod';
import { InvalidOptionError } from '../../core/errors/index.js';
import { formatValue } from '../../core/validate.js';
import { DEFAULT_OUTLIER_SETTINGS, type OutlierSettings } from '../../policy/outlier/settings.js';
import { durationToMs } from '../istio/common.js';
import type { outlierDetectionSchema } from '../istio/destination-rule.js';

/** Istio's `OutlierDetection` as validated by the config loader (durations still strings). */
export type IstioOutlierDetection = z.infer<typeof outlierDetectionSchema>;

/**
 * Converts Istio's `OutlierDetection` (already validated by the DestinationRule schema)
 * to {@link OutlierSettings}, the way Istio translates it for Envoy:
 *
 * - `undefined` (the traffic policy has no `outlierDetection`) → `undefined`: no outlier
 *   detection at all, as in Istio.
 * - Unset fields take {@link DEFAULT_OUTLIER_SETTINGS}.
 * - `consecutive5xxErrors: 0` and `consecutiveGatewayErrors: 0` turn that detection off.
 * - `maxEjectionPercent: 0` and `consecutiveLocalOriginFailures: 0` mean the default
 *   (10 and 5): Istio only passes these to Envoy when they are above 0, so a 0 there
 *   cannot be told from unset. We copy that, so a rule behaves here as under Istio.
 * - The longest ejection is 300 s, or `baseEjectionTime` when that is longer (Envoy).
 *
 * @throws InvalidOptionError when `interval` or `baseEjectionTime` is below 1 ms
 *   (Istio's validation refuses those).
 */
export function outlierSettings(spec: IstioOutlierDetection | undefined): OutlierSettings | undefined {
  if (spec === undefined) return undefined;
  const d = DEFAULT_OUTLIER_SETTINGS;
  const baseEjectionTimeMs = spec.baseEjectionTime === undefined ? d.baseEjectionTimeMs : durationToMs(spec.baseEjectionTime);
  const settings: OutlierSettings = {
    consecutive5xxErrors: spec.consecutive5xxErrors ?? d.consecutive5xxErrors,
    consecutiveGatewayErrors: spec.consecutiveGatewayErrors ?? d.consecutiveGatewayErrors,
    splitExternalLocalOriginErrors: spec.splitExternalLocalOriginErrors ?? d.splitExternalLocalOriginErrors,
    consecutiveLocalOriginFailures: spec.consecutiveLocalOriginFailures || d.consecutiveLocalOriginFailures,
    intervalMs: spec.interval === undefined ? d.intervalMs : durationToMs(spec.interval),
    baseEjectionTimeMs,
    maxEjectionTimeMs: Math.max(d.maxEjectionTimeMs, baseEjectionTimeMs),
    maxEjectionPercent: spec.maxEjectionPercent || d.maxEjectionPercent,
    alwaysEjectOneHost: d.alwaysEjectOneHost,
    minHealthPercent: spec.minHealthPercent ?? d.minHealthPercent,
  };
  const problems: string[] = [];
  if (settings.intervalMs < 1) problems.push(`interval: ${formatValue(spec.interval)} (expected: a duration of at least 1ms)`);
  if (settings.baseEjectionTimeMs < 1) {
    problems.push(`baseEjectionTime: ${formatValue(spec.baseEjectionTime)} (expected: a duration of at least 1ms)`);
  }
  if (problems.length > 0) throw new InvalidOptionError('outlierDetection', problems);
  return settings;
}
