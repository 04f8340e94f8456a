/**
 * The `telemetry` option of `createMesh` (and, later, of the server adapters): its type,
 * its schema (validated like every other option: each problem names the field, the
 * value and what was expected) and its defaults. Tracing and metrics are on by default
 * (they cost the API's no-op path when no SDK is registered); the access log is off.
 */
import * as z from 'zod';
import { InvalidOptionError } from '../core/errors/index.js';
import { formatIssues } from '../core/validate.js';
import { DEFAULT_MAX_PATH_LENGTH, type AccessLogOptions } from './access-log.js';
import type { OtelMeterProvider as MeterProvider, OtelTracerProvider as TracerProvider } from './api-types.js';
import type { MetricNames } from './metric-definitions.js';
import { DEFAULT_MAX_PASSTHROUGH_HOSTS } from './metrics-recorder.js';
import type { WorkloadOptions } from './workload.js';

/** Tracing settings: `true` (default) or `false`, or an object to pass a provider. */
export interface TracingOptions {
  /** The tracer provider to use. Default: the global one (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
}

/** Metrics settings: `true` (default) or `false`, or an object. */
export interface MetricsOptions {
  /** The meter provider to use. Default: the global one, followed if the application registers it after `createMesh`. */
  meterProvider?: MeterProvider;
  /** The most distinct passthrough hosts used as metric label values; more are recorded as `_OTHER`. From 1 to 10000; default 100. */
  maxPassthroughHosts?: number;
}

/** `createMesh({ telemetry })`: what the mesh reports and how. Every field is optional. */
export interface TelemetryOptions {
  /** Spans for calls and tries, and trace context on the wire. Default `true`. */
  tracing?: boolean | TracingOptions;
  /** Metrics through `@opentelemetry/api` meters. Default `true`. */
  metrics?: boolean | MetricsOptions;
  /** The access log: `true` for one JSON line per call on stdout, or its options. Default `false` (off). */
  accessLog?: boolean | AccessLogOptions;
  /**
   * Which request metrics: `otel` (default) OpenTelemetry's HTTP conventions and
   * `proxyless.*`; `istio` Istio's `istio_requests_total` and
   * `istio_request_duration_milliseconds` in their place; `both`.
   */
  metricNames?: MetricNames;
  /** This workload's name, namespace and cluster for Istio's labels; defaults come from the Kubernetes environment (see workload.ts). */
  workload?: WorkloadOptions;
}

/** Resolved tracing settings. */
export interface ResolvedTracingOptions {
  /** Whether the mesh makes spans and propagates context. */
  readonly enabled: boolean;
  /** The provider given, or undefined for the global one. */
  readonly tracerProvider: TracerProvider | undefined;
}

/** Resolved metrics settings. */
export interface ResolvedMetricsOptions {
  /** Whether the mesh records metrics. */
  readonly enabled: boolean;
  /** The provider given, or undefined for the global one. */
  readonly meterProvider: MeterProvider | undefined;
  /** The bound on distinct passthrough hosts as label values. */
  readonly maxPassthroughHosts: number;
}

/** {@link TelemetryOptions} with the defaults filled in. */
export interface ResolvedTelemetryOptions {
  /** Tracing on or off, and the provider given, if any. */
  readonly tracing: ResolvedTracingOptions;
  /** Metrics on or off, the provider given, and the passthrough bound. */
  readonly metrics: ResolvedMetricsOptions;
  /** The access log's options, or `undefined` when it is off. */
  readonly accessLog: AccessLogOptions | undefined;
  /** Which request metrics. */
  readonly metricNames: MetricNames;
  /** The workload identity given (the environment fills in the rest). */
  readonly workload: WorkloadOptions;
}

const hasMethod = (name: string) => (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)[name] === 'function';

const kubernetesName = z
  .string({ error: 'a Kubernetes name (string)' })
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: 'a Kubernetes name: lower-case letters, digits, "-" and "."' });

/** A number field whose type error says what the number is; range errors keep zod's `<= max` wording. */
const count = (what: string) => z.number({ error: (issue) => (issue.code === 'invalid_type' ? what : undefined) });

/**
 * `true`, `false`, or an object checked by `schema`. (A zod union would report only
 * "expected one of" for a bad object; this reports the object's own field problems.)
 */
function booleanOr<T extends z.ZodType>(schema: T, expected: string): z.ZodType<boolean | z.output<T>> {
  return z.unknown().superRefine((value, ctx) => {
    if (typeof value === 'boolean') return;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: expected, input: value });
      return;
    }
    const result = schema.safeParse(value, { reportInput: true });
    if (!result.success) for (const issue of result.error.issues) ctx.addIssue(issue as never);
  }) as unknown as z.ZodType<boolean | z.output<T>>;
}

