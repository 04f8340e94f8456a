// The real OpenTelemetry SDK (3.x) registered globally with in-memory exporters, as an
// application registers sdk-node: an AsyncLocalStorage context manager, the W3C trace
// context propagator, a tracer provider and a meter provider.
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';

/** A registered SDK. */
export interface TestSdk {
  /** Finished spans so far (after a flush). */
  spans(): Promise<ReadableSpan[]>;
  /** Metrics collected now. */
  metrics(): Promise<ResourceMetrics[]>;
  /** Unregisters everything. */
  shutdown(): Promise<void>;
}

/** Registers the SDK globally; call `shutdown()` in afterAll. */
export function registerTestSdk(): TestSdk {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spanExporter })] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    async spans() {
      await tracerProvider.forceFlush();
      return spanExporter.getFinishedSpans();
    },
    async metrics() {
      const collected = await reader.collect();
      return [collected.resourceMetrics];
    },
    async shutdown() {
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** The data points of one metric, by name. */
export function dataPoints(resourceMetrics: ResourceMetrics[], name: string): Array<{ attributes: Record<string, unknown>; value: unknown }> {
  const out: Array<{ attributes: Record<string, unknown>; value: unknown }> = [];
  for (const rm of resourceMetrics) {
    for (const scope of rm.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const point of metric.dataPoints as Array<{ attributes: Record<string, unknown>; value: unknown }>) out.push({ attributes: point.attributes, value: point.value });
      }
    }
  }
  return out;
}
