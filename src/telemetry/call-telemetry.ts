/**
 * The telemetry of one logical call through the mesh: its INTERNAL span (`mesh GET`),
 * what the layers tell it on the way (route, service, retries, hedges, faults), and at
 * its end the call's metrics, access log entry and `proxyless:client:call:end` message.
 *
 * It is also a handler: the dispatcher puts it between the call (RootCall) and the
 * caller's handler, so it sees the status, the body's bytes and the end whichever way
 * the call ends, and forwards everything unchanged. One object per call; nothing else is
 * allocated per call unless a span, a log entry or a channel message is wanted.
 *
 * Why the call span is INTERNAL, not CLIENT: the HTTP conventions give one CLIENT span
 * per request on the wire (each resend its own), and a CLIENT span is what a backend
 * pairs with the server's SERVER span; a CLIENT parent over CLIENT children would count
 * one request twice in service graphs. The call span is the mesh's own work around them.
 */
import type { Context, Span } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import { OutcomeHandler } from './outcome-handler.js';
import { clusterName } from './access-log.js';
import type { CallHooks, RetryStop } from '../core/call-hooks.js';
import { channels, type CallMessage } from './channels.js';
import type { OutboundTelemetry, ServiceInfo } from './outbound-telemetry.js';
import { ResponseFlag, formatResponseFlags, responseFlagOfError } from './response-flags.js';
import type { RetryStopReason, ServiceMetrics } from './service-metrics.js';
import { errorTypeOf } from './service-metrics.js';
import { CALL_SPAN_ATTRIBUTES as CALL, CALL_SPAN_EVENTS as EVENTS, callSpanName } from './span-definitions.js';
import type { WorkloadIdentity } from './workload.js';

/** The kind of the next try a layer sends. */
export type TryKind = 'first' | 'retry' | 'hedge' | 'mirror';

/** See the module's notes. */
export class CallTelemetry extends OutcomeHandler implements CallHooks {
  readonly hub: OutboundTelemetry;
  /** The request method as given. */
  readonly method: string;
  /** `scheme://host[:port]` as the caller wrote it. */
  readonly origin: string;
  /** The path and query (normalised). */
  readonly path: string;
  /** The request's headers as the caller gave them (for the access log). */
  readonly headers: Dispatcher.DispatchOptions['headers'];
  /** `performance.now()` at the start. */
  readonly startTime = performance.now();
  /** A mirrored copy's call. */
  readonly mirror: boolean;
  /** The call span, when tracing is live. */
  readonly span: Span | undefined;
  /** The context the tries are made in: the call span's, or the caller's when no span is made. */
  readonly context: Context | undefined;
  /** The destination, once the dispatcher picked it. */
  service: ServiceInfo | undefined;
  /** Its metrics. */
  metrics: ServiceMetrics | undefined;
  /** `<virtual service>.<route>` when a VirtualService routed the call. */
  route: string | undefined;
  /** Tries sent so far (mirrors are calls of their own). */
  attempts = 0;
  /** Whether a hedged try was sent. */
  hedged = false;
  /** The kind of the next try (set by the retry and hedge layers just before they send it). */
  nextKind: TryKind;
  /** Flags the layers raised beyond what the error says (faults, URX, UO, NR). */
  flags = 0;
  /** The retry layer's last reason not to retry. */
  stop: RetryStop | undefined;
  /**
   * Request body bytes (for the access log): the body's length when it is a string or
   * bytes, else what the last try wrote of it (undici's `onBodySent`).
   */
  requestBytes: number;
  #sentBy = 0;
  /** The endpoint of the last try, `address:port`. */
  upstream: string | undefined;
  /** The identity of the endpoint that answered, for Istio's `destination_*` labels. */
  peer: WorkloadIdentity | undefined;
  /** The `proxyless:client:call:*` message, when someone subscribes. */
  readonly message: CallMessage | undefined;

