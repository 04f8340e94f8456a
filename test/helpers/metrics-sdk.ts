// The real OpenTelemetry metrics SDK with a reader the test collects from on demand
// (no export timer), and helpers to find data points in what it collected.
import type { Attributes, Counter, Histogram, Meter, MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** A reader whose collection the test triggers. */
export class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** A real SDK meter provider and its reader. */
export function metricsSdk(): { provider: MeterProvider; reader: TestReader; collect: () => Promise<Metrics> } {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    provider,
    reader,
    collect: async () => {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
      return new Metrics(resourceMetrics);
    },
  };
}

/** One collection's metrics, by name. */
export class Metrics {
  readonly byName = new Map<string, MetricData>();
  constructor(resource: ResourceMetrics) {
    for (const scope of resource.scopeMetrics) for (const metric of scope.metrics) this.byName.set(metric.descriptor.name, metric);
  }

  /** The names collected that have at least one data point. */
  names(): string[] {
    return [...this.byName].filter(([, m]) => m.dataPoints.length > 0).map(([n]) => n).sort();
  }

  /** The metric called `name`; throws when absent. */
  get(name: string): MetricData {
    const metric = this.byName.get(name);
    if (metric === undefined) throw new Error(`no metric ${name}; collected: ${[...this.byName.keys()].join(', ')}`);
    return metric;
  }

  /** The data points of `name` whose attributes include `match`. */
  points(name: string, match: Attributes = {}): MetricData['dataPoints'] {
    return this.get(name).dataPoints.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v)) as MetricData['dataPoints'];
  }

  /** The value of a counter or gauge point that matches (the only one); undefined when none. */
  value(name: string, match: Attributes = {}): number | undefined {
    const points = this.points(name, match);
    if (points.length > 1) throw new Error(`${points.length} points of ${name} match ${JSON.stringify(match)}`);
    return points[0]?.value as number | undefined;
  }
}

/**
 * Wraps a meter provider so that every attribute object passed to a counter's `add` or a
 * histogram's `record` is seen (the data still goes to the real SDK): to check that
 * recording reuses attribute objects rather than building them per request.
 */
export function spyingProvider(inner: ApiMeterProvider, seen: Attributes[]): ApiMeterProvider {
  return {
    getMeter(name, version, options) {
      const meter = inner.getMeter(name, version, options);
      return new Proxy(meter, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver) as unknown;
          if (key === 'createCounter' || key === 'createHistogram') {
            return (n: string, o: object) => {
              const made = (value as (n: string, o: object) => Counter | Histogram).call(target, n, o);
              const method = key === 'createCounter' ? 'add' : 'record';
              return new Proxy(made, {
                get(t, k, r) {
                  const v = Reflect.get(t, k, r) as unknown;
                  if (k !== method) return v;
                  return (amount: number, attributes?: Attributes) => {
                    if (attributes !== undefined) seen.push(attributes);
                    (v as (a: number, b?: Attributes) => void).call(t, amount, attributes);
                  };
                },
              });
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }) as Meter;
    },
  };
}
