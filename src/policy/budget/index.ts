/**
 * The retry budget: bounds retries and hedges to a share of the requests in flight.
 * @module
 */
export * from './retry-budget.js';
export * from './settings.js';
