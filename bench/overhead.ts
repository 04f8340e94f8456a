/**
 * Overhead: what routing through the mesh costs compared with calling undici directly.
 *
 * One node:http backend (tiny body, keep-alive) runs in a child process, so its CPU is
 * on the other core and the client process measures only client work. The baseline is
 * plain undici against the same server: `undici.request` with an undici `Agent`, and
 * Node's global `fetch` with that Agent as its dispatcher (through `Dispatcher1Wrapper`,
 * as Node's bundled fetch speaks undici's older handler API). The mesh side sends the
 * same requests to the logical service `svc`, mapped by `staticEndpoints` to that
 * server, through `mesh.dispatcher` / `mesh.fetch` (which is Node's global fetch with
 * the mesh as dispatcher) with the default balancer (P2C Peak EWMA over one endpoint).
 * Both sides use the same fetch, the same undici pools, the same connection limit and
 * the same body handling, and both are warmed up
 * first, so the comparison isolates what the mesh adds: routing, balancing, load
 * tracking, its handler wrappers.
 *
 * - Throughput at concurrency 32: runs of raw and mesh alternate in ABBA order (drift in
 *   machine load hits both alike); target: median mesh / median raw >= 0.90.
 * - Latency at concurrency 1: one run alternates raw and mesh request by request, so
 *   both see the same machine at the same moment; target: p50 mesh − raw <= 25 µs.
 */
