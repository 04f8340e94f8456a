import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OtelTraceState } from '../telemetry/api-types.js';
import { parseTraceParent } from '../telemetry/w3c-propagator.js';
import { W3CTraceState } from '../telemetry/w3c-trace-state.js';
import type { CallerTraceContext, PeerIdentity, RequestMesh } from './types.js';

/**
 * The caller's span context as OpenTelemetry's API extracts it (the API's `SpanContext`,
 * written out so the published declarations do not name the optional peer).
 */
export interface CallerSpanContext {
  /** 32 lower-case hex digits. */
  readonly traceId: string;
  /** The caller's span: 16 lower-case hex digits. */
  readonly spanId: string;
  /** The trace flags byte. */
  readonly traceFlags: number;
  /** The caller's `tracestate`, if any. */
  readonly traceState?: OtelTraceState;
}

/** Called once when an exchange ends (response complete or caller gone). */
export type Finisher = (exchange: InboundExchange) => void;

const kExchange = Symbol('proxyless.inboundExchange');

/**
 * One request being served, as the inbound steps see it. It is also the request's
 * {@link RequestMesh} (`req.mesh`): one object per request.
 *
 * Steps read the request, may answer it themselves ({@link InboundExchange.reply}), and
 * register a {@link Finisher} to run once when it ends: exactly once, whether the response
 * completed, the caller went away, or the handler threw.
 */
export class InboundExchange implements RequestMesh {
  /** The request. */
  readonly req: IncomingMessage;
  /** The response. */
  readonly res: ServerResponse;
  /** `performance.now()` when the request entered the inbound stack. */
  readonly startedAt: number;
  /** Deadline (epoch ms), set by the deadline step. */
  deadline: number | undefined;
  /** The caller's identity, set by the identity step (issue 14). */
  peer: PeerIdentity | undefined;
  /** Envoy response flags raised for this request (`RL`, `UT`, `DC`, ...), space-free short names. */
  flags: string | undefined;
  /** An error the handler (or a step) threw, for the span and the access log. */
  error: unknown;
  /** The OpenTelemetry context the handler runs in (the SERVER span's), when telemetry is on. */
  otelContext: unknown;
  /**
   * The caller's span context as OpenTelemetry extracted it; `null` when extraction found
   * none, undefined when it did not run (then `trace` reads the W3C headers itself).
   */
  callerSpanContext: CallerSpanContext | null | undefined;
  /** Continues to the application (set by the adapter; the terminal step calls it). */
  proceed: () => void;
  /** The route template, asked at the end (the framework knows it once it routed). */
  readonly routeOf: ((req: IncomingMessage) => string | undefined) | undefined;
  /**
   * Answers through the framework instead of the raw response (Fastify's `reply`, so its
   * hooks and logs see the answer); set by an adapter. Called as a method (`this` is the
   * exchange), so one shared function serves every request.
   */
  replier: ((this: InboundExchange, status: number, body: string, headers: Readonly<Record<string, string>> | undefined) => void) | undefined = undefined;
  /** What an adapter keeps per request (Fastify: its request and reply), so it needs no closure per request. */
  adapterState: unknown = undefined;
  /** Set once the request ended; finishers ran. */
  ended = false;
  /** True when the inbound itself answered (a refusal, a health check): the application never saw the request. */
  answeredByMesh = false;
  /** @internal Its slot among the mesh's requests in flight (-1: not counted). */
  inFlightSlot = -1;
  /** @internal The SERVER span, when the telemetry step started one (a field: a WeakMap costs more per request). */
  span: unknown = undefined;
  // The first two finishers in fields, more in an array: no array for the usual one to three.
  #finisher0: Finisher | undefined;
  #finisher1: Finisher | undefined;
  #moreFinishers: Finisher[] | undefined;
  #startedEpoch: number | undefined;
  #controller: AbortController | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #trace: CallerTraceContext | null | undefined;

  /** Where finishers' errors go. */
  readonly reportError: (error: unknown) => void;

