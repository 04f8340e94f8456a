/**
 * Active health checks of endpoints.
 * @module
 */
export * from './health-check.js';