import { Agent, Dispatcher1Wrapper, request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { alternateRuns, pairedThroughputRatios, type AlternateResult, type Variant } from './lib/alternate.js';
import { startBackends } from './lib/backends.js';
import { runAlternating, type LoadResult } from './lib/load.js';
import { runIfMain } from './lib/entry.js';
import type { Log } from './lib/log.js';
import { result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'overhead';
const CONCURRENCY = 32;
const ROUNDS = 6;
const THROUGHPUT_MS = scaled(1500, 200);
const LATENCY_MS = scaled(4000, 300);
const WARMUP_MS = scaled(1500, 200);

async function expectOk(statusCode: number, text: Promise<string>): Promise<void> {
  await text;
  if (statusCode !== 200) throw new Error(`status ${statusCode}`);
}

/**
 * Latency at concurrency 1: a warm-up, then one run alternating `raw` and `mesh` request
 * by request. Returns [raw, mesh].
 */
async function latencyAtConcurrencyOne(log: Log, api: string, raw: Variant, mesh: Variant): Promise<[LoadResult, LoadResult]> {
  await runAlternating({ durationMs: WARMUP_MS / 2, sends: [raw.send, mesh.send] });
  const [baseline, meshed] = await runAlternating({ durationMs: LATENCY_MS, sends: [raw.send, mesh.send] });
  for (const [name, r] of [['raw', baseline], ['mesh', meshed]] as const) {
    if (r.errors > 0) throw new Error(`${api} c=1 ${name}: ${r.errors} requests failed; first: ${r.firstError}`);
    log(`${api} c=1 ${name.padEnd(4)} ${r.completed} requests  p50 ${r.latency.p50.toFixed(1)} µs  p90 ${r.latency.p90.toFixed(1)} µs  p99 ${r.latency.p99.toFixed(1)} µs`);
  }
  return [baseline, meshed];
}

/** Runs the overhead benchmark; see the file comment. */
export async function overhead(log: Log): Promise<BenchmarkOutput> {
  const backends = await startBackends([0]);
  const port = backends.ports[0]!;
  const agent = new Agent({ connections: CONCURRENCY });
  const mesh = createMesh({
    discovery: [staticEndpoints({ svc: [`127.0.0.1:${port}`] })],
    endpointPool: { connections: CONCURRENCY },
  });
  const rawUrl = `http://127.0.0.1:${port}/`;
  const meshUrl = 'http://svc/';

  const requestRaw: Variant = {
    name: 'raw',
    send: async () => {
      const res = await request(rawUrl, { dispatcher: agent });
      await expectOk(res.statusCode, res.body.text());
    },
  };
  const requestMesh: Variant = {
    name: 'mesh',
    send: async () => {
      const res = await request(meshUrl, { dispatcher: mesh.dispatcher });
      await expectOk(res.statusCode, res.body.text());
    },
  };
  const legacyAgent = new Dispatcher1Wrapper(agent);
  const fetchRaw: Variant = {
    name: 'raw',
    send: async () => {
      // undici 8's type; @types/node types fetch's dispatcher with its bundled undici's.
      const res = await fetch(rawUrl, { dispatcher: legacyAgent as never });
      await expectOk(res.status, res.text());
    },
  };
  const fetchMesh: Variant = {
    name: 'mesh',
    send: async () => {
      const res = await mesh.fetch(meshUrl);
      await expectOk(res.status, res.text());
    },
  };

  const results: BenchResult[] = [];
  const throughputRow = (api: string, runs: AlternateResult): BenchResult =>
    result({
      benchmark: BENCHMARK,
      metric: `${api} throughput, c=${CONCURRENCY} (req/s; baseline: undici Agent)`,
      unit: 'req/s',
      mesh: median(runs.mesh.map((r) => r.throughput)),
      baseline: median(runs.baseline.map((r) => r.throughput)),
      target: { on: 'ratio', op: '>=', value: 0.9 },
    });
  const latencyRows = (api: string, raw: Variant, meshVariant: Variant): Promise<BenchResult[]> =>
    latencyAtConcurrencyOne(log, api, raw, meshVariant).then(([baseline, meshed]) => [
      result({
        benchmark: BENCHMARK,
        metric: `${api} p50 latency, c=1 (µs; baseline: undici Agent)`,
        unit: 'µs',
        mesh: meshed.latency.p50,
        baseline: baseline.latency.p50,
        target: { on: 'difference', op: '<=', value: 25, unit: 'µs' },
      }),
      result({
        benchmark: BENCHMARK,
        metric: `${api} p99 latency, c=1 (µs; baseline: undici Agent)`,
        unit: 'µs',
        mesh: meshed.latency.p99,
        baseline: baseline.latency.p99,
      }),
    ]);

  try {
    const throughput = { concurrency: CONCURRENCY, durationMs: THROUGHPUT_MS, warmupMs: WARMUP_MS, rounds: ROUNDS };
    log(`backend on 127.0.0.1:${port} (child process); ${ROUNDS} rounds of ${THROUGHPUT_MS} ms per variant at c=${CONCURRENCY}`);
    for (const [api, raw, meshed] of [
      ['undici.request', requestRaw, requestMesh],
      ['fetch', fetchRaw, fetchMesh],
    ] as const) {
      const runs = await alternateRuns(log, `${api} c=${CONCURRENCY}`, raw, meshed, throughput);
      log(`${api} c=${CONCURRENCY} per-round mesh/raw: ${pairedThroughputRatios(runs).map((r) => r.toFixed(3)).join(' ')}`);
      results.push(throughputRow(api, runs));
    }
    results.push(...(await latencyRows('undici.request', requestRaw, requestMesh)));
    results.push(...(await latencyRows('fetch', fetchRaw, fetchMesh)));
  } finally {
    await mesh.close();
    await agent.close();
    await backends.close();
  }
  return {
    results,
    notes: [
      `overhead: server in a child process; both sides limited to ${CONCURRENCY} connections; the mesh uses its ` +
        `default balancer (P2C Peak EWMA, one endpoint). Throughput: ${ROUNDS} ABBA-alternated rounds of ` +
        `${THROUGHPUT_MS} ms per variant after a ${WARMUP_MS} ms warm-up; medians compared (per-round ratios ` +
        `are in the progress log). Latency at c=1: one ${LATENCY_MS} ms run alternating raw and mesh ` +
        `request by request (ABBA), so both see the same machine state.`,
    ],
  };
}

runIfMain(import.meta.url, BENCHMARK, overhead);
