/**
 * The shapes of `@opentelemetry/api` types that appear in the package's PUBLIC types,
 * written out here instead of imported. `@opentelemetry/api` is an optional peer: a
 * project that does not install it must still type-check against our `.d.ts` with
 * `skipLibCheck: false`, and an import of the API's types there would fail. Each shape is
 * the API's own, structurally, so the API's values fit them and ours fit the API
 * (checked in test/unit/telemetry/api-types.test.ts). Internal modules may import the
 * API's types directly: they do not reach the published declarations.
 */

/** OpenTelemetry's `Context` (immutable key-value context). */
export interface OtelContext {
  /** The value at `key`, if any. */
  getValue(key: symbol): unknown;
  /** A new context with `key` set to `value`. */
  setValue(key: symbol, value: unknown): OtelContext;
  /** A new context without `key`. */
  deleteValue(key: symbol): OtelContext;
}

/** OpenTelemetry's `TextMapGetter`: reads a header from a carrier. */
export interface OtelTextMapGetter<Carrier = any> {
  /** The keys the carrier has. */
  keys(carrier: Carrier): string[];
  /** The value (or values) of `key`, if any. */
  get(carrier: Carrier, key: string): undefined | string | string[];
}

/** OpenTelemetry's `TextMapSetter`: writes a header to a carrier. */
export interface OtelTextMapSetter<Carrier = any> {
  /** Sets `key` to `value` on the carrier. */
  set(carrier: Carrier, key: string, value: string): void;
}

/** OpenTelemetry's `TraceState`. */
export interface OtelTraceState {
  /** A new list with `key` set to `value`, moved to the front. */
  set(key: string, value: string): OtelTraceState;
  /** A new list without `key`. */
  unset(key: string): OtelTraceState;
  /** The value of `key`, if any. */
  get(key: string): string | undefined;
  /** The `tracestate` header value. */
  serialize(): string;
}

/** Any OpenTelemetry `TracerProvider` (what `telemetry.tracing.tracerProvider` takes). */
export interface OtelTracerProvider {
  /** Returns a tracer. */
  getTracer(name: string, version?: string, options?: object): unknown;
}

/** Any OpenTelemetry `MeterProvider` (what `telemetry.metrics.meterProvider` takes). */
export interface OtelMeterProvider {
  /** Returns a meter. */
  getMeter(name: string, version?: string, options?: object): unknown;
}
