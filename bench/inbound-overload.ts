/**
 * Overload: a backend of capacity C receiving 3 × C, with and without load shedding.
 *
 * The backend (Fastify with the mesh plugin, in a child process) holds one of 4 permits
 * for 20 ms per request: C = 200 requests/s; requests beyond the permits wait in a queue,
 * as work waits for a database pool or a CPU. The benchmark process sends an open-loop
 * stream of 3 × C requests/s (arrivals do not wait for answers, as independent callers
 * do) for a few seconds; each caller gives up after 2 s. Two servers, identical but for
 * `loadShedding: {}` (the adaptive concurrency limit with its defaults).
 *
 * - unloaded p99: closed loop at concurrency 2 (below capacity), on the shedding server;
 * - goodput: 200 answers per second during the overload; target with shedding >= 0.9 × C;
 * - p99 of the accepted (200) requests; target with shedding <= 3 × the unloaded p99.
 * Without shedding the rows are informational: they show what queueing does. The last two
 * rows run the limiter alone against the same backend simulated in this process (timers,
 * no HTTP): on a loaded machine, event-loop lag in the server process inflates the
 * latencies the limiter follows, and these rows separate the algorithm from that.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Agent, request } from 'undici';
import { AdaptiveConcurrencyLimiter, loadSheddingSettings } from 'proxyless';
import { runIfMain } from './lib/entry.js';
import { startInboundServer, type InboundServer } from './lib/inbound-servers.js';
import { LatencyRecorder } from './lib/latency.js';
import { runLoad } from './lib/load.js';
import type { Log } from './lib/log.js';
import { result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'inbound-overload';
const SLOTS = 4;
const WORK_MS = 20;
const CAPACITY = (SLOTS * 1000) / WORK_MS;
const OVERLOAD = 3;
const RUN_MS = scaled(5000, 1500);
const GIVE_UP_MS = 2000;

interface OverloadRun {
  readonly goodput: number;
  readonly p99Ms: number;
  readonly refused: number;
  readonly failed: number;
  readonly sent: number;
}

/** Open-loop arrivals at `rate`/s for `ms`; counts 200s (with their latency), refusals (503) and failures. */
async function openLoop(server: InboundServer, agent: Agent, rate: number, ms: number): Promise<OverloadRun> {
  const latency = new LatencyRecorder();
  let ok = 0;
  let refused = 0;
  let failed = 0;
  let sent = 0;
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  const one = async (): Promise<void> => {
    const t = performance.now();
    try {
      const res = await request(`${server.url}/hello/world`, { dispatcher: agent, headersTimeout: GIVE_UP_MS, bodyTimeout: GIVE_UP_MS, signal: AbortSignal.timeout(GIVE_UP_MS) });
      await res.body.text();
      if (res.statusCode === 200) {
        ok++;
        latency.record((performance.now() - t) * 1000);
      } else if (res.statusCode === 503) refused++;
      else failed++;
    } catch {
      failed++;
    }
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.min(Math.floor((rate * Math.min(elapsed, ms)) / 1000), Math.floor((rate * ms) / 1000));
      while (sent < due) {
        sent++;
        const p = one().finally(() => pending.delete(p));
        pending.add(p);
      }
      if (elapsed >= ms) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await Promise.all(pending);
  const summary = latency.summary();
  return { goodput: ok / (ms / 1000), p99Ms: summary.p99 / 1000, refused, failed, sent };
}

/**
 * The same overload against the limiter alone, in this process: the 4-permit, 20 ms
 * backend simulated with timers, arrivals at 3 × C, no HTTP and no other process, so the
 * machine's load moves the latencies the limiter follows much less.
 */
async function simulated(ms: number): Promise<{ goodput: number; p99Ms: number; unloadedP99Ms: number }> {
  const limiter = new AdaptiveConcurrencyLimiter(loadSheddingSettings({}, BENCHMARK)!, performance.now());
  let free = SLOTS;
  const waiting: Array<() => void> = [];
  const work = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const run = (): void => {
        setTimeout(() => {
          const next = waiting.shift();
          if (next) next();
          else free++;
          resolve();
        }, WORK_MS);
      };
      if (free > 0) {
        free--;
        run();
      } else waiting.push(run);
    });
  let ok = 0;
  const latencies: number[] = [];
  const one = async (): Promise<void> => {
    const started = performance.now();
    if (!limiter.tryAcquire(started)) return;
    await work();
    const ended = performance.now();
    limiter.release(ended, ended - started);
    ok++;
    latencies.push(ended - started);
  };
  // Unloaded first (2 at a time), which also measures the limiter's minimum latency.
  const unloadedUntil = performance.now() + 2000;
  await Promise.all([0, 1].map(async () => {
    while (performance.now() < unloadedUntil) await one();
  }));
  const unloaded = [...latencies].sort((a, b) => a - b);
  const unloadedP99Ms = unloaded[Math.floor(unloaded.length * 0.99)]!;
  ok = 0;
  latencies.length = 0;
  const started = performance.now();
  let sent = 0;
  const total = Math.floor((OVERLOAD * CAPACITY * ms) / 1000);
  const pending: Array<Promise<void>> = [];
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor((OVERLOAD * CAPACITY * (performance.now() - started)) / 1000));
      while (sent < due) {
        sent++;
        pending.push(one());
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return { goodput: ok / (ms / 1000), p99Ms: latencies[Math.floor(latencies.length * 0.99)]!, unloadedP99Ms };
}

