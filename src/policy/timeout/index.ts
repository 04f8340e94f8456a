/**
 * The route timeout layer.
 * @module
 */
export * from './timeout-layer.js';
