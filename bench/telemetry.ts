/**
 * Telemetry: what the outbound telemetry costs (issue 12), every row a ratio within one run.
 *
 * One node:http backend in a child process (its CPU on the other core); the load is
 * `undici.request` through `mesh.dispatcher` (or a plain undici Agent), c=32, 32
 * connections, ABBA-alternated runs, medians compared.
 *
 * 1. No SDK registered: the mesh with its default telemetry (tracing and metrics on)
 *    against the same mesh with `telemetry: { tracing: false, metrics: false }`. With
 *    nothing registered the mesh makes no call object at all; target >= 0.98.
 * 2. The SDK registered globally as sdk-node would (AsyncLocalStorage context manager,
 *    W3C propagator, AlwaysOn sampler, a BatchSpanProcessor whose exporter drops every
 *    span, a PeriodicExportingMetricReader whose exporter drops every batch): the mesh
 *    with telemetry against the mesh with it off; target >= 0.85.
 * 3. The same SDK: the mesh with its telemetry against plain undici with
 *    `@opentelemetry/instrumentation-undici` (what teams run today; one span per request
 *    where the mesh makes two, a call span and a try span). The instrumentation is
 *    enabled for the baseline's runs only; target >= 0.9. A further row, without target,
 *    keeps it enabled for the mesh's runs too (both set-ups at once: undici's channels
 *    fire for each of the mesh's requests and the instrumentation makes a non-recording
 *    span and records its own duration metric for each).
 * 4. The first two again in-process, in CPU time per call (see `inProcess`): steadier on
 *    a shared machine, and harsher (no socket work dilutes the telemetry's cost).
 * 5. Memory with metrics and tracing on, in-process: the endpoint stack's `pool` layer
 *    replaced by one that answers at once (no sockets, so a million calls run in seconds;
 *    every telemetry step still runs), with a mix of paths, methods and statuses; heap
 *    retained after full GCs at checkpoints. Target: growth from the first checkpoint to
 *    the last <= 2 MiB (no growth from attributes).
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { Agent, request, type Dispatcher } from 'undici';
import { createMesh, layer, staticEndpoints, type EndpointTarget, type Mesh } from 'proxyless';
import { alternateRuns, pairedThroughputRatios, type AlternateOptions, type AlternateResult, type Variant } from './lib/alternate.js';
import { assertNoErrors, runLoad } from './lib/load.js';
import { startBackends } from './lib/backends.js';
import { runIfMain } from './lib/entry.js';
import { retainedBytes } from './lib/gc.js';
import type { Log } from './lib/log.js';
import { result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'telemetry';
const CONCURRENCY = 32;
const ROUNDS = 6;
const RUN_MS = scaled(1500, 200);
const WARMUP_MS = scaled(1500, 200);
const MEMORY_CALLS = scaled(1_000_000, 50_000);

const dropSpans: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
const dropMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: 0 }),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
  selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
};

/** Registers the SDK globally, as sdk-node does; returns its shutdown. */
function registerSdk(): () => Promise<void> {
  const tracerProvider = new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new BatchSpanProcessor({ exporter: dropSpans })] });
  const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: dropMetrics, exportIntervalMillis: 1000 })] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return async () => {
    trace.disable();
    metrics.disable();
    propagation.disable();
    context.disable();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  };
}

