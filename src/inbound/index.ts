/**
 * The server side's building blocks, published as `proxyless/inbound`
 * (src/entries/inbound.ts): what the Express and Fastify adapters wrap (the structural
 * mesh types `inbound()` and the server take), the drain lifecycle, the rate limiter and
 * the adaptive concurrency limiter with their settings, deadline parsing, and the peer
 * and token of a request. What an application uses to serve (`inbound`, the inbound stack
 * and its layers, the options, the request's `mesh` view) is in the root entry,
 * src/index.ts. See docs/serving.md.
 */
export type { InboundMesh } from './inbound.js';
export type { CallerSpanContext } from './exchange.js';
export { enterRequestContext } from './steps.js';
export { MeshLifecycle, lifecycleOf } from './lifecycle.js';
export type { DrainRegistration, LifecycleEvents, LifecycleState, LifecycleMesh } from './lifecycle.js';
export { TokenBucket, LocalRateLimiter } from './rate-limit.js';
export type { RateLimitDecision } from './rate-limit.js';
export { MIN_FILL_INTERVAL_MS } from '../config/settings/rate-limit.js';
export type { RateLimitSettings, DescriptorSettings, TokenBucketSettings } from '../config/settings/rate-limit.js';
export { AdaptiveConcurrencyLimiter, loadSheddingSettings } from './adaptive-concurrency.js';
export type { LoadSheddingSettings } from './adaptive-concurrency.js';
export { requestDeadline, parseGrpcTimeout, GRPC_TIMEOUT_HEADER } from './request-deadline.js';
export type { TelemetryView } from './inbound-telemetry.js';
export type { RateLimitConfigMesh } from './rate-limit-config.js';
export type { InboundTarget } from './types.js';
export type { MeshServerMesh } from './mesh-server.js';
export { socketPeer, requestAuthOf } from './security-steps.js';
export type { SecurityMesh, InboundSecurityView } from './security-steps.js';
