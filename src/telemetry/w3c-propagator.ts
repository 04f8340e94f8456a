/**
 * A W3C Trace Context propagator that implements Level 2 of the Recommendation, for
 * `@opentelemetry/api` (`propagation.setGlobalPropagator(new TraceContextPropagator())`).
 *
 * What it does that the stock OpenTelemetry JS propagator does not (each case is in
 * test/unit/telemetry/w3c-propagator.test.ts, after the W3C test suite's test.py):
 * - keeps the random trace-id flag (bit 1 of trace-flags) for every outgoing
 *   `traceparent` of the same trace, even through SDK spans that drop it;
 * - drops a malformed `tracestate` as a whole (the stock one keeps the valid members),
 *   drops a list of more than 32 members, and knows the current key grammar (`@`
 *   anywhere after the first character);
 * - accepts any optional whitespace around `traceparent`;
 * - parses future versions by the spec's rules and downgrades them to version 00;
 * - writes only the flags it knows (sampled, random), as two hex digits.
 * Like the stock one, it injects nothing when tracing is suppressed in the context.
 *
 * Work is bounded whatever the carrier holds: a `traceparent` over 1024 characters and a
 * `tracestate` over 32 KiB (or 64 fields) are dropped unread. `extract` and `inject`
 * never throw, whatever the carrier or getter does.
 */
import type { Context, SpanContext } from '@opentelemetry/api';
import type { OtelContext, OtelTextMapGetter, OtelTextMapSetter } from './api-types.js';
import { otelApi } from './otel-api.js';
import { DEFAULT_TRACESTATE_LENGTH, MAX_TRACESTATE_LENGTH, W3CTraceState } from './w3c-trace-state.js';

/** The `traceparent` header name. */
export const TRACEPARENT_HEADER = 'traceparent';
/** The `tracestate` header name. */
export const TRACESTATE_HEADER = 'tracestate';
/** The sampled flag (bit 0 of trace-flags). */
export const FLAG_SAMPLED = 0x01;
/** The random trace-id flag of Level 2 (bit 1 of trace-flags). */
export const FLAG_RANDOM = 0x02;
/** The most characters of `traceparent` read (future versions may be longer than 55). */
export const MAX_TRACEPARENT_INPUT = 1024;

/** A parsed `traceparent`. */
export interface TraceParent {
  /** The version it was written in (0 to 254); what is sent on is always version 0. */
  readonly version: number;
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** The caller's span id: 16 lowercase hex digits, not all zero. */
  readonly parentId: string;
  /** The flags this implementation knows (sampled, random); other bits are cleared. */
  readonly traceFlags: number;
}

const hexValue = (code: number): number => (code >= 0x30 && code <= 0x39 ? code - 0x30 : code >= 0x61 && code <= 0x66 ? code - 0x57 : -1);

/** Whether `text[from, from + length)` is lowercase hex and not all zeros (when `nonZero`). */
function isHex(text: string, from: number, length: number, nonZero: boolean): boolean {
  let any = !nonZero;
  for (let i = from; i < from + length; i++) {
    const v = hexValue(text.charCodeAt(i));
    if (v < 0) return false;
    if (v !== 0) any = true;
  }
  return any;
}

/** Whether `id` is a valid trace id (32 lowercase hex digits, not all zero). */
export function isValidTraceId(id: unknown): id is string {
  return typeof id === 'string' && id.length === 32 && isHex(id, 0, 32, true);
}

/** Whether `id` is a valid span (parent) id (16 lowercase hex digits, not all zero). */
export function isValidSpanId(id: unknown): id is string {
  return typeof id === 'string' && id.length === 16 && isHex(id, 0, 16, true);
}

/**
 * Parses a `traceparent` header value by W3C Trace Context Level 2, or returns
 * `undefined` when the caller's trace must be restarted: a version that is not two
 * lowercase hex digits, version `ff`, version `00` with anything but exactly 55
 * characters, a future version shorter than 55 characters or with its fields not
 * followed by `-` (or the end), ids that are not lowercase hex or are all zeros.
 * Spaces and tabs around the value are ignored.
 */
