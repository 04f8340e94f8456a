/**
 * Mesh config from TypeScript: the resource types and the builders that validate them.
 *
 * @module
 */
export { virtualService, destinationRule, serviceEntry } from './builders.js';
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
