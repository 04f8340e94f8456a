/**
 * Hedging: a second try sent when the first is slower than the route's latency percentile.
 * @module
 */
export * from './hedge-layer.js';
export * from './latency-tracker.js';
export * from './settings.js';
