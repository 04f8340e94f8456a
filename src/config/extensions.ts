import * as z from 'zod';
import { annotationRaw, parseAnnotationJson, readAnnotation, type AnnotationSchema } from './annotation-json.js';
import { durationField, durationSchema, durationToMs } from './istio/common.js';
import type { RetryBudgetSettings } from '../policy/budget/settings.js';
import type { HedgingSettings } from '../policy/hedge/settings.js';

export type { RetryBudgetSettings, HedgingSettings };

/**
 * Our extensions to Istio's resources travel as annotations, the Kubernetes way, so the
 * same YAML still applies to a cluster (Istio's CRDs reject unknown spec fields). Values
 * are JSON (or YAML flow) objects.
 */
export const ANNOTATIONS = {
  /** DestinationRule: the service's retry budget. */
  retryBudget: 'proxyless.dev/retry-budget',
  /** VirtualService: hedged (backup) requests for its routes. */
  hedging: 'proxyless.dev/hedging',
  /** DestinationRule: the service-level circuit breaker. */
  circuitBreaker: 'proxyless.dev/circuit-breaker',
  /** DestinationRule: active HTTP health checks. */
  healthCheck: 'proxyless.dev/health-check',
  /** VirtualService: replay non-idempotent requests that may have reached the application (Istio does; we do not by default). */
  retryNonIdempotent: 'proxyless.dev/retry-non-idempotent',
} as const;

/** The retry-non-idempotent annotation's JSON. 
 * @hidden
 */
export const retryNonIdempotentSchema = z.strictObject({ routes: z.array(z.string().min(1)).optional() });
const RETRY_NON_IDEMPOTENT: AnnotationSchema<z.output<typeof retryNonIdempotentSchema>> = {
  key: ANNOTATIONS.retryNonIdempotent,
  schema: retryNonIdempotentSchema,
  example: '{"routes": ["checkout"]}',
  fields: Object.keys(retryNonIdempotentSchema.shape),
};

/**
 * The routes of a VirtualService that opt in to replaying non-idempotent requests
 * (annotation `proxyless.dev/retry-non-idempotent: '{"routes": ["checkout"]}'`, or `'{}'`
 * for all its routes): a predicate on the route name, or undefined when absent.
 */
export function retryNonIdempotentRoutes(annotations: unknown, where: string): ((route: string) => boolean) | undefined {
  const spec = readAnnotation(annotations, RETRY_NON_IDEMPOTENT, where);
  if (!spec) return undefined;
  const routes = spec.routes;
  return routes === undefined ? () => true : (route) => routes.includes(route);
}

/** The retry budget annotation's JSON. 
 * @hidden
 */
export const retryBudgetSchema = z.strictObject({
  disabled: z.boolean().optional(),
  percent: z.number().min(0).max(1000).optional(),
  minRetriesPerSecond: z.number().min(0).max(100_000).optional(),
  // Finagle's bounds for a budget's ttl: shorter forgets the traffic it is meant to
  // measure, longer makes a burst of retries wait minutes for the budget to refill.
  ttl: durationField({ min: 1000, max: 60_000, minReason: 'a retry budget counts the requests of at least the last second', maxReason: 'longer lets a retry storm build up for minutes' }).optional(),
});

/** The hedging annotation's JSON. 
 * @hidden
 */
export const hedgingSchema = z
  .strictObject({
    delay: durationSchema.optional(),
    percentile: z.number().min(50).max(99.9).optional(),
    maxExtraPercent: z.number().min(0).max(100).optional(),
    routes: z.array(z.string()).optional(),
  })
  .refine((h) => (h.delay === undefined) !== (h.percentile === undefined), { error: 'exactly one of delay, percentile' });

const RETRY_BUDGET: AnnotationSchema<z.output<typeof retryBudgetSchema>> = {
  key: ANNOTATIONS.retryBudget,
  schema: retryBudgetSchema,
  example: '{"percent": 20, "minRetriesPerSecond": 10, "ttl": "10s"}',
  fields: Object.keys(retryBudgetSchema.shape),
};
const HEDGING: AnnotationSchema<z.output<typeof hedgingSchema>> = {
  key: ANNOTATIONS.hedging,
  schema: hedgingSchema,
  example: '{"percentile": 95, "maxExtraPercent": 5}',
  fields: Object.keys(hedgingSchema.shape),
};

/** The retry budget annotation of a DestinationRule, with defaults; undefined when absent. */
export function retryBudgetSettings(annotations: unknown, where: string): RetryBudgetSettings | undefined {
  const spec = readAnnotation(annotations, RETRY_BUDGET, where);
  if (!spec) return undefined;
  return {
    disabled: spec.disabled ?? false,
    percent: spec.percent ?? 20,
    minRetriesPerSecond: spec.minRetriesPerSecond ?? 10,
    ttlMs: spec.ttl ? durationToMs(spec.ttl) : 10_000,
  };
}

/** The hedging annotation of a VirtualService; undefined when absent. */
export function hedgingSettings(annotations: unknown, where: string): HedgingSettings | undefined {
  const spec = readAnnotation(annotations, HEDGING, where);
  if (!spec) return undefined;
  return {
    delayMs: spec.delay ? durationToMs(spec.delay) : undefined,
    percentile: spec.percentile,
    maxExtraPercent: spec.maxExtraPercent ?? 5,
    routes: spec.routes,
  };
}

/**
 * An annotation's value: its JSON text parsed (an object given in place of text is
 * taken as it is), bounded, or undefined when absent. The breaker and health checks
 * validate it with their own schemas; see {@link parseAnnotationJson}, the one parser.
 */
export function annotationValue(annotations: unknown, key: string, where: string): unknown {
  const raw = annotationRaw(annotations, key);
  return raw === undefined ? undefined : parseAnnotationJson(raw, key, where);
}
