/**
 * Child-process entry for the inbound benchmarks: one hello-world server, so its CPU is
 * the other core's and the load generator (the benchmark process) measures only it. Not
 * a benchmark itself. argv[2] is the variant, argv[3] a JSON options object; the child
 * answers `{ type: 'ready', port }` over IPC and exits when the parent goes.
 *
 * Variants: `<framework>-<setup>` with framework `fastify` or `express` and setup
 * - `bare`: the framework alone;
 * - `mesh`: with the proxyless adapter (telemetry on, no SDK: the API's no-op path);
 * - `mesh-sdk`: with the adapter under a registered SDK;
 * - `otel-sdk`: the framework with `@opentelemetry/instrumentation-http` under the same SDK
 *   (what teams run today).
 * The SDK: AlwaysOn sampling, a BatchSpanProcessor with an exporter that drops spans, a
 * periodic metric reader whose exporter drops metrics.
 *
 * Options: `{ loadShedding?: boolean, work?: { slots: number, ms: number } }`: with `work`,
 * the handler holds one of `slots` permits for `ms` (a backend of capacity slots/ms).
 */
import type { Server } from 'node:http';

const variant = process.argv[2] ?? 'fastify-bare';
const options = JSON.parse(process.argv[3] ?? '{}') as { loadShedding?: boolean; work?: { slots: number; ms: number } };
const [framework, ...rest] = variant.split('-');
const setup = rest.join('-');

async function registerSdk(withHttpInstrumentation: boolean): Promise<void> {
  const api = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator, ExportResultCode } = await import('@opentelemetry/core');
  const { BatchSpanProcessor, TracerProvider } = await import('@opentelemetry/sdk-trace');
  const { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } = await import('@opentelemetry/sdk-metrics');
  const drop = { export: (_items: unknown, done: (r: { code: number }) => void) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => {}, forceFlush: async () => {} };
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new BatchSpanProcessor(drop as never)] }));
  const reader = new PeriodicExportingMetricReader({
    exporter: { ...drop, selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE } as never,
    exportIntervalMillis: 1000,
  });
  api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  if (withHttpInstrumentation) {
    const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
    const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
    registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });
  }
}

/** A backend of limited capacity: `slots` permits, each held `ms`; requests beyond wait in a queue. */
function workQueue(work: { slots: number; ms: number } | undefined): () => Promise<void> {
  if (work === undefined) return () => Promise.resolve();
  let free = work.slots;
  const waiting: Array<() => void> = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return () =>
    new Promise<void>((resolve) => {
      const run = (): void => {
        setTimeout(() => {
          release();
          resolve();
        }, work.ms);
      };
      if (free > 0) {
        free--;
        run();
      } else waiting.push(run);
    });
}

async function main(): Promise<void> {
  if (setup === 'mesh-sdk') await registerSdk(false);
  if (setup === 'otel-sdk') await registerSdk(true);
  const work = workQueue(options.work);
  const meshOptions = options.loadShedding ? { loadShedding: {} } : {};
  let server: Server;
  if (framework === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    if (setup.startsWith('mesh')) {
      const { createMesh } = await import('proxyless');
      const { meshPlugin } = await import('@proxyless/fastify');
      await app.register(meshPlugin, { mesh: createMesh(), health: false, ...meshOptions });
    }
    app.get('/hello/:name', async () => {
      await work();
      return 'hello';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server;
  } else {
    const { default: express } = await import('express');
    const app = express();
    if (setup.startsWith('mesh')) {
      const { createMesh } = await import('proxyless');
      const { meshMiddleware } = await import('@proxyless/express');
      app.use(meshMiddleware(createMesh(), { health: false, ...meshOptions }));
    }
    app.get('/hello/:name', async (_req, res) => {
      await work();
      res.send('hello');
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
  }
  server.keepAliveTimeout = 60_000;
  let requests = 0;
  // The server's own view of latency (request event to response finish, 200s only), so a
  // benchmark can tell the server's latency from its load generator's event-loop lag.
  let latencies: number[] = [];
  server.on('request', (_req, res) => {
    requests++;
    const started = performance.now();
    res.once('finish', () => {
      if (res.statusCode === 200 && latencies.length < 1_000_000) latencies.push(performance.now() - started);
    });
  });
  // CPU per request, whatever the client manages to send: `{ type: 'cpu' }` → used µs and requests so far.
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'latency') {
      // p99 (ms) of the 200s since the last ask, then forget them.
      const sorted = latencies.sort((a, b) => a - b);
      process.send?.({ type: 'latency', p99Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.NaN, count: sorted.length });
      latencies = [];
    }
    if (message?.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send?.({ type: 'cpu', micros: user + system, requests });
    }
  });
  process.send?.({ type: 'ready', port: (server.address() as { port: number }).port });
  process.on('disconnect', () => process.exit(0));
}

void main();