export function parseTraceParent(header: string): TraceParent | undefined {
  if (typeof header !== 'string' || header.length > MAX_TRACEPARENT_INPUT) return undefined;
  let a = 0;
  let b = header.length;
  while (a < b && (header.charCodeAt(a) === 0x20 || header.charCodeAt(a) === 0x09)) a++;
  while (b > a && (header.charCodeAt(b - 1) === 0x20 || header.charCodeAt(b - 1) === 0x09)) b--;
  const value = a === 0 && b === header.length ? header : header.slice(a, b);
  if (value.length < 55 || !isHex(value, 0, 2, false) || value.charCodeAt(2) !== 0x2d) return undefined;
  const version = parseInt(value.slice(0, 2), 16);
  if (version === 0xff) return undefined;
  if (version === 0 && value.length !== 55) return undefined;
  // A future version: the known fields where version 00 has them, then '-' or the end.
  if (value.length > 55 && value.charCodeAt(55) !== 0x2d) return undefined;
  if (value.charCodeAt(35) !== 0x2d || value.charCodeAt(52) !== 0x2d) return undefined;
  if (!isHex(value, 3, 32, true) || !isHex(value, 36, 16, true) || !isHex(value, 53, 2, false)) return undefined;
  const flags = parseInt(value.slice(53, 55), 16);
  return { version, traceId: value.slice(3, 35), parentId: value.slice(36, 52), traceFlags: flags & (FLAG_SAMPLED | FLAG_RANDOM) };
}

/** Formats a version-00 `traceparent`; flags other than sampled and random are cleared. */
export function formatTraceParent(traceId: string, spanId: string, traceFlags: number): string {
  const flags = traceFlags & (FLAG_SAMPLED | FLAG_RANDOM);
  return `00-${traceId}-${spanId}-0${flags.toString(16)}`;
}

/** Options of {@link TraceContextPropagator}. */
export interface TraceContextPropagatorOptions {
  /**
   * The most characters of `tracestate` kept and sent on, from 512 (the spec's minimum,
   * and the default) to 8192. Longer lists are truncated by whole entries: entries over
   * 128 characters first, then from the right.
   */
  maxTraceStateLength?: number;
}

/** Context keys, made with the API's own `createContextKey` the first time they are needed. */
interface Keys {
  /** The SDK's suppress-tracing key (`@opentelemetry/core`'s `suppressTracing`). */
  readonly suppress: symbol;
  /** The trace id of an extracted parent that had the random flag. */
  readonly random: symbol;
}
let keys: Keys | undefined;
function contextKeys(): Keys | undefined {
  const api = otelApi();
  if (api === undefined) return undefined;
  keys ??= {
    suppress: api.createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING'),
    random: api.createContextKey('proxyless W3C Trace Context random trace-id'),
  };
  return keys;
}

/**
 * OpenTelemetry `TextMapPropagator` for `traceparent` and `tracestate`, W3C Trace Context
 * Level 2. Register it in place of the SDK's W3C propagator (keep a baggage propagator
 * beside it with `CompositePropagator` if you use baggage):
 *
 * ```ts
 * import { propagation } from '@opentelemetry/api';
 * import { TraceContextPropagator } from 'proxyless';
 * propagation.setGlobalPropagator(new TraceContextPropagator());
 * ```
 *
 * The random trace-id flag survives SDK spans: the OpenTelemetry SDK makes child spans
 * with only the sampled flag, so `extract` records in the context that the caller's trace
 * id is random, and `inject` sets the flag again for every span of that trace. A trace
 * started in this process carries the flag only if its span context has it (the SDK's
 * does not say whether its ids are random).
 */
export class TraceContextPropagator {
  readonly #maxTraceStateLength: number;

