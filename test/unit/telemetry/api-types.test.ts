// Our written-out shapes of the API's public types (src/telemetry/api-types.ts) fit the
// API both ways: checked by the type checker (npm test runs tsc first), and at run time
// with the real SDK.
import { describe, expect, it } from 'vitest';
import { propagation, ROOT_CONTEXT, type Context, type TextMapPropagator, type TraceState, type MeterProvider as ApiMeterProvider, type TracerProvider as ApiTracerProvider } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { TraceContextPropagator, type TelemetryOptions } from 'proxyless';
import { W3CTraceState, type OtelContext } from 'proxyless/telemetry';

describe('the public shapes of API types', () => {
  it('our propagator is a TextMapPropagator, our list a TraceState, SDK providers fit the options', () => {
    const propagator: TextMapPropagator = new TraceContextPropagator();
    const state: TraceState = W3CTraceState.parse('a=1')!;
    const context: Context = propagator.extract(ROOT_CONTEXT, {}, { keys: () => [], get: () => undefined });
    const ours: OtelContext = ROOT_CONTEXT;
    const tracerProvider: ApiTracerProvider = new TracerProvider();
    const meterProvider: ApiMeterProvider = new MeterProvider();
    const options: TelemetryOptions = { tracing: { tracerProvider }, metrics: { meterProvider } };
    expect(propagation.setGlobalPropagator(propagator)).toBe(true);
    propagation.disable();
    expect([state.serialize(), context, ours, options.metricNames]).toEqual(['a=1', ROOT_CONTEXT, ROOT_CONTEXT, undefined]);
  });
});
