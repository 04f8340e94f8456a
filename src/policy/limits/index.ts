/**
 * Connection pool limits (maxConnections, pending and in-flight requests) and the layer that enforces them.
 * @module
 */
export * from './limits-layer.js';
export * from './connection-pool.js';
export * from './state.js';
