import { describe, expect, it } from 'vitest';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { createMesh, InvalidOptionError } from 'proxyless';
import { resolveTelemetryOptions } from 'proxyless/telemetry';
import { resolveMeshOptions } from '../../../src/mesh/options.js';

/** createMesh's problem lines for `telemetry`. */
function problems(telemetry: unknown): readonly string[] {
  try {
    void createMesh({ telemetry } as never).close();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).problems;
  }
  throw new Error('createMesh accepted invalid telemetry options');
}

describe('telemetry option validation', () => {
  it.each<[string, unknown, string]>([
    ['not an object', 'on', 'telemetry: "on" (expected: an object such as { tracing: true, metrics: true, accessLog: false, metricNames: "otel" })'],
    ['a typo', { tracng: true }, 'telemetry.tracng: unknown field (expected one of: tracing, metrics, accessLog, metricNames, workload)'],
    ['tracing of the wrong type', { tracing: 'yes' }, 'telemetry.tracing: "yes" (expected: true, false, or { tracerProvider })'],
    ['a tracer provider that is not one', { tracing: { tracerProvider: {} } }, 'telemetry.tracing.tracerProvider: {} (expected: an OpenTelemetry TracerProvider (with getTracer))'],
    ['a meter provider that is not one', { metrics: { meterProvider: 42 } }, 'telemetry.metrics.meterProvider: 42 (expected: an OpenTelemetry MeterProvider (with getMeter))'],
    ['too many passthrough hosts', { metrics: { maxPassthroughHosts: 1e6 } }, 'telemetry.metrics.maxPassthroughHosts: 1000000 (expected: <= 10000)'],
    ['a fractional passthrough bound', { metrics: { maxPassthroughHosts: 2.5 } }, 'telemetry.metrics.maxPassthroughHosts: 2.5 (expected: a whole number of hosts)'],
    ['a typo in metrics', { metrics: { maxPasthroughHosts: 5 } }, 'telemetry.metrics.maxPasthroughHosts: unknown field (expected one of: meterProvider, maxPassthroughHosts)'],
    ['an unknown metricNames', { metricNames: 'prometheus' }, 'telemetry.metricNames: "prometheus" (expected: one of "otel", "istio", "both")'],
    ['accessLog of the wrong type', { accessLog: 'stdout' }, 'telemetry.accessLog: "stdout" (expected: true, false, or { logger, per, sampling, filter, maxPathLength })'],
    ['a logger without info', { accessLog: { logger: console.log } }, 'telemetry.accessLog.logger: a function (expected: a logger with an info(obj, msg) method, such as pino)'],
    ['sampling above 1', { accessLog: { sampling: 2 } }, 'telemetry.accessLog.sampling: 2 (expected: <= 1)'],
    ['sampling not a number', { accessLog: { sampling: '10%' } }, 'telemetry.accessLog.sampling: "10%" (expected: a fraction from 0 to 1)'],
    ['sampling NaN', { accessLog: { sampling: Number.NaN } }, 'telemetry.accessLog.sampling: NaN (expected: a fraction from 0 to 1)'],
    ['sampling Infinity', { accessLog: { sampling: Number.POSITIVE_INFINITY } }, 'telemetry.accessLog.sampling: Infinity (expected: a fraction from 0 to 1)'],
    ['an unknown filter', { accessLog: { filter: '5xx' } }, 'telemetry.accessLog.filter: "5xx" (expected: "all", "errors", or a function (entry) => boolean)'],
    ['an unknown per', { accessLog: { per: 'try' } }, 'telemetry.accessLog.per: "try" (expected: one of "call", "attempt")'],
    ['a tiny maxPathLength', { accessLog: { maxPathLength: 3 } }, 'telemetry.accessLog.maxPathLength: 3 (expected: >= 16)'],
    ['a workload name with capitals', { workload: { name: 'Reviews' } }, 'telemetry.workload.name: "Reviews" (expected: a Kubernetes name: lower-case letters, digits, "-" and ".")'],
    ['a bad workload namespace', { workload: { namespace: 'book_info' } }, 'telemetry.workload.namespace: "book_info" (expected: a Kubernetes namespace name such as "default")'],
    ['a typo in workload', { workload: { nmae: 'x' } }, 'telemetry.workload.nmae: unknown field (expected one of: name, namespace, cluster)'],
  ])('%s', (_, telemetry, expected) => {
    const lines = problems(telemetry);
    expect(lines.some((l) => l.startsWith(expected)), `got:\n${lines.join('\n')}`).toBe(true);
  });

  it('reports every problem at once', () => {
    const lines = problems({ metricNames: 'x', accessLog: { sampling: -1, per: 'x' } });
    expect(lines).toHaveLength(3);
  });

  it('defaults: tracing and metrics on, access log off, otel names', () => {
    expect(resolveMeshOptions({}).telemetry).toEqual({
      tracing: { enabled: true, tracerProvider: undefined },
      metrics: { enabled: true, meterProvider: undefined, maxPassthroughHosts: 100 },
      accessLog: undefined,
      metricNames: 'otel',
      workload: {},
    });
  });

  it('accepts every documented form', () => {
    const tracerProvider = new TracerProvider();
    const meterProvider = new MeterProvider();
    const logger = { info: () => undefined };
    const filter = () => true;
    const resolved = resolveMeshOptions({
      telemetry: {
        tracing: { tracerProvider },
        metrics: { meterProvider, maxPassthroughHosts: 10 },
        accessLog: { logger, per: 'attempt', sampling: 0.25, filter, maxPathLength: 256 },
        metricNames: 'both',
        workload: { name: 'reviews-v1', namespace: 'bookinfo', cluster: 'Kubernetes' },
      },
    }).telemetry;
    expect(resolved).toEqual({
      tracing: { enabled: true, tracerProvider },
      metrics: { enabled: true, meterProvider, maxPassthroughHosts: 10 },
      accessLog: { logger, per: 'attempt', sampling: 0.25, filter, maxPathLength: 256 },
      metricNames: 'both',
      workload: { name: 'reviews-v1', namespace: 'bookinfo', cluster: 'Kubernetes' },
    });
    expect(resolveMeshOptions({ telemetry: { tracing: false, metrics: false, accessLog: true } }).telemetry).toMatchObject({
      tracing: { enabled: false },
      metrics: { enabled: false },
      accessLog: { per: 'call', sampling: 1, filter: 'all', maxPathLength: 1024 },
    });
  });

  it('resolveTelemetryOptions checks an option on its own, naming the caller', () => {
    expect(() => resolveTelemetryOptions({ metricNames: 'x' }, 'meshMiddleware')).toThrow(/^meshMiddleware: invalid option:\n {2}telemetry\.metricNames: "x"/);
    expect(resolveTelemetryOptions(undefined).metricNames).toBe('otel');
  });
});