/** Runs the benchmark; see the file comment. */
export async function inboundOverload(log: Log): Promise<BenchmarkOutput> {
  const work = { slots: SLOTS, ms: WORK_MS };
  const [plain, shedding] = await Promise.all([
    startInboundServer('fastify-mesh', { work }),
    startInboundServer('fastify-mesh', { work, loadShedding: true }),
  ]);
  const agent = new Agent({ connections: 4096, keepAliveTimeout: 60_000 });
  const results: BenchResult[] = [];
  try {
    const send = (server: InboundServer) => async () => {
      const res = await request(`${server.url}/hello/world`, { dispatcher: agent });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    };
    await runLoad({ concurrency: 2, durationMs: scaled(1000, 300), send: send(shedding) }); // warm-up; the limiter measures its minimum latency
    await runLoad({ concurrency: 2, durationMs: scaled(1000, 300), send: send(plain) });
    const unloaded = await runLoad({ concurrency: 2, durationMs: scaled(3000, 800), send: send(shedding) });
    const unloadedP99 = unloaded.latency.p99 / 1000;
    log(`unloaded (c=2): ${unloaded.throughput.toFixed(0)} req/s, p50 ${(unloaded.latency.p50 / 1000).toFixed(1)} ms, p99 ${unloadedP99.toFixed(1)} ms`);
    const runs: Record<string, OverloadRun> = {};
    for (const [name, server] of [['with shedding', shedding], ['without shedding', plain]] as const) {
      const run = await openLoop(server, agent, OVERLOAD * CAPACITY, RUN_MS);
      runs[name] = run;
      log(`${name}: sent ${run.sent}, goodput ${run.goodput.toFixed(0)}/s, p99 ${run.p99Ms.toFixed(1)} ms, refused ${run.refused}, failed ${run.failed}`);
    }
    const sim = await simulated(RUN_MS);
    log(`simulated: goodput ${sim.goodput.toFixed(0)}/s, p99 ${sim.p99Ms.toFixed(1)} ms, unloaded p99 ${sim.unloadedP99Ms.toFixed(1)} ms`);
    results.push(
      result({ benchmark: BENCHMARK, metric: `goodput at ${OVERLOAD}x capacity, the limiter alone in one process (answers/s; baseline: capacity C)`, unit: 'req/s', mesh: sim.goodput, baseline: CAPACITY, target: { on: 'ratio', op: '>=', value: 0.9 } }),
      result({ benchmark: BENCHMARK, metric: `p99 at ${OVERLOAD}x capacity, the limiter alone in one process (ms; baseline: its unloaded p99)`, unit: 'ms', mesh: sim.p99Ms, baseline: sim.unloadedP99Ms, target: { on: 'ratio', op: '<=', value: 3 } }),
    );
    const shed = runs['with shedding']!;
    const none = runs['without shedding']!;
    results.push(
      result({ benchmark: BENCHMARK, metric: `goodput at ${OVERLOAD}x capacity, load shedding on (answers/s; baseline: capacity C)`, unit: 'req/s', mesh: shed.goodput, baseline: CAPACITY, target: { on: 'ratio', op: '>=', value: 0.9 } }),
      result({ benchmark: BENCHMARK, metric: `p99 of accepted requests at ${OVERLOAD}x capacity, load shedding on (ms; baseline: unloaded p99)`, unit: 'ms', mesh: shed.p99Ms, baseline: unloadedP99, target: { on: 'ratio', op: '<=', value: 3 } }),
      result({ benchmark: BENCHMARK, metric: `goodput at ${OVERLOAD}x capacity, no shedding (answers/s within ${GIVE_UP_MS} ms; baseline: capacity C)`, unit: 'req/s', mesh: none.goodput, baseline: CAPACITY }),
      result({ benchmark: BENCHMARK, metric: `p99 of answered requests at ${OVERLOAD}x capacity, no shedding (ms; baseline: unloaded p99)`, unit: 'ms', mesh: none.p99Ms, baseline: unloadedP99 }),
    );
    return {
      results,
      notes: [
        `inbound-overload: C = ${CAPACITY} req/s (${SLOTS} permits × ${WORK_MS} ms), open-loop arrivals at ${OVERLOAD * CAPACITY}/s for ${RUN_MS} ms, callers give up after ${GIVE_UP_MS} ms. ` +
          `With shedding: ${shed.refused} of ${shed.sent} refused at once (503), ${shed.failed} failed. ` +
          `Without: ${none.failed} of ${none.sent} timed out or failed (the queue grows by ${(OVERLOAD - 1) * CAPACITY}/s and every answer comes later than the last). ` +
          `Load average during the run: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores: event-loop lag inflates the latencies the limiter follows.`,
      ],
    };
  } finally {
    await agent.close();
    await Promise.all([plain.close(), shedding.close()]);
  }
}

runIfMain(import.meta.url, BENCHMARK, inboundOverload);
