/**
 * Hedging against occasional slow answers: tail latency with and without backup requests,
 * and how many extra requests the backends see, on two workloads.
 *
 * Four node:http backends in a child process (`bench/lib/backend-host.ts`) answer after
 * 5 ms, except that some requests, picked at random, answer 50 ms later:
 * - `one slow backend` (the issue's workload): backend 0 is slow on 10 % of its requests,
 *   the other three never are;
 * - `slow everywhere`: every backend is slow on 3 % of its requests (a GC pause or a
 *   noisy neighbour anywhere: nothing a balancer can steer around).
 * 16 closed-loop workers send GETs through the mesh (default balancer, P2C Peak EWMA)
 * with a VirtualService that has, or not, the `proxyless.dev/hedging` annotation:
 * - none: no annotation, the baseline;
 * - percentile: `{"percentile":95,"maxExtraPercent":5}` (the percentile that matches the budget);
 * - fixed: `{"delay":"10ms","maxExtraPercent":5}` (just above a healthy answer's p99).
 * Extra requests are counted at the backends: (tries received - requests completed) /
 * requests, measured phases only. Targets, for each hedging variant:
 * - one slow backend: p99 <= 2 x p50, with at most 5 % extra requests (the issue's);
 * - slow everywhere: p99 <= 0.6 x the unhedged p99, with at most 5 % extra requests.
 *   p99 <= 2 x p50 cannot hold here, whatever hedging does: a hedged answer takes at
 *   least the delay plus a normal answer, the delay must be above ~95 % of answers to stay
 *   within 5 % extra, and 3 % of requests need a backup, so p99 ≈ delay + p50 > 2 x p50.
 *   This workload shows what the hedge itself wins; the first shows the whole client
 *   (balancer and hedge together) on the issue's workload, where the balancer sends the
 *   slow backend less traffic and the hedge answers the slow requests it still gets.
 * Why fair: every variant gets a fresh mesh, the same unmeasured warm-up (which also
 * gives the percentile variant its latency samples), the same measuring time and the same
 * backends; the VirtualService differs only by the annotation. Rounds rotate the order
 * and medians over rounds are reported (extra-request shares are summed over rounds).
 */
import { request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { startBackends, type Backends } from './lib/backends.js';
import { runIfMain } from './lib/entry.js';
import { assertNoErrors, runLoad, type LoadResult } from './lib/load.js';
import type { Log } from './lib/log.js';
import { formatNumber, result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'resilience-hedging';
const BACKENDS = 4;
const BASE_MS = 5;
const SLOW_EXTRA_MS = 50;
const CONCURRENCY = 16;
const WARMUP_MS = scaled(800, 300);
const MEASURE_MS = scaled(2500, 500);
const ROUNDS = 3;
const MAX_EXTRA_PERCENT = 5;

/** A workload: how the backends answer, and the p99 target of the hedged variants. */
interface Workload {
  readonly name: string;
  /** Per backend: the share of its requests answered `SLOW_EXTRA_MS` late. */
  readonly slowShares: readonly number[];
  /** The p99 target: against the variant's own p50, or against the unhedged p99. */
  readonly p99Target: { readonly against: 'p50'; readonly ratio: number } | { readonly against: 'unhedged p99'; readonly ratio: number };
}

const WORKLOADS: readonly Workload[] = [
  { name: 'one slow backend', slowShares: [0.1, 0, 0, 0], p99Target: { against: 'p50', ratio: 2 } },
  { name: 'slow everywhere', slowShares: [0.03, 0.03, 0.03, 0.03], p99Target: { against: 'unhedged p99', ratio: 0.6 } },
];

type VariantName = 'none' | 'percentile' | 'fixed';
const ORDER: readonly VariantName[] = ['none', 'percentile', 'fixed'];
const HEDGING: Record<VariantName, string | undefined> = {
  none: undefined,
  percentile: `{"percentile":95,"maxExtraPercent":${MAX_EXTRA_PERCENT}}`,
  fixed: `{"delay":"10ms","maxExtraPercent":${MAX_EXTRA_PERCENT}}`,
};
const LABEL: Record<VariantName, string> = {
  none: 'no hedging',
  percentile: 'hedging percentile 95',
  fixed: 'hedging delay 10ms',
};

function virtualService(hedging: string | undefined): string {
  const annotations = hedging === undefined ? '' : `\n  annotations:\n    proxyless.dev/hedging: '${hedging}'`;
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc${annotations}
spec:
  hosts: [svc]
  http:
  - route: [{ destination: { host: svc } }]
`;
}

/** One variant's measured runs and counts, over all rounds. */
interface VariantRuns {
  readonly runs: LoadResult[];
  /** Tries counted at the backends during the measured phases. */
  tries: number;
  /** Of those, picked to answer slowly. */
  slow: number;
  /** Requests completed in the measured phases. */
  requests: number;
}

/** A fresh mesh with `hedging`, an unmeasured warm-up, then the measured phase, counted at the backends. */
async function measure(backends: Backends, hedging: string | undefined, into: VariantRuns): Promise<LoadResult> {
  const mesh = createMesh({ discovery: [staticEndpoints({ svc: [...backends.addresses] })], config: [virtualService(hedging)] });
  const send = async (): Promise<void> => {
    const res = await request('http://svc/', { dispatcher: mesh.dispatcher });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}, body ${body}`);
  };
  try {
    assertNoErrors('warm-up', await runLoad({ concurrency: CONCURRENCY, durationMs: WARMUP_MS, send }));
    const before = await backends.counts();
    const measured = await runLoad({ concurrency: CONCURRENCY, durationMs: MEASURE_MS, send });
    assertNoErrors('measured', measured);
    const after = await backends.counts();
    into.tries += after.requests.reduce((s, n, i) => s + n - before.requests[i]!, 0);
    into.slow += after.slow.reduce((s, n, i) => s + n - before.slow[i]!, 0);
    into.requests += measured.completed;
    into.runs.push(measured);
    return measured;
  } finally {
    await mesh.close();
  }
}

