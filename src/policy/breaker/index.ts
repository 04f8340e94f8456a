/**
 * The circuit breaker: its settings, state machine and layer.
 * @module
 */
export * from './circuit-breaker.js';
