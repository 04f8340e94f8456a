/**
 * Mesh config from TypeScript: the resource types and the extensions' typed options
 * (the builders that validate them are in src/compile/builders.ts, next to the loader they run).
 *
 * @module
 */
export type {
  VirtualService,
  DestinationRule,
  ServiceEntry,
  VirtualServiceInput,
  DestinationRuleInput,
  ServiceEntryInput,
  DurationInput,
  RetryBudgetOptions,
  HedgingOptions,
  CircuitBreakerOptions,
  HealthCheckOptions,
  StatusInput,
  StatusRangeInput,
  WithDurations,
  ResourceMetadataInput,
  VirtualServiceSpec,
  DestinationRuleSpec,
  ServiceEntrySpec,
  RetryNonIdempotentOptions,
} from './types.js';