function via(name: string, url: string, dispatcher: Dispatcher): Variant {
  return {
    name,
    send: async () => {
      const res = await request(url, { dispatcher });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${name}: status ${res.statusCode}`);
    },
  };
}

/** An endpoint stack whose terminal answers at once: 200, 404 or 503 by the path's last digit. */
function instantPool(): Parameters<typeof createMesh>[0] {
  return {
    stacks: {
      endpoint(stack) {
        stack.replace(
          'pool',
          layer<EndpointTarget>('pool', () => (opts, handler) => {
            const controller = { abort() {}, pause() {}, resume() {}, aborted: false, paused: false, reason: null, rawHeaders: [], rawTrailers: [] };
            const digit = opts.path.charCodeAt(opts.path.length - 1) - 48;
            const status = digit === 7 ? 503 : digit === 8 ? 404 : 200;
            handler.onRequestStart?.(controller as never, {});
            handler.onResponseStart?.(controller as never, status, {}, '');
            handler.onResponseEnd?.(controller as never, {});
            return true;
          }),
        );
      },
    },
  };
}

/**
 * ABBA runs like `alternateRuns`, with `instrumentation` enabled for the baseline's runs
 * and disabled for the mesh's (undici's diagnostics channels then have no subscriber).
 */
async function toggledRuns(log: Log, instrumentation: UndiciInstrumentation, baseline: Variant, mesh: Variant, options: AlternateOptions): Promise<AlternateResult> {
  const run = async (variant: Variant, durationMs: number) => {
    if (variant === baseline) instrumentation.enable();
    try {
      const r = await runLoad({ concurrency: options.concurrency, durationMs, send: variant.send });
      assertNoErrors(`instrumentation-undici ${variant.name}`, r);
      return r;
    } finally {
      instrumentation.disable();
    }
  };
  await run(baseline, options.warmupMs);
  await run(mesh, options.warmupMs);
  const out: AlternateResult = { baseline: [], mesh: [] };
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? [baseline, mesh] : [mesh, baseline];
    for (const variant of order) {
      const r = await run(variant, options.durationMs);
      (variant === baseline ? out.baseline : out.mesh).push(r);
      log(`instrumentation-undici round ${round + 1}/${options.rounds} ${variant.name} ${Math.round(r.throughput)} req/s`);
    }
  }
  return out;
}

/**
 * CPU per call in this process, through meshes whose endpoint stack answers at once (no
 * sockets): telemetry on against off, alternating rounds, medians. CPU time
 * (`process.cpuUsage`) rather than wall time, so other processes on the machine matter
 * less than in the socket rows. Harsher than those: no socket work dilutes the cost.
 */
async function inProcess(log: Log, sdk: boolean): Promise<BenchResult> {
  const shutdown = sdk ? registerSdk() : undefined;
  const make = (telemetry: object | undefined): Mesh =>
    createMesh({ ...instantPool(), discovery: [staticEndpoints({ api: ['127.0.0.1:1'] })], ...(telemetry ? { telemetry } : {}) });
  const settings = { on: undefined, off: { tracing: false, metrics: false } } as const;
  const calls = scaled(20_000, 2_000);
  // A fresh mesh per run: two long-lived meshes measured against each other differed by
  // up to 20 % with identical settings (an A/A check), from which one was made first.
  const cpuPerCall = async (which: 'on' | 'off'): Promise<number> => {
    const mesh = make(process.env.BENCH_TELEMETRY_AA === '1' ? settings.off : settings[which]);
    try {
      for (let i = 0; i < 320; i += 32) {
        await Promise.all(Array.from({ length: 32 }, () => request('http://api/x', { dispatcher: mesh.dispatcher }).then((r) => r.body.dump())));
      }
      const before = process.cpuUsage();
      for (let i = 0; i < calls; i += 32) {
        await Promise.all(Array.from({ length: 32 }, () => request('http://api/x', { dispatcher: mesh.dispatcher }).then((r) => r.body.dump())));
      }
      const used = process.cpuUsage(before);
      return (used.user + used.system) / calls;
    } finally {
      await mesh.close();
    }
  };
  const times: { on: number[]; off: number[] } = { on: [], off: [] };
  try {
    for (let round = 0; round < 10; round++) {
      const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const which of order) times[which].push(await cpuPerCall(which));
    }
  } finally {
    await shutdown?.();
  }
  // The first two rounds warm up (JIT, attribute sets).
  const onUs = median(times.on.slice(2));
  const offUs = median(times.off.slice(2));
  log(`in-process${sdk ? ' SDK' : ''}: ${onUs.toFixed(1)} µs CPU per call with telemetry, ${offUs.toFixed(1)} without`);
  return result({
    benchmark: BENCHMARK,
    metric: `${sdk ? 'SDK registered' : 'no SDK'}: calls per CPU-second in-process, telemetry on (baseline: telemetry off; no sockets)`,
    unit: 'calls/s',
    mesh: 1e6 / onUs,
    baseline: 1e6 / offUs,
    target: { on: 'ratio', op: '>=', value: sdk ? 0.85 : 0.98 },
  });
}

async function memory(log: Log): Promise<BenchResult> {
  const shutdown = registerSdk();
  const mesh = createMesh({
    ...instantPool(),
    discovery: [staticEndpoints({ api: ['127.0.0.1:1', '127.0.0.1:2'], other: ['127.0.0.1:3'] })],
    config: [{ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'api' }, spec: { hosts: ['api'], http: [{ name: 'main', route: [{ destination: { host: 'api' } }], retries: { attempts: 0 } }] } }],
    telemetry: { metricNames: 'both' },
  });
  const methods = ['GET', 'POST', 'PUT', 'DELETE'];
  const checkpoints: Array<[number, number]> = [];
  const step = MEMORY_CALLS / 10;
  let done = 0;
  const started = performance.now();
  try {
    while (done < MEMORY_CALLS) {
      // 64 calls in flight at a time; every path distinct, so a raw path in a label would show.
      const batch: Array<Promise<unknown>> = [];
      for (let i = 0; i < 64 && done < MEMORY_CALLS; i++, done++) {
        const host = done % 3 === 0 ? 'other' : 'api';
        batch.push(request(`http://${host}/items/${done}`, { dispatcher: mesh.dispatcher, method: methods[done % 4] as 'GET' }).then((r) => r.body.dump()));
      }
      await Promise.all(batch);
      if (done % step === 0) {
        checkpoints.push([done, retainedBytes()]);
        log(`memory: ${done} calls, retained ${(checkpoints.at(-1)![1] / 1048576).toFixed(1)} MiB`);
      }
    }
  } finally {
    await mesh.close();
    await shutdown();
  }
  const seconds = (performance.now() - started) / 1000;
  log(`memory: ${MEMORY_CALLS} calls in ${seconds.toFixed(1)} s`);
  // From the second checkpoint (warm: JIT code, attribute sets, pools made) to the last.
  const first = checkpoints[1]![1];
  const last = checkpoints.at(-1)![1];
  return result({
    benchmark: BENCHMARK,
    metric: `retained heap growth over ${MEMORY_CALLS.toLocaleString('en-US')} calls, metrics and tracing on (MiB; from ${checkpoints[1]![0].toLocaleString('en-US')} calls to the end)`,
    unit: 'MiB',
    // mesh: the growth; baseline: the heap retained at the first warm checkpoint.
    mesh: (last - first) / 1048576,
    baseline: first / 1048576,
    target: { on: 'mesh', op: '<=', value: 2, unit: 'MiB' },
  });
}