  /**
   * @param proceed continues to the application; @param routeOf the route template, when
   * known; @param reportError where finishers' errors go
   */
  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    proceed: () => void,
    routeOf: ((req: IncomingMessage) => string | undefined) | undefined,
    reportError: (error: unknown) => void = defaultReport,
  ) {
    this.req = req;
    this.reportError = reportError;
    this.res = res;
    this.proceed = proceed;
    this.routeOf = routeOf;
    this.startedAt = performance.now();
    this.deadline = undefined;
    this.peer = undefined;
    this.flags = undefined;
    this.error = undefined;
    this.otelContext = undefined;
    this.callerSpanContext = undefined;
    (res as unknown as Record<symbol, InboundExchange>)[kExchange] = this;
    res.on('close', onResponseClose); // 'close' comes once; `on` spares the wrapper `once` allocates
  }

  /**
   * The wall-clock time (epoch ms) when the request entered the inbound stack. Read on
   * first use (the deadline step when a deadline header came, the access log), so a
   * request that needs neither costs no `Date.now()`.
   */
  get startedEpoch(): number {
    return (this.#startedEpoch ??= Date.now() - (performance.now() - this.startedAt));
  }

  /** The exchange of a response, if the inbound handles it. */
  static of(res: ServerResponse): InboundExchange | undefined {
    return (res as unknown as Record<symbol, InboundExchange | undefined>)[kExchange];
  }

  get trace(): CallerTraceContext | undefined {
    if (this.#trace === undefined) {
      const sc = this.callerSpanContext;
      if (sc === null) this.#trace = null;
      else if (sc !== undefined) this.#trace = { traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags, traceState: sc.traceState?.serialize() || undefined };
      else this.#trace = traceFromHeaders(this.req) ?? null;
    }
    return this.#trace ?? undefined;
  }

  get remainingMs(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline - Date.now());
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = (this.#controller = new AbortController());
      if (this.ended && !this.res.writableFinished) controller.abort(new Error('the caller went away before the response was complete'));
      else if (!this.ended && this.deadline !== undefined) {
        const left = this.deadline - Date.now();
        const expire = (): void => controller.abort(new Error("the request's deadline passed"));
        if (left <= 0) expire();
        else {
          this.#deadlineTimer = setTimeout(expire, left);
          this.#deadlineTimer.unref();
        }
      }
    }
    return this.#controller.signal;
  }

  /** Adds a {@link Finisher}; finishers run in the reverse order of their adding (inner steps first). */
  onEnd(finisher: Finisher): void {
    if (this.#finisher0 === undefined) this.#finisher0 = finisher;
    else if (this.#finisher1 === undefined) this.#finisher1 = finisher;
    else (this.#moreFinishers ??= []).push(finisher);
  }

  /** Adds a flag (Envoy's short name, e.g. `RL`). */
  flag(name: string): void {
    this.flags = this.flags === undefined ? name : this.flags.includes(name) ? this.flags : `${this.flags},${name}`;
  }

  /**
   * Answers the request from the mesh (a refusal, a health check). A no-op when the
   * response already started (the application answered first).
   */
  reply(status: number, body: string, headers?: Readonly<Record<string, string>>): void {
    this.answeredByMesh = true;
    const res = this.res;
    if (res.headersSent || res.writableEnded || res.destroyed) return;
    if (this.replier !== undefined) return this.replier(status, body, headers); // `this` is the exchange
    res.statusCode = status;
    if (headers) for (const name in headers) res.setHeader(name, headers[name]!);
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  }

  /**
   * Ends the exchange: runs every finisher once (a finisher that throws does not stop
   * the others; its error goes to `reportError`). Later calls do nothing.
   */
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.res.writableFinished) {
      this.flag('DC');
      this.#controller?.abort(new Error('the caller went away before the response was complete'));
    }
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    const more = this.#moreFinishers;
    if (more !== undefined) for (let i = more.length - 1; i >= 0; i--) this.#run(more[i]!);
    if (this.#finisher1 !== undefined) this.#run(this.#finisher1);
    if (this.#finisher0 !== undefined) this.#run(this.#finisher0);
  }

  #run(finisher: Finisher): void {
    try {
      finisher(this);
    } catch (error) {
      this.reportError(error);
    }
  }
}

/**
 * The caller's trace context read from the W3C headers with our Level 2 rules, for when no
 * OpenTelemetry propagation ran (no API installed, nothing registered): made only when a
 * handler reads `req.mesh.trace`.
 */
function traceFromHeaders(req: IncomingMessage): CallerTraceContext | undefined {
  const header = req.headers.traceparent;
  if (typeof header !== 'string') return undefined;
  const parent = parseTraceParent(header);
  if (parent === undefined) return undefined;
  const state = W3CTraceState.parse(req.headers.tracestate)?.serialize();
  return { traceId: parent.traceId, spanId: parent.parentId, traceFlags: parent.traceFlags, traceState: state || undefined };
}

/** Reports finishers' errors when nobody else was given (never thrown into Node's HTTP machinery). */
function defaultReport(error: unknown): void {
  process.emitWarning(`proxyless inbound: a step's end-of-request hook threw: ${error instanceof Error ? error.message : String(error)}`, {
    code: 'PROXYLESS_W_INBOUND',
  });
}

/** Shared listener (no closure per request): `this` is the response. */
function onResponseClose(this: ServerResponse): void {
  InboundExchange.of(this)?.finish();
}

