/**
 * One try of a call on the wire: its CLIENT span (OpenTelemetry's stable HTTP client
 * conventions), the trace context it sends, `http.client.request.duration`, the
 * `proxyless:client:attempt:*` messages and, with `per: 'attempt'`, its access log entry.
 *
 * Made where the endpoint is known: the `telemetry` layer outermost in each endpoint's
 * stack, and the dispatcher's passthrough for hosts the mesh does not know. Retries and
 * hedges each go down an endpoint stack, so each gets its own span.
 *
 * The wire context: the try's span context is injected through the globally registered
 * propagator into the try's own copy of the headers, replacing any `traceparent`,
 * `tracestate` or `baggage` the caller put there (one of each on the wire). The request
 * then enters the pool with tracing suppressed in the active context, so an undici
 * instrumentation (`@opentelemetry/instrumentation-undici`, which appends its headers
 * when undici creates the request) makes a non-recording span and injects nothing:
 * exactly one CLIENT span and one `traceparent` per request in both set-ups.
 */
import type { Context, Span } from '@opentelemetry/api';
import { channel } from 'node:diagnostics_channel';
import type { Dispatcher } from 'undici';
import { cancellationOf } from '../core/cancellation.js';
import { replaceHeaders } from '../core/headers.js';
import type { CallTelemetry, TryKind } from './call-telemetry.js';
import { channels, type AttemptMessage } from './channels.js';
import { formatResponseFlags, responseFlagOfError } from './response-flags.js';
import { OutcomeHandler } from './outcome-handler.js';
import { errorTypeOf } from './service-metrics.js';
import { CALL_SPAN_EVENTS, CLIENT_SPAN_ATTRIBUTES as A, clientSpanName } from './span-definitions.js';
import { methodAttribute, OTHER } from './metric-definitions.js';

type Headers = Dispatcher.DispatchOptions['headers'];

/** The endpoint a try goes to. */
export interface AttemptEndpoint {
  /** IP address or host name. */
  readonly address: string;
  /** TCP port. */
  readonly port: number;
  /** `address:port`. */
  readonly key: string;
  /** Ejected by outlier detection (endpoints of mesh services only). */
  readonly ejected?: boolean;
  /** Discovery labels (for Istio's `destination_*`). */
  readonly labels?: Readonly<Record<string, string>>;
}

