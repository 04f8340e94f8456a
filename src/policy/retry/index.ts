/**
 * Retries: the retry layer and the compiled retry policy it follows (Istio's HTTPRetry, Envoy's semantics).
 * @module
 */
export * from './retry-layer.js';
export * from './retry-policy.js';
export * from './settings.js';
export * from './state.js';
