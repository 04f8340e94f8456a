/**
 * Every error class the mesh raises, in one place. Each has a stable `code`
 * (`PROXYLESS_ERR_*`) that programs can switch on, and a message that says what
 * happened, to which service or endpoint, and what to change.
 *
 * @module
 */
export * from './base.js';
export * from './runtime.js';
export * from './timeouts.js';
export * from './identity.js';