  constructor(hub: OutboundTelemetry, caller: Dispatcher.DispatchHandler, opts: Dispatcher.DispatchOptions, origin: string, parent: Context | undefined, mirror: boolean) {
    super(caller);
    this.hub = hub;
    this.method = opts.method;
    this.origin = origin;
    this.path = opts.path;
    this.headers = opts.headers;
    this.mirror = mirror;
    this.requestBytes = hub.log === undefined ? 0 : bodyLength(opts.body);
    // A known length is the answer; otherwise the bytes written are counted.
    if (this.requestBytes > 0 || hub.log === undefined) this.#sentBy = -1;
    this.nextKind = mirror ? 'mirror' : 'first';
    const tracer = hub.tracer();
    if (tracer !== undefined) {
      const api = hub.api!;
      const span = tracer.startSpan(callSpanName(this.method), { kind: api.SpanKind.INTERNAL, attributes: mirror ? { [CALL.mirror]: true } : undefined }, parent);
      this.span = span;
      this.context = api.trace.setSpan(parent ?? api.ROOT_CONTEXT, span);
    } else {
      this.context = parent;
    }
    // The retry and hedge messages carry the call's, so it is made for their subscribers too.
    if (channels.callStart.hasSubscribers || channels.callEnd.hasSubscribers || channels.retry.hasSubscribers || channels.hedge.hasSubscribers) {
      this.message = { direction: 'outbound', method: this.method, origin, path: this.path, service: undefined, startTime: this.startTime };
      if (channels.callStart.hasSubscribers) channels.callStart.publish(this.message);
    }
  }

  /** The dispatcher picked the destination (`passthrough`: a host the mesh does not know). */
  toService(info: ServiceInfo, metrics: ServiceMetrics | undefined, circuitState: string | undefined): void {
    this.service = info;
    this.metrics = metrics;
    if (this.message !== undefined && !info.passthrough) (this.message as { service: string | undefined }).service = info.fqdn;
    const span = this.span;
    if (span === undefined) return;
    if (info.passthrough) span.setAttribute(CALL.passthrough, true);
    else span.setAttribute(CALL.service, info.fqdn);
    if (info.subset !== undefined) span.setAttribute(CALL.subset, info.subset);
    span.setAttribute(CALL.balancer, info.balancer);
    if (circuitState !== undefined) span.setAttribute(CALL.circuitState, circuitState === 'half-open' ? 'half_open' : circuitState);
  }

  /** A VirtualService route took the call. */
  routed(virtualService: string, routeName: string, label: string): void {
    this.route = label;
    if (this.span === undefined) return;
    this.span.setAttribute(CALL.virtualService, virtualService);
    this.span.setAttribute(CALL.route, routeName);
  }

  /** A fault was injected (`delay`: DI; `abort`: FI). */
  fault(kind: 'delay' | 'abort'): void {
    this.flags |= kind === 'delay' ? ResponseFlag.DI : ResponseFlag.FI;
  }

  /** No route of the VirtualService matched (NR). */
  noRoute(): void {
    this.flags |= ResponseFlag.NR;
  }

  /** The retry layer will send try number `attempt` after `backoffMs`, because of `reason`. */
  retryScheduled(attempt: number, reason: string, backoffMs: number): void {
    this.nextKind = 'retry';
    this.stop = undefined;
    this.metrics?.retry(this.route);
    this.span?.addEvent(EVENTS.retryBackoff, { 'proxyless.retry.attempt': attempt, 'proxyless.retry.reason': reason, 'proxyless.retry.backoff_ms': backoffMs });
    if (channels.retry.hasSubscribers && this.message !== undefined) channels.retry.publish({ call: this.message, attempt, reason, backoffMs });
  }

  /** The retry layer decided not to retry an outcome it could have retried (or one it never retries). */
  retryStopped(reason: RetryStop): void {
    this.stop = reason;
    if (reason === 'attempts') this.flags |= ResponseFlag.URX;
    else if (reason === 'budget') {
      this.flags |= ResponseFlag.UO;
      this.span?.setAttribute(CALL.retryBudgetExhausted, true);
    }
  }

