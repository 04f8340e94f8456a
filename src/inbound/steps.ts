import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import { otelApi, type OtelApiModule } from '../telemetry/otel-api.js';
import { DEADLINE_HEADER, currentDeadline, runWithDeadline } from '../policy/deadline/index.js';
import { AdaptiveConcurrencyLimiter, type LoadSheddingSettings } from './adaptive-concurrency.js';
import type { InboundExchange } from './exchange.js';
import { inboundLayer, type InboundLayer } from './inbound-stack.js';
import type { MeshLifecycle } from './lifecycle.js';
import { LocalRateLimiter, type TokenBucket } from './rate-limit.js';
import type { RateLimitSettings } from '../config/settings/rate-limit.js';
import { GRPC_TIMEOUT_HEADER, requestDeadline } from './request-deadline.js';
import { pathOf } from './inbound-telemetry.js';

/** The health endpoints' paths. */
export interface HealthPaths {
  readonly ready: string;
  readonly live: string;
}

/**
 * `health`: answers the readiness and liveness paths (any method, any query) before
 * anything else; they are not traced, counted or limited (Istio's agent answers them
 * on its own port, outside the proxy's stats).
 */
export function healthLayer(paths: HealthPaths | undefined, lifecycle: MeshLifecycle): InboundLayer {
  return inboundLayer('health', (next) => {
    if (paths === undefined) return next;
    return (x) => {
      const url = x.req.url;
      if (url === undefined || !(url.startsWith(paths.ready) || url.startsWith(paths.live))) return next(x);
      const path = pathOf(url);
      if (path === paths.live) return x.reply(200, 'live\n');
      if (path !== paths.ready) return next(x);
      const reason = lifecycle.notReadyReason();
      if (reason === undefined) return x.reply(200, 'ready\n');
      x.flag('LH');
      // During a drain, health checks also close their connection, like every response.
      return x.reply(503, `not ready: ${reason}\n`, lifecycle.draining ? { connection: 'close' } : undefined);
    };
  });
}

/** `drain`: counts the request in flight; during a drain its response closes the connection. */
export function drainLayer(lifecycle: MeshLifecycle): InboundLayer {
  const leave = (x: InboundExchange): void => lifecycle.leave(x);
  return inboundLayer('drain', (next) => (x) => {
    lifecycle.enter(x);
    x.onEnd(leave);
    next(x);
  });
}

/** `deadline`: the caller's deadline; a request whose deadline already passed gets 504 at once. */
export function deadlineLayer(): InboundLayer {
  return inboundLayer('deadline', (next) => (x) => {
    const headers = x.req.headers;
    // The common case, no deadline header: no clock read.
    if (headers[DEADLINE_HEADER] === undefined && headers[GRPC_TIMEOUT_HEADER] === undefined) return next(x);
    const deadline = requestDeadline(headers, x.startedEpoch);
    if (deadline !== undefined) {
      x.deadline = deadline;
      if (deadline <= x.startedEpoch) {
        x.flag('UT');
        return x.reply(504, 'deadline exceeded: the request arrived with no time left\n');
      }
    }
    next(x);
  });
}

/** `rate-limit`: Envoy's local rate limit; a refusal is answered with the status (429) and `x-ratelimit-*`. */
export function rateLimitLayer(settings: RateLimitSettings | undefined): InboundLayer {
  return inboundLayer('rate-limit', (next) => {
    if (settings === undefined) return next;
    const limiter = new LocalRateLimiter(settings, performance.now());
    return (x) => {
      const now = performance.now();
      const decision = limiter.decide(x.req, pathOf(x.req.url), x.peer?.principal, now);
      if (!decision.allowed) {
        x.flag('RL');
        return x.reply(settings.status, 'local_rate_limited', rateLimitHeaders(decision.bucket!, now));
      }
      if (settings.responseHeaders && decision.bucket !== undefined) {
        const headers = rateLimitHeaders(decision.bucket, now);
        for (const name in headers) x.res.setHeader(name, headers[name]!);
      }
      next(x);
    };
  });
}

function rateLimitHeaders(bucket: TokenBucket, now: number): Record<string, string> {
  return {
    'x-ratelimit-limit': String(bucket.settings.maxTokens),
    'x-ratelimit-remaining': String(Math.floor(bucket.remaining(now))),
    'x-ratelimit-reset': String(bucket.resetSeconds(now)),
  };
}

/**
 * `load-shedding`: the adaptive concurrency limit; above it, 503 at once with flag `OM`
 * (the request never queues). A request's latency counts once its response is complete;
 * one whose caller went away counts nothing.
 */
export function loadSheddingLayer(settings: LoadSheddingSettings | undefined): InboundLayer {
  return inboundLayer('load-shedding', (next) => {
    if (settings === undefined) return next;
    const limiter = new AdaptiveConcurrencyLimiter(settings, performance.now());
    const release = (x: InboundExchange): void => {
      const now = performance.now();
      limiter.release(now, x.res.writableFinished ? now - x.startedAt : undefined);
    };
    return (x) => {
      if (!limiter.tryAcquire(performance.now())) {
        x.flag('OM');
        return x.reply(503, 'overloaded: concurrency limit reached\n');
      }
      x.onEnd(release);
      next(x);
    };
  });
}

/**
 * `context` (terminal): runs the application with the request's deadline (for nested
 * mesh calls, through `withDeadline`'s AsyncLocalStorage) and its OpenTelemetry context
 * (the SERVER span), so calls made while handling it are its children with no code from
 * the user.
 */
export function contextLayer(): InboundLayer {
  return inboundLayer('context', () => (x) => {
    // No trace context, no deadline and none to clear (no SDK, no deadline header): the
    // handler runs in the connection's context as it is, with no closure and no context switch.
    if (x.otelContext === undefined && x.deadline === undefined && currentDeadline() === undefined) return proceedNow(x);
    enterRequestContext(x, () => proceedNow(x));
  });
}

function proceedNow(x: InboundExchange): void {
  keepContextForBody(x.req);
  x.proceed();
}

/**
 * A request body is read through events the HTTP parser emits from the connection's
 * own async context, where the request's deadline and trace context are lost (body
 * parsers such as `express.json()`, then everything after them, would run without
 * them). Its listeners are run in the request's context instead, as OpenTelemetry's
 * HTTP instrumentation binds the request's emitter. Only for a body still to come.
 */
function keepContextForBody(req: IncomingMessage): void {
  if (req.complete || (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined)) return;
  const run = AsyncLocalStorage.snapshot();
  const emit = req.emit;
  req.emit = function emitInRequestContext(this: IncomingMessage, ...args: Parameters<IncomingMessage['emit']>): boolean {
    return run(() => emit.apply(this, args));
  } as IncomingMessage['emit'];
}

let api: OtelApiModule | null | undefined;

/**
 * Runs `fn` in the request's context: its deadline and its OpenTelemetry context. The
 * Fastify adapter calls it again before the handler (body parsing loses the context).
 */
export function enterRequestContext<T>(x: InboundExchange, fn: () => T): T {
  if (x.otelContext !== undefined) {
    api ??= otelApi() ?? null;
    if (api !== null) return api.context.with(x.otelContext as Parameters<OtelApiModule['context']['with']>[0], runWithDeadline<T>, undefined, x.deadline, fn);
  }
  return runWithDeadline(x.deadline, fn);
}
