import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RateLimitOptions } from '../config/settings/rate-limit.js';
import type { LoadSheddingOptions } from './adaptive-concurrency.js';
import type { DrainOptions } from './lifecycle.js';
import type { InboundStack } from './inbound-stack.js';
import type { InboundTelemetryOptions } from './inbound-telemetry.js';

/** The caller's trace context, as it arrived (W3C `traceparent` / `tracestate`). */
export interface CallerTraceContext {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** The caller's span: 16 lower-case hex digits. */
  readonly spanId: string;
  /** The trace flags byte (bit 0: sampled; bit 1: random trace id, W3C Level 2). */
  readonly traceFlags: number;
  /** The `tracestate` list as it will be passed on, if any. */
  readonly traceState: string | undefined;
}

/**
 * The caller's workload identity (mTLS peer), verified by the mesh's server
 * (`mesh.createServer`) and set by the `identity` step; undefined for plaintext callers.
 */
export interface PeerIdentity {
  /** `spiffe://cluster.local/ns/default/sa/reviews`. */
  readonly spiffeId: string;
  /** Istio's principal: the SPIFFE ID without `spiffe://`. */
  readonly principal: string;
}

/**
 * What the mesh knows about a request being served: `req.mesh` (node:http and Express),
 * `request.mesh` (Fastify).
 */
export interface RequestMesh {
  /** The caller's trace context, when the request carried a valid one and `@opentelemetry/api` is installed. */
  readonly trace: CallerTraceContext | undefined;
  /**
   * The request's deadline (epoch ms), from `x-envoy-expected-rq-timeout-ms` or
   * `grpc-timeout`; undefined when the caller set none. Mesh calls made while handling
   * the request inherit it.
   */
  readonly deadline: number | undefined;
  /** Milliseconds left before the deadline (0 when passed); undefined without a deadline. */
  readonly remainingMs: number | undefined;
  /** The caller's workload identity (mTLS, verified by `mesh.createServer`); undefined for plaintext callers. */
  readonly peer: PeerIdentity | undefined;
  /**
   * Aborted when the caller goes away before the response is complete, or when the
   * deadline passes: hand it to work that should stop then. Made on first use.
   */
  readonly signal: AbortSignal;
}

/** A node:http request as an inbound handler sees it: with {@link RequestMesh} as `req.mesh`. */
export type MeshIncomingMessage = IncomingMessage & {
  /** What the mesh knows about the request. */
  readonly mesh: RequestMesh;
};

/**
 * Options of {@link inbound} and of the Express and Fastify adapters. Every field is
 * optional and validated once, when the inbound is built (`InvalidOptionError` naming the
 * field, the value and what was expected).
 */
export interface InboundOptions {
  /**
   * Health endpoints answered before the application's routes: `/healthz/ready` (200 once
   * discovery sources answered and registrations are done, 503 from the start of a drain)
   * and `/healthz/live` (200). `false` turns them off. Default: on, with those paths.
   */
  health?:
    | false
    | {
        /** Readiness path. Default `/healthz/ready`. */
        readonly readyPath?: string;
        /** Liveness path. Default `/healthz/live`. */
        readonly livePath?: string;
      };
  /** Graceful drain settings (see {@link DrainOptions}); `signals` installs the SIGTERM/SIGINT handler. */
  drain?: DrainOptions;
  /** Local rate limiting with Envoy's token buckets (off by default). */
  rateLimit?: RateLimitOptions;
  /** Load shedding with an adaptive concurrency limit (off by default). */
  loadShedding?: LoadSheddingOptions;
  /** Server spans, metrics and the access log of the inbound side. */
  telemetry?: InboundTelemetryOptions;
  /**
   * The route template of a request (`/orders/:id`), for `http.route` on spans and
   * metrics: never the raw path (unbounded). The adapters supply the framework's own;
   * for node:http give yours, or leave it unset (no `http.route`).
   */
  route?: (req: IncomingMessage) => string | undefined;
  /** Edits the inbound stack (insert, replace or remove steps by role). */
  stack?: (stack: InboundStack) => void;
}

/** The `(req, res)` pair an inbound step works on, with the request's mesh state. */
export interface InboundTarget {
  /** The mesh's namespace, for names in errors. */
  readonly namespace: string;
}

export type { IncomingMessage, ServerResponse };
