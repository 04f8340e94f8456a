/**
 * Deadlines: the request deadline carried in async context and in the x-envoy-expected-rq-timeout-ms header.
 * @module
 */
export * from './deadline.js';
