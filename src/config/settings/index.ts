/**
 * Settings parsers: Istio objects and our annotations, validated into the typed
 * settings each policy takes (the types live in the policy's folder; config produces
 * them, policies never import config).
 *
 * @module
 */
export * from './breaker.js';
export * from './connection-pool.js';
export * from './health-check.js';
export * from './outlier.js';
export * from './retry.js';
