/**
 * `proxyless/config`: reading and checking mesh config apart from a mesh: YAML parsing,
 * `checkConfig` (what `proxyless check` runs), diagnostics, and the annotation names of
 * our extensions. The resource types and builders are in the root entry too. See
 * docs/api.md and docs/config-from-code.md.
 *
 * @module proxyless/config
 */
export { parseMeshYaml } from '../config/parse-mesh-yaml.js';
export { checkConfig } from '../compile/check-config.js';
export type { ConfigCheck, CheckConfigOptions } from '../compile/check-config.js';
export type { SkippedResource } from '../config/load-config.js';
export { renderDiagnostic } from '../core/errors/index.js';
export { declaresNoResources, EMPTY_CONFIG_MARKER } from '../config/empty-config.js';
export { ANNOTATIONS } from '../config/extensions.js';
export { PROXYLESS_API_VERSION } from '../config/proxyless/local-rate-limit.js';
// The zod schemas of our extensions' annotations: the typed options' types derive from
// them (see docs/config-from-code.md), so declarations that name them can be emitted.
export { retryBudgetSchema, hedgingSchema, retryNonIdempotentSchema } from '../config/extensions.js';
export { breakerAnnotationObject } from '../config/settings/breaker.js';
export { healthCheckAnnotationSchema } from '../config/settings/health-check.js';
