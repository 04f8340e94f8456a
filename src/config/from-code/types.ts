/**
 * Mesh config written in TypeScript: the Istio resources' types and our extensions'
 * option objects, each derived from the zod schema that validates it (`z.input`), so a
 * field the loader accepts is a field the type has, with the same name and optionality.
 *
 * @module
 */
import type * as z from 'zod';
import type { destinationRuleSchema, destinationRuleSpecSchema } from '../istio/destination-rule.js';
import type { serviceEntrySchema, serviceEntrySpecSchema } from '../istio/service-entry.js';
import type { virtualServiceSchema, virtualServiceSpecSchema } from '../istio/virtual-service.js';
import type { metadataSchema } from '../resource.js';
import type { hedgingSchema, retryBudgetSchema, retryNonIdempotentSchema } from '../extensions.js';
import type { breakerAnnotationObject } from '../settings/breaker.js';
import type { healthCheckAnnotationSchema } from '../settings/health-check.js';

/**
 * A resource's Kubernetes metadata as you may write it: `name` (DNS-1123), `namespace`,
 * `labels` and `annotations` (maps of strings); other fields are accepted and not used.
 */
export type ResourceMetadataInput = z.input<typeof metadataSchema>;

/** A VirtualService's `spec`: every field of Istio's, as the loader's schema takes it. */
export type VirtualServiceSpec = z.input<typeof virtualServiceSpecSchema>;

/** A DestinationRule's `spec`: every field of Istio's, as the loader's schema takes it. */
export type DestinationRuleSpec = z.input<typeof destinationRuleSpecSchema>;

/** A ServiceEntry's `spec`: every field of Istio's, as the loader's schema takes it. */
export type ServiceEntrySpec = z.input<typeof serviceEntrySpecSchema>;

/**
 * An Istio VirtualService as you may write it: the input type of the schema the loader
 * validates it with, so the two cannot drift.
 */
export type VirtualService = Omit<z.input<typeof virtualServiceSchema>, never>;

/** An Istio DestinationRule as you may write it: the input type of the loader's schema. */
export type DestinationRule = Omit<z.input<typeof destinationRuleSchema>, never>;

/** An Istio ServiceEntry as you may write it: the input type of the loader's schema. */
export type ServiceEntry = Omit<z.input<typeof serviceEntrySchema>, never>;

/**
 * A duration in our extensions' options: milliseconds (as undici's and cockatiel's
 * timeouts), or Go duration text as in the annotations and Istio (`"10s"`, `"250ms"`).
 */
export type DurationInput = number | string;

/** Replaces the duration fields `K` of `T` (text in the annotations) by {@link DurationInput}. */
export type WithDurations<T, K extends keyof T> = Omit<T, K> & { [P in K]?: DurationInput };

/**
 * A service's retry budget (annotation `proxyless.dev/retry-budget` on its
 * DestinationRule): retries allowed as `percent` of requests, at least
 * `minRetriesPerSecond`, counted over `ttl` (default 10 s).
 */
export type RetryBudgetOptions = WithDurations<z.input<typeof retryBudgetSchema>, 'ttl'>;

/**
 * Hedged (backup) requests for a VirtualService's routes (annotation
 * `proxyless.dev/hedging`): after a fixed `delay` or once a call is slower than the
 * service's `percentile`; at most `maxExtraPercent` extra requests; `routes` by name.
 */
export type HedgingOptions = WithDurations<z.input<typeof hedgingSchema>, 'delay'>;

/**
 * A service's circuit breaker (annotation `proxyless.dev/circuit-breaker`); the names are
 * opossum's (`errorThresholdPercentage`, `volumeThreshold`, `resetTimeout`), durations in
 * ms or text.
 */
export type CircuitBreakerOptions = WithDurations<z.input<typeof breakerAnnotationObject>, 'rollingWindow' | 'resetTimeout'>;

/** One expected status of a health check: `204`, `"200-399"` (inclusive) or `{ start: 200, end: 400 }` (end excluded). */
export type StatusInput = number | string | StatusRangeInput;

/** A half-open range of statuses. */
export interface StatusRangeInput {
  /** The first status of the range. */
  readonly start: number;
  /** The status after the last one of the range. */
  readonly end: number;
}

/**
 * Active HTTP health checks of a service's endpoints (annotation
 * `proxyless.dev/health-check`): `path`, `interval`, `timeout`, thresholds, expected
 * statuses.
 */
export type HealthCheckOptions = WithDurations<Omit<z.input<typeof healthCheckAnnotationSchema>, 'expectedStatuses'>, 'interval' | 'timeout'> & {
  /** Statuses that pass (default 200-399). */
  expectedStatuses?: readonly StatusInput[];
};

/**
 * Replaying non-idempotent requests that may have reached the application, for the
 * VirtualService's routes named in `routes` (all its routes when unset): annotation
 * `proxyless.dev/retry-non-idempotent`.
 */
export type RetryNonIdempotentOptions = z.input<typeof retryNonIdempotentSchema>;

/** What {@link virtualService} takes: the resource (`apiVersion`, `kind` optional) and our extensions. */
export type VirtualServiceInput = Omit<VirtualService, 'apiVersion' | 'kind'> & {
  /** Default `networking.istio.io/v1`. */
  apiVersion?: VirtualService['apiVersion'];
  /** Always `VirtualService`. */
  kind?: 'VirtualService';
  /** Hedged requests for its routes; becomes the `proxyless.dev/hedging` annotation. */
  hedging?: HedgingOptions;
  /** Replay non-idempotent requests on these routes; becomes `proxyless.dev/retry-non-idempotent`. */
  retryNonIdempotent?: RetryNonIdempotentOptions;
};

/** What {@link destinationRule} takes: the resource (`apiVersion`, `kind` optional) and our extensions. */
export type DestinationRuleInput = Omit<DestinationRule, 'apiVersion' | 'kind'> & {
  /** Default `networking.istio.io/v1`. */
  apiVersion?: DestinationRule['apiVersion'];
  /** Always `DestinationRule`. */
  kind?: 'DestinationRule';
  /** The service's retry budget; becomes `proxyless.dev/retry-budget`. */
  retryBudget?: RetryBudgetOptions;
  /** The service's circuit breaker; becomes `proxyless.dev/circuit-breaker`. */
  circuitBreaker?: CircuitBreakerOptions;
  /** Active health checks of its endpoints; becomes `proxyless.dev/health-check`. */
  healthCheck?: HealthCheckOptions;
};

/** What {@link serviceEntry} takes: the resource, `apiVersion` and `kind` optional. */
export type ServiceEntryInput = Omit<ServiceEntry, 'apiVersion' | 'kind'> & {
  /** Default `networking.istio.io/v1`. */
  apiVersion?: ServiceEntry['apiVersion'];
  /** Always `ServiceEntry`. */
  kind?: 'ServiceEntry';
};
