/**
 * Inbound overhead: what the server-side adapters cost on a hello-world route.
 *
 * Each server runs in its own child process (`lib/inbound-host.ts`), so its CPU is a core
 * of its own and the benchmark process only generates load (undici, 32 connections,
 * keep-alive, c=32). Two comparisons per framework (Fastify 5, Express 5), each as
 * ABBA-alternated runs against two servers started side by side:
 *
 * - the adapter (telemetry on, no SDK registered: the API's no-op path) vs the bare
 *   framework; target: median throughput ratio >= 0.95;
 * - the adapter under a registered SDK vs the bare framework with
 *   `@opentelemetry/instrumentation-http` under the same SDK (AlwaysOn, a batch span
 *   processor and a metric reader whose exporters drop everything): what teams run
 *   today; target: ratio >= 1.0.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { Socket } from 'node:net';
import { Agent, request } from 'undici';
import { createMesh, inbound } from 'proxyless';
import { alternateRuns, pairedThroughputRatios, type Variant } from './lib/alternate.js';
import { runIfMain } from './lib/entry.js';
import { startInboundServer, type InboundServer } from './lib/inbound-servers.js';
import type { Log } from './lib/log.js';
import { result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'inbound-overhead';
const CONCURRENCY = 32;
const ROUNDS = 8;
const RUN_MS = scaled(1500, 200);
const WARMUP_MS = scaled(1000, 200);

function variant(name: string, server: InboundServer, agent: Agent): Variant {
  const url = `${server.url}/hello/world`;
  return {
    name,
    send: async () => {
      const res = await request(url, { dispatcher: agent });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${name}: status ${res.statusCode}`);
    },
  };
}

/**
 * The inbound core alone, in this process: a request and response object made and closed
 * (Node's own classes, no socket) with and without `inbound.handle` around them, ABAB
 * runs, the medians' difference per request. Free of the load generator and of the other
 * processes on the machine, unlike the socket rows.
 */
async function coreCost(log: Log): Promise<BenchResult> {
  const mesh = createMesh();
  const side = inbound(mesh, { health: false });
  const socket = new Socket();
  const noop = (): void => {};
  const one = (withInbound: boolean): void => {
    const req = new IncomingMessage(socket);
    req.url = '/hello/world';
    req.method = 'GET';
    req.headers = { host: 'svc', 'user-agent': 'bench' };
    const res = new ServerResponse(req);
    if (withInbound) side.handle(req, res, noop);
    res.emit('close');
  };
  const n = scaled(100_000, 10_000);
  const times: Record<'bare' | 'inbound', number[]> = { bare: [], inbound: [] };
  for (let round = 0; round < 8; round++) {
    for (const mode of round % 2 === 0 ? (['bare', 'inbound'] as const) : (['inbound', 'bare'] as const)) {
      const started = performance.now();
      for (let i = 0; i < n; i++) one(mode === 'inbound');
      times[mode].push(((performance.now() - started) * 1000) / n);
    }
  }
  await mesh.close();
  const bare = median(times.bare.slice(2));
  const withInbound = median(times.inbound.slice(2));
  log(`inbound core in-process: ${withInbound.toFixed(2)} µs vs ${bare.toFixed(2)} µs per request object pair`);
  return result({ benchmark: BENCHMARK, metric: 'inbound core per request, in-process, no SDK (µs; baseline: the request and response objects alone)', unit: 'µs', mesh: withInbound, baseline: bare, target: { on: 'difference', op: '<=', value: 5, unit: 'µs' } });
}

/** Runs the benchmark; see the file comment. */
export async function inboundOverhead(log: Log): Promise<BenchmarkOutput> {
  const results: BenchResult[] = [await coreCost(log)];
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 60_000 });
  const options = { concurrency: CONCURRENCY, durationMs: RUN_MS, warmupMs: WARMUP_MS, rounds: ROUNDS };
  try {
    for (const framework of ['fastify', 'express'] as const) {
      for (const [baselineSetup, meshSetup, label, target] of [
        ['bare', 'mesh', 'no SDK; baseline: bare', 0.95],
        ['otel-sdk', 'mesh-sdk', 'SDK registered; baseline: bare + instrumentation-http, same SDK', 1.0],
      ] as const) {
        const [baseServer, meshServer] = await Promise.all([startInboundServer(`${framework}-${baselineSetup}`), startInboundServer(`${framework}-${meshSetup}`)]);
        try {
          const before = await Promise.all([baseServer.cpu(), meshServer.cpu()]);
          const runs = await alternateRuns(log, `${framework} ${meshSetup}`, variant(baselineSetup, baseServer, agent), variant(meshSetup, meshServer, agent), options);
          const paired = pairedThroughputRatios(runs);
          log(`${framework} ${meshSetup}/${baselineSetup} per round: ${paired.map((r) => r.toFixed(3)).join(' ')}`);
          results.push(
            result({
              benchmark: BENCHMARK,
              metric: `${framework} hello world with the adapter, c=${CONCURRENCY} (req/s; ${label}; ratio: median of per-round ratios)`,
              unit: 'req/s',
              mesh: median(runs.mesh.map((r) => r.throughput)),
              baseline: median(runs.baseline.map((r) => r.throughput)),
              // The two runs of a round are adjacent in time: their ratio cancels most of the
              // machine's drift, which on a shared 2-core host moves throughput by ±20 % between rounds.
              ratio: median(paired),
              target: { on: 'ratio', op: '>=', value: target },
            }),
          );
          const after = await Promise.all([baseServer.cpu(), meshServer.cpu()]);
          const perRequest = (i: number): number => (after[i]!.micros - before[i]!.micros) / Math.max(1, after[i]!.requests - before[i]!.requests);
          results.push(
            result({
              benchmark: BENCHMARK,
              metric: `${framework} server CPU per request (µs; ${label}; whatever the client reached)`,
              unit: 'µs',
              mesh: perRequest(1),
              baseline: perRequest(0),
            }),
          );
        } finally {
          await Promise.all([baseServer.close(), meshServer.close()]);
        }
      }
    }
  } finally {
    await agent.close();
  }
  return {
    results,
    notes: [
      `inbound-overhead: each server in its own child process; load from the benchmark process (undici, ${CONCURRENCY} ` +
        `connections, c=${CONCURRENCY}); ${ROUNDS} ABBA rounds of ${RUN_MS} ms per variant after ${WARMUP_MS} ms of warm-up; ` +
        'each ratio is the median of the per-round ratios (the two runs of a round are adjacent in time); the req/s columns are medians. ' +
        `Load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores. ` +
        'The adapter runs with its defaults (telemetry on, health endpoints off so the route is the same). ' +
        'On a loaded 2-core machine the load generator, not the server, often limits throughput; the server CPU per request ' +
        '(process.cpuUsage of each server over all its runs) is the steadier measure of what the adapter adds.',
    ],
  };
}

runIfMain(import.meta.url, BENCHMARK, inboundOverhead);