  /** @param options see {@link TraceContextPropagatorOptions}; out-of-range values throw a RangeError */
  constructor(options: TraceContextPropagatorOptions = {}) {
    const max = options.maxTraceStateLength ?? DEFAULT_TRACESTATE_LENGTH;
    if (!Number.isInteger(max) || max < DEFAULT_TRACESTATE_LENGTH || max > MAX_TRACESTATE_LENGTH) {
      throw new RangeError(
        `TraceContextPropagator: maxTraceStateLength: ${String(max)} (expected: a whole number of characters from ${DEFAULT_TRACESTATE_LENGTH} to ${MAX_TRACESTATE_LENGTH})`,
      );
    }
    this.#maxTraceStateLength = max;
  }

  /** Writes `traceparent` (and `tracestate` when the span context has one) for the context's span. */
  inject(context: OtelContext, carrier: unknown, setter: OtelTextMapSetter): void {
    try {
      const api = otelApi();
      const k = contextKeys();
      if (api === undefined || k === undefined) return;
      if (context.getValue(k.suppress) === true) return;
      const spanContext = api.trace.getSpanContext(context as Context);
      if (spanContext === undefined || !isValidTraceId(spanContext.traceId) || !isValidSpanId(spanContext.spanId)) return;
      let flags = typeof spanContext.traceFlags === 'number' ? spanContext.traceFlags : 0;
      if ((flags & FLAG_RANDOM) === 0 && context.getValue(k.random) === spanContext.traceId) flags |= FLAG_RANDOM;
      setter.set(carrier, TRACEPARENT_HEADER, formatTraceParent(spanContext.traceId, spanContext.spanId, flags));
      const state = this.#outgoingState(spanContext);
      if (state !== undefined) setter.set(carrier, TRACESTATE_HEADER, state);
    } catch {
      // A throwing setter or span must not fail the request it propagates for.
    }
  }

  /**
   * Reads `traceparent` and `tracestate` into a remote span context on `context`.
   * Returns `context` unchanged when there is no valid `traceparent` (including when
   * the header appears more than once) or when the API is not installed.
   */
  extract(context: OtelContext, carrier: unknown, getter: OtelTextMapGetter): OtelContext {
    try {
      const api = otelApi();
      const k = contextKeys();
      if (api === undefined || k === undefined) return context;
      const raw: unknown = getter.get(carrier, TRACEPARENT_HEADER);
      const header = Array.isArray(raw) ? (raw.length === 1 ? raw[0] : undefined) : raw;
      if (typeof header !== 'string') return context;
      const parent = parseTraceParent(header);
      if (parent === undefined) return context;
      // Only after a valid traceparent: a vendor that failed it must not parse tracestate.
      const traceState = W3CTraceState.parse(getter.get(carrier, TRACESTATE_HEADER), this.#maxTraceStateLength);
      const spanContext: SpanContext = {
        traceId: parent.traceId,
        spanId: parent.parentId,
        traceFlags: parent.traceFlags,
        isRemote: true,
        ...(traceState === undefined ? {} : { traceState }),
      };
      let next: OtelContext = api.trace.setSpanContext(context as Context, spanContext);
      next = (parent.traceFlags & FLAG_RANDOM) !== 0 ? next.setValue(k.random, parent.traceId) : next.deleteValue(k.random);
      return next;
    } catch {
      return context;
    }
  }

  /** The headers this propagator reads and writes. */
  fields(): string[] {
    return [TRACEPARENT_HEADER, TRACESTATE_HEADER];
  }

  /**
   * The `tracestate` to send for a span context: ours as it is; any other implementation's
   * (an SDK sampler may set one) checked by our rules and truncated to the bound.
   */
  #outgoingState(spanContext: SpanContext): string | undefined {
    const state = spanContext.traceState;
    if (state === undefined || state === null) return undefined;
    if (state instanceof W3CTraceState) return state.size === 0 ? undefined : state.serialize();
    const text = state.serialize();
    if (typeof text !== 'string' || text.length === 0) return undefined;
    const parsed = W3CTraceState.parse(text, this.#maxTraceStateLength);
    return parsed === undefined ? undefined : parsed.serialize();
  }
}

