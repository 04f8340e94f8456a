/**
 * Active health checks of endpoints.
 * @module
 */
export * from './health-check.js';
export * from './types.js';
export * from './settings.js';
