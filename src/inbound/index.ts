/**
 * The server side of the mesh: the inbound stack (health, drain, telemetry, identity and
 * authorization slots, deadline, rate limit, load shedding, context) for node:http
 * servers, and the core the Express and Fastify adapters wrap.
 */
export { inbound, Inbound } from './inbound.js';
export type { InboundEvents, InboundMesh } from './inbound.js';
export { InboundExchange } from './exchange.js';
export type { Finisher, CallerSpanContext } from './exchange.js';
export { InboundStack, inboundLayer } from './inbound-stack.js';
export type { InboundLayer, InboundHandler } from './inbound-stack.js';
export { enterRequestContext } from './steps.js';
export { MeshLifecycle, lifecycleOf } from './lifecycle.js';
export type { DrainedInfo, DrainOptions, DrainRegistration, LifecycleEvents, LifecycleState, LifecycleMesh } from './lifecycle.js';
export { TokenBucket, LocalRateLimiter } from './rate-limit.js';
export type { RateLimitDecision } from './rate-limit.js';
export { MIN_FILL_INTERVAL_MS } from '../config/settings/rate-limit.js';
export type { PathMatch, RateLimitOptions, RateLimitDescriptorOptions, TokenBucketOptions, RateLimitSettings, DescriptorSettings, TokenBucketSettings } from '../config/settings/rate-limit.js';
export { AdaptiveConcurrencyLimiter, loadSheddingSettings } from './adaptive-concurrency.js';
export type { LoadSheddingOptions, LoadSheddingSettings } from './adaptive-concurrency.js';
export { requestDeadline, parseGrpcTimeout, GRPC_TIMEOUT_HEADER } from './request-deadline.js';
export type { InboundTelemetryOptions, TelemetryView } from './inbound-telemetry.js';
export type { RateLimitConfigMesh } from './rate-limit-config.js';
export type { InboundOptions, RequestMesh, CallerTraceContext, PeerIdentity, MeshIncomingMessage, InboundTarget } from './types.js';