/** Runs every variant on one workload; returns its rows and a note. */
async function runWorkload(workload: Workload, log: Log): Promise<BenchmarkOutput> {
  const backends = await startBackends(workload.slowShares.map((slowShare) => ({ delayMs: BASE_MS, slowShare, slowExtraMs: SLOW_EXTRA_MS })));
  log(`${workload.name}: ${BACKENDS} backends (child process), ${BASE_MS} ms, slow (+${SLOW_EXTRA_MS} ms) on ` +
    `${workload.slowShares.map((share) => `${share * 100} %`).join(' / ')} of their requests at random; ` +
    `c=${CONCURRENCY}, ${WARMUP_MS} ms warm-up + ${MEASURE_MS} ms measured per variant, ${ROUNDS} rounds`);
  const data = new Map<VariantName, VariantRuns>();
  for (const name of ORDER) data.set(name, { runs: [], tries: 0, slow: 0, requests: 0 });
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so no variant always runs first or last.
      for (let i = 0; i < ORDER.length; i++) {
        const name = ORDER[(i + round) % ORDER.length]!;
        const into = data.get(name)!;
        const triesBefore = into.tries;
        const run = await measure(backends, HEDGING[name], into);
        log(
          `${workload.name}, round ${round + 1}/${ROUNDS} ${LABEL[name].padEnd(21)} ${formatNumber(run.throughput).padStart(6)} req/s  ` +
            `p50 ${(run.latency.p50 / 1000).toFixed(2)} ms  p99 ${(run.latency.p99 / 1000).toFixed(2)} ms  ` +
            `p999 ${(run.latency.p999 / 1000).toFixed(2)} ms  extra ${((100 * (into.tries - triesBefore - run.completed)) / run.completed).toFixed(2)} %`,
        );
      }
    }
  } finally {
    await backends.close();
  }

  const p = (name: VariantName, key: 'p50' | 'p99'): number => median(data.get(name)!.runs.map((r) => r.latency[key] / 1000));
  const extra = (name: VariantName): number => {
    const d = data.get(name)!;
    return (100 * (d.tries - d.requests)) / d.requests;
  };
  const row = (metric: string, unit: string, mesh: number, baseline: number, target?: BenchResult['target']): BenchResult =>
    result({ benchmark: BENCHMARK, metric: `${workload.name}, ${metric}`, unit, mesh, baseline, ...(target ? { target } : {}) });
  const target = workload.p99Target;
  const ownP50Target = target.against === 'p50' ? { on: 'ratio' as const, op: '<=' as const, value: target.ratio } : undefined;
  const unhedgedTarget = target.against === 'unhedged p99' ? { on: 'ratio' as const, op: '<=' as const, value: target.ratio } : undefined;
  const results: BenchResult[] = [row(`${LABEL.none}: p99 (ms; baseline: its p50)`, 'ms', p('none', 'p99'), p('none', 'p50'))];
  for (const name of ['percentile', 'fixed'] as const) {
    results.push(
      row(`${LABEL[name]}: p99 (ms; baseline: its p50)`, 'ms', p(name, 'p99'), p(name, 'p50'), ownP50Target),
      row(`${LABEL[name]}: extra requests at the backends (%; baseline: maxExtraPercent)`, '%', extra(name), MAX_EXTRA_PERCENT, {
        on: 'mesh',
        op: '<=',
        value: MAX_EXTRA_PERCENT,
        unit: '%',
      }),
      row(`${LABEL[name]}: p99 (ms; baseline: ${LABEL.none})`, 'ms', p(name, 'p99'), p('none', 'p99'), unhedgedTarget),
      row(`${LABEL[name]}: p50 (ms; baseline: ${LABEL.none})`, 'ms', p(name, 'p50'), p('none', 'p50')),
    );
  }
  const slowShare = ORDER.map((name) => {
    const d = data.get(name)!;
    return `${LABEL[name]} ${((100 * d.slow) / d.requests).toFixed(2)} %`;
  }).join(', ');
  const notes = [
    `resilience-hedging, ${workload.name}: backends slow on ${workload.slowShares.map((share) => `${share * 100} %`).join(' / ')} of ` +
      `their requests (+${SLOW_EXTRA_MS} ms over ${BASE_MS} ms); slow tries per request: ${slowShare}.`,
  ];
  if (extra('percentile') === 0 && extra('fixed') === 0) {
    notes.push(`resilience-hedging, ${workload.name}: no extra requests at all: the proxyless.dev/hedging annotation had no effect.`);
  }
  return { results, notes };
}

/** Runs the hedging benchmark; see the file comment. */
export async function resilienceHedging(log: Log): Promise<BenchmarkOutput> {
  const results: BenchResult[] = [];
  const notes = [
    `resilience-hedging: c=${CONCURRENCY}; per workload, variant and round a fresh mesh, ${WARMUP_MS} ms unmeasured warm-up, ` +
      `${MEASURE_MS} ms measured; medians of ${ROUNDS} rounds; extra requests = tries counted at the backends / requests - 1, ` +
      `summed over rounds.`,
  ];
  for (const workload of WORKLOADS) {
    const output = await runWorkload(workload, log);
    results.push(...output.results);
    notes.push(...output.notes);
  }
  return { results, notes };
}

runIfMain(import.meta.url, BENCHMARK, resilienceHedging);