/** Runs the benchmark; see the file comment. */
export async function telemetryOverhead(log: Log): Promise<BenchmarkOutput> {
  const backends = await startBackends([0]);
  const port = backends.ports[0]!;
  const agent = new Agent({ connections: CONCURRENCY });
  const meshes: Mesh[] = [];
  const make = (telemetry: object | undefined): Mesh => {
    const mesh = createMesh({ discovery: [staticEndpoints({ svc: [`127.0.0.1:${port}`] })], endpointPool: { connections: CONCURRENCY }, ...(telemetry ? { telemetry } : {}) });
    meshes.push(mesh);
    return mesh;
  };
  const on = make(undefined);
  const off = make({ tracing: false, metrics: false });
  const meshOn = via('telemetry on', 'http://svc/', on.dispatcher);
  const meshOff = via('telemetry off', 'http://svc/', off.dispatcher);
  const options = { concurrency: CONCURRENCY, durationMs: RUN_MS, warmupMs: WARMUP_MS, rounds: ROUNDS };
  const results: BenchResult[] = [];
  const row = (metric: string, runs: AlternateResult, target: number | undefined): BenchResult => {
    log(`${metric}: per round ${pairedThroughputRatios(runs).map((r) => r.toFixed(3)).join(' ')}`);
    return result({
      benchmark: BENCHMARK,
      metric,
      unit: 'req/s',
      mesh: median(runs.mesh.map((r) => r.throughput)),
      baseline: median(runs.baseline.map((r) => r.throughput)),
      ...(target === undefined ? {} : { target: { on: 'ratio' as const, op: '>=' as const, value: target } }),
    });
  };
  try {
    results.push(row(`no SDK: telemetry on (defaults), c=${CONCURRENCY} (req/s; baseline: the mesh with telemetry off)`, await alternateRuns(log, 'no SDK', meshOff, meshOn, options), 0.98));
    const shutdown = registerSdk();
    try {
      results.push(row(`SDK registered: telemetry on, c=${CONCURRENCY} (req/s; baseline: the mesh with telemetry off)`, await alternateRuns(log, 'SDK', meshOff, meshOn, options), 0.85));
      const instrumentation = new UndiciInstrumentation();
      instrumentation.setTracerProvider(trace.getTracerProvider());
      instrumentation.setMeterProvider(metrics.getMeterProvider());
      instrumentation.disable();
      const plain = via('undici + instrumentation-undici', `http://127.0.0.1:${port}/`, agent);
      try {
        // The instrumentation on for the baseline's runs only: the mesh reports on its own.
        results.push(row(`SDK: mesh telemetry on, c=${CONCURRENCY} (req/s; baseline: plain undici + instrumentation-undici, same SDK)`, await toggledRuns(log, instrumentation, plain, meshOn, options), 0.9));
        // Both set-ups at once (the instrumentation on for both sides): no target, for the record.
        instrumentation.enable();
        results.push(row(`SDK + instrumentation-undici also on for the mesh, c=${CONCURRENCY} (req/s; baseline: plain undici + instrumentation-undici)`, await alternateRuns(log, 'SDK+undici both', plain, meshOn, options), undefined));
      } finally {
        instrumentation.disable();
      }
    } finally {
      await shutdown();
    }
  } finally {
    await Promise.all(meshes.map((m) => m.close()));
    await agent.close();
    await backends.close();
  }
  results.push(await inProcess(log, false), await inProcess(log, true));
  results.push(await memory(log));
  return {
    results,
    notes: [
      `telemetry: backend in a child process; c=${CONCURRENCY}, ${CONCURRENCY} connections; ${ROUNDS} ABBA rounds of ${RUN_MS} ms per variant ` +
        `after ${WARMUP_MS} ms of warm-up, medians compared (per-round ratios in the progress log). The SDK: AlwaysOn sampler, ` +
        'BatchSpanProcessor with an exporter that drops, PeriodicExportingMetricReader (1 s) with an exporter that drops, ' +
        'AsyncLocalStorage context manager, W3C propagator. instrumentation-undici is on for the baseline only in the targeted row, ' +
        `for both sides in the row without target. Memory: ${MEMORY_CALLS.toLocaleString('en-US')} calls in-process (the pool layer answers at once), ` +
        'metrics (both name sets) and tracing on, a distinct path per call, 4 methods, 3 statuses, 2 services.',
    ],
  };
}

runIfMain(import.meta.url, BENCHMARK, telemetryOverhead);
