/**
 * `proxyless/policy`: the resilience policies as building blocks apart from the mesh
 * (circuit breaker, outlier detector, health checker, their settings parsers and
 * layers), for a custom stack or a test. An application configures them through Istio
 * resources or the typed options of `destinationRule()` instead. See docs/api.md.
 *
 * @module proxyless/policy
 */
export { ServiceBreaker, breakerLayer, breakerPermit, DEFAULT_BREAKER_SETTINGS } from '../policy/breaker/index.js';
export { breakerSettings, CIRCUIT_BREAKER_ANNOTATION, healthCheckSettings, HEALTH_CHECK_ANNOTATION, outlierSettings } from '../config/settings/index.js';
export type { HealthCheckSpec } from '../config/settings/index.js';
export type {
  BreakerSettings,
  BreakerStats,
  FailCondition,
  BreakerEvents,
  BreakerOpenEvent,
  BreakerHalfOpenEvent,
  BreakerCloseEvent,
  BreakerOutcome,
  BreakerPermit,
} from '../policy/breaker/index.js';
export { HealthChecker, DEFAULT_HEALTH_CHECK_SETTINGS } from '../policy/health-check/index.js';
export type {
  HealthCheckSettings,
  StatusRange,
  HealthCheckedEndpoint,
  HealthCheckResult,
  HealthCheckFunction,
  HealthCheckTimers,
  HealthCheckerOptions,
  HealthCheckFailureType,
} from '../policy/health-check/index.js';
export { OutlierDetector, DEFAULT_OUTLIER_SETTINGS, outlierLayer } from '../policy/outlier/index.js';
export type { OutlierSettings, OutlierHost, OutlierResult, OutlierHostStats, OutlierEndpoint, OutlierLayerOptions, OutlierEjectionType } from '../policy/outlier/index.js';
export type { RetryBudgetSettings, HedgingSettings } from '../config/extensions.js';