/** The SDK's key for "tracing suppressed" (`suppressTracing` of @opentelemetry/core): `createContextKey` is `Symbol.for`. */
const SUPPRESS_TRACING = Symbol.for('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/**
 * The channel undici publishes each request it creates on (every copy of undici, Node's
 * bundled one included): what undici instrumentations subscribe to. Entering a context
 * costs an AsyncLocalStorage run per try, so it is done only while someone listens.
 */
const requestCreated = channel('undici:request:create');

/**
 * Sends one try with its telemetry: `next(opts, handler)` with the try's headers and a
 * handler that reports its end. Without a call's telemetry on the options, it is `next`.
 */
export function sendAttempt(call: CallTelemetry, endpoint: AttemptEndpoint, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, next: (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => boolean): boolean {
  let attempt: AttemptTelemetry;
  let sent: Dispatcher.DispatchOptions = opts;
  let context: Context | undefined;
  try {
    attempt = new AttemptTelemetry(call, endpoint, handler, opts);
    context = attempt.context;
    const headers = attempt.inject(opts.headers);
    if (headers !== opts.headers) sent = { ...opts, headers };
  } catch (failure) {
    call.hub.reportFailure(failure);
    return next(opts, handler);
  }
  const api = call.hub.api;
  if (api === undefined || context === undefined || !requestCreated.hasSubscribers) return next(sent, attempt);
  // Suppressed for whatever undici instrumentation runs below (see the module's notes).
  return api.context.with(context.setValue(SUPPRESS_TRACING, true), next, undefined, sent, attempt);
}

/** See the module's notes. */
export class AttemptTelemetry extends OutcomeHandler {
  readonly #call: CallTelemetry;
  readonly #endpoint: AttemptEndpoint;
  readonly #number: number;
  readonly #kind: TryKind;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #start = performance.now();
  readonly #wasEjected: boolean;
  readonly #span: Span | undefined;
  /** The try's context (its span's), what goes on the wire. */
  readonly context: Context | undefined;
  readonly #message: AttemptMessage | undefined;

  constructor(call: CallTelemetry, endpoint: AttemptEndpoint, handler: Dispatcher.DispatchHandler, opts: Dispatcher.DispatchOptions) {
    super(handler);
    this.#call = call;
    this.#endpoint = endpoint;
    this.#opts = opts;
    this.#number = ++call.attempts;
    this.#kind = this.#number === 1 ? call.nextKind : call.nextKind === 'first' ? 'retry' : call.nextKind;
    this.#wasEjected = endpoint.ejected === true;
    call.upstream = endpoint.key;
    const tracer = call.hub.tracer();
    if (tracer !== undefined && call.context !== undefined) {
      const api = call.hub.api!;
      const method = methodAttribute(call.method);
      const server = call.hub.serverOf(call.origin);
      const attributes: Record<string, string | number | boolean> = {
        [A.method]: method,
        [A.urlFull]: call.hub.urlFull(call.origin, opts.path),
        [A.serverAddress]: server.address,
        [A.serverPort]: server.port,
        [A.peerAddress]: endpoint.address,
        [A.peerPort]: endpoint.port,
      };
      if (method === OTHER) attributes[A.methodOriginal] = call.method.slice(0, 64);
      if (this.#number > 1 && this.#kind !== 'mirror') attributes[A.resendCount] = this.#number - 1;
      if (this.#kind === 'hedge') attributes['proxyless.hedge'] = true;
      if (this.#kind === 'mirror') attributes['proxyless.mirror'] = true;
      this.#span = tracer.startSpan(clientSpanName(call.method), { kind: api.SpanKind.CLIENT, attributes }, call.context);
      this.context = api.trace.setSpan(call.context, this.#span);
    } else {
      this.context = call.context;
    }
    if (channels.attemptStart.hasSubscribers || channels.attemptEnd.hasSubscribers) {
      const parent = call.message ?? call.hub.detachedMessage(call);
      this.#message = { call: parent, attempt: this.#number, kind: this.#kind, service: call.service?.passthrough === false ? call.service.fqdn : undefined, endpoint: endpoint.key, startTime: this.#start };
      if (channels.attemptStart.hasSubscribers) channels.attemptStart.publish(this.#message);
    }
  }

  /** The headers with this try's context written by the global propagator (the same object when it writes none). */
  inject(headers: Headers): Headers {
    const context = this.context;
    const api = this.#call.hub.api;
    if (context === undefined || api === undefined) return headers;
    const carrier: Record<string, string> = {};
    api.propagation.inject(context, carrier);
    // A caller's own trace headers (a tracestate or baggage when the context has none) are
    // dropped too: what goes on the wire is this try's context alone.
    return replaceHeaders(headers, carrier, TRACE_HEADERS);
  }

  protected override reportFailure(failure: unknown): void {
    this.#call.hub.reportFailure(failure);
  }

  protected override report(error: Error | undefined): void {
    const call = this.#call;
    const ms = performance.now() - this.#start;
    const status = error === undefined ? this.status : 0;
    // Ended by the mesh (a hedge that lost, a per-try or route timeout, the caller's abort).
    const cancelled = error !== undefined && cancellationOf(this.#opts)?.cancelled === true;
    const errorType = cancelled && error !== undefined && responseFlagOfError(error) === 0 ? 'cancelled' : errorTypeOf(error, status);
    if (error === undefined && status > 0 && call.service !== undefined && call.hub.istio) {
      const labels = this.#endpoint.labels;
      if (labels !== undefined) call.peer = call.hub.peerOf(labels, call.service.fqdn);
    }
    call.metrics?.attempt(call.method, status, errorType, ms / 1000);
    const ejectedNow = this.#endpoint.ejected === true && !this.#wasEjected;
    if (ejectedNow) call.span?.addEvent(CALL_SPAN_EVENTS.endpointEjected, { [A.peerAddress]: this.#endpoint.address, [A.peerPort]: this.#endpoint.port });
    const span = this.#span;
    if (span !== undefined) {
      if (status !== 0) span.setAttribute(A.statusCode, status);
      if (errorType !== undefined) {
        span.setAttribute(A.errorType, errorType);
        span.setStatus({ code: call.hub.api!.SpanStatusCode.ERROR });
      }
      span.end();
    }
    const message = this.#message;
    const flags = error === undefined ? 0 : responseFlagOfError(error);
    if (message !== undefined) {
      message.statusCode = status;
      message.error = error;
      message.responseFlags = formatResponseFlags(flags);
      message.cancelled = cancelled;
      message.durationMs = ms;
      if (channels.attemptEnd.hasSubscribers) channels.attemptEnd.publish(message);
    }
    const log = call.hub.log;
    if (log !== undefined && log.per === 'attempt' && log.sample()) {
      log.write(call.hub.entry(call, status, flags, ms, this.#endpoint.key, this.#number, this.bytes, this.#start));
    }
  }
}

/** The W3C and baggage headers: a try sends its own or none. */
const TRACE_HEADERS: readonly string[] = ['traceparent', 'tracestate', 'baggage'];