const tracingSchema = z.strictObject({
  tracerProvider: z.custom<TracerProvider>(hasMethod('getTracer'), { error: 'an OpenTelemetry TracerProvider (with getTracer)' }).optional(),
});

const metricsSchema = z.strictObject({
  meterProvider: z.custom<MeterProvider>(hasMethod('getMeter'), { error: 'an OpenTelemetry MeterProvider (with getMeter)' }).optional(),
  maxPassthroughHosts: count('a number of hosts').int({ error: 'a whole number of hosts' }).min(1).max(10_000).optional(),
});

const accessLogSchema = z.strictObject({
  logger: z.custom<AccessLogOptions['logger']>(hasMethod('info'), { error: 'a logger with an info(obj, msg) method, such as pino' }).optional(),
  per: z.enum(['call', 'attempt']).optional(),
  sampling: count('a fraction from 0 to 1').min(0).max(1).optional(),
  filter: z
    .union([z.enum(['all', 'errors']), z.custom<(entry: never) => boolean>((v) => typeof v === 'function')], {
      error: '"all", "errors", or a function (entry) => boolean',
    })
    .optional(),
  maxPathLength: count('a number of characters').int({ error: 'a whole number of characters' }).min(16).max(65_536).optional(),
});

/** The schema of {@link TelemetryOptions}; unknown keys are errors. */
export const telemetryOptionsSchema = z.strictObject(
  {
    tracing: booleanOr(tracingSchema, 'true, false, or { tracerProvider }').optional(),
    metrics: booleanOr(metricsSchema, 'true, false, or { meterProvider, maxPassthroughHosts }').optional(),
    accessLog: booleanOr(accessLogSchema, 'true, false, or { logger, per, sampling, filter, maxPathLength }').optional(),
    metricNames: z.enum(['otel', 'istio', 'both']).optional(),
    workload: z
      .strictObject({
        name: kubernetesName.optional(),
        namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: 'a Kubernetes namespace name such as "default"' }).max(63).optional(),
        cluster: z.string({ error: 'a cluster id (string)' }).min(1).max(253).optional(),
      })
      .optional(),
  },
  { error: 'an object such as { tracing: true, metrics: true, accessLog: false, metricNames: "otel" }' },
);

/**
 * The allowed keys of each object in the option, by path from the mesh options' root
 * (`telemetry`, `telemetry.accessLog`, ...), for "unknown field" messages.
 */
export const TELEMETRY_ALLOWED_KEYS: Readonly<Record<string, readonly string[]>> = {
  telemetry: ['tracing', 'metrics', 'accessLog', 'metricNames', 'workload'],
  'telemetry.tracing': ['tracerProvider'],
  'telemetry.metrics': ['meterProvider', 'maxPassthroughHosts'],
  'telemetry.accessLog': ['logger', 'per', 'sampling', 'filter', 'maxPathLength'],
  'telemetry.workload': ['name', 'namespace', 'cluster'],
};

/** Fills in the defaults of options already checked by {@link telemetryOptionsSchema}. */
export function telemetryDefaults(options: TelemetryOptions | undefined): ResolvedTelemetryOptions {
  const tracing = options?.tracing ?? true;
  const metrics = options?.metrics ?? true;
  const accessLog = options?.accessLog ?? false;
  return {
    tracing: { enabled: tracing !== false, tracerProvider: typeof tracing === 'object' ? tracing.tracerProvider : undefined },
    metrics: {
      enabled: metrics !== false,
      meterProvider: typeof metrics === 'object' ? metrics.meterProvider : undefined,
      maxPassthroughHosts: (typeof metrics === 'object' ? metrics.maxPassthroughHosts : undefined) ?? DEFAULT_MAX_PASSTHROUGH_HOSTS,
    },
    accessLog:
      accessLog === false
        ? undefined
        : {
            per: 'call',
            sampling: 1,
            filter: 'all',
            maxPathLength: DEFAULT_MAX_PATH_LENGTH,
            ...(accessLog === true ? {} : accessLog),
          },
    metricNames: options?.metricNames ?? 'otel',
    workload: options?.workload ?? {},
  };
}

/**
 * Validates a `telemetry` option on its own (the server adapters take one too) and
 * fills in its defaults; throws {@link InvalidOptionError} naming each field.
 *
 * @param options the option as given
 * @param where the call that received it, for the message (`createMesh`, `meshMiddleware`)
 */
export function resolveTelemetryOptions(options: unknown, where = 'createMesh'): ResolvedTelemetryOptions {
  const result = telemetryOptionsSchema.optional().safeParse(options, { reportInput: true });
  if (!result.success) {
    throw new InvalidOptionError(
      where,
      formatIssues(result.error.issues, 'telemetry', (path) => TELEMETRY_ALLOWED_KEYS[['telemetry', ...path].join('.')]),
    );
  }
  return telemetryDefaults(result.data as TelemetryOptions | undefined);
}
