/**
 * `proxyless/telemetry`: the telemetry's building blocks apart from a mesh: W3C
 * `traceparent`/`tracestate` parsing and formatting, the metric and span definitions
 * (names, buckets, Istio's labels), Envoy's response flags, the access log writer,
 * workload identity from the environment, and the diagnostics channels as published. An
 * application sets telemetry up with `createMesh({ telemetry })`, registers
 * `TraceContextPropagator` and subscribes to `CHANNEL_NAMES`, all from the root entry.
 * See docs/telemetry.md and docs/api.md.
 *
 * @module proxyless/telemetry
 */
export * from '../telemetry/index.js';
