/**
 * The circuit breaker: its settings, state machine and layer.
 * @module
 */
export * from './circuit-breaker.js';
export * from './settings.js';
export * from './types.js';
export * from './breaker-layer.js';