  /** The hedge layer sends a backup try after `afterMs`. */
  hedgeFired(afterMs: number): void {
    this.nextKind = 'hedge';
    this.hedged = true;
    this.metrics?.hedge(this.route);
    this.span?.addEvent(EVENTS.hedgeFired, { 'proxyless.hedge.attempt': this.attempts + 1, 'proxyless.hedge.after_ms': afterMs });
    if (channels.hedge.hasSubscribers && this.message !== undefined) channels.hedge.publish({ call: this.message, attempt: this.attempts + 1, afterMs });
  }

  /** A hedged (backup) try's response was the one used. */
  hedgeWon(): void {
    this.metrics?.hedgeWon(this.route);
  }

  /** The circuit breaker refused a try. */
  breakerRefused(): void {
    this.metrics?.breakerRefusal();
  }

  override onBodySent(chunk: Buffer): void {
    if (this.#sentBy !== -1) {
      // Counted per try: a retry sends the body again, and the entry gives one copy.
      if (this.#sentBy !== this.attempts) {
        this.#sentBy = this.attempts;
        this.requestBytes = 0;
      }
      this.requestBytes += chunk.length;
    }
    super.onBodySent(chunk);
  }

  /** Telemetry never fails a call: an SDK, exporter or logger that throws costs its report. */
  protected override reportFailure(failure: unknown): void {
    this.hub.reportFailure(failure);
  }

  protected override report(error: Error | undefined): void {
    const ms = performance.now() - this.startTime;
    const status = error === undefined ? this.status : 0;
    let flags = this.flags;
    if (error !== undefined) {
      flags |= responseFlagOfError(error);
      // The caller went away: whatever error that surfaced as, it is DC, not a timeout.
      if ((flags & ResponseFlag.DC) !== 0) flags &= ~ResponseFlag.UT;
    }
    const failed = error !== undefined || status >= 500;
    const metrics = this.metrics;
    if (metrics !== undefined) {
      metrics.call(this.route, status, flags, ms, this.peer);
      if (failed && (this.stop !== undefined || this.attempts > 1)) metrics.retryStopped(this.route, stopReason(flags, this.stop));
    }
    const span = this.span;
    if (span !== undefined) {
      span.setAttribute(CALL.attempts, this.attempts);
      span.setAttribute(CALL.hedged, this.hedged);
      if (flags !== 0) span.setAttribute(CALL.responseFlags, formatResponseFlags(flags));
      if (status !== 0) span.setAttribute('http.response.status_code', status);
      const errorType = errorTypeOf(error, status);
      if (errorType !== undefined) {
        span.setAttribute('error.type', errorType);
        if (error !== undefined) span.recordException(error);
        span.setStatus({ code: this.hub.api!.SpanStatusCode.ERROR });
      }
      span.end();
    }
    const message = this.message;
    if (message !== undefined) {
      message.route = this.route;
      message.statusCode = status;
      message.error = error;
      message.responseFlags = formatResponseFlags(flags);
      message.attempts = this.attempts;
      message.hedged = this.hedged;
      message.durationMs = ms;
      if (channels.callEnd.hasSubscribers) channels.callEnd.publish(message);
    }
    const log = this.hub.log;
    if (log !== undefined && log.per === 'call' && log.sample()) {
      log.write(this.hub.entry(this, status, flags, ms, this.upstream, this.attempts, this.bytes));
    }
  }

  /** The access log's `upstream_cluster` of this call. */
  cluster(): string {
    const s = this.service;
    if (s === undefined || s.passthrough) return clusterName('outbound', s?.port ?? 0, undefined, undefined);
    return clusterName('outbound', s.port, s.subset, s.fqdn);
  }
}

function bodyLength(body: unknown): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (ArrayBuffer.isView(body)) return body.byteLength;
  return 0;
}

/** The reason a failed call's retries stopped, for `proxyless.client.retries.stopped`. */
function stopReason(flags: number, stop: RetryStop | undefined): RetryStopReason {
  if ((flags & ResponseFlag.DC) !== 0 || (flags & ResponseFlag.LR) !== 0) return 'cancelled';
  if ((flags & ResponseFlag.UT) !== 0) return 'timeout';
  return stop ?? 'not_retryable';
}
