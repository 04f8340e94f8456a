/**
 * Hedging against occasional slow answers: tail latency with and without backup requests,
 * and how many extra requests the backends see.
 *
 * Four node:http backends in a child process (the resilience backend host of
 * `resilience-kill.ts`) answer after 5 ms, except that each request, on every backend, is
 * picked at random with probability 3 % to answer 50 ms later (a GC pause or a noisy
 * neighbour: nothing a balancer can steer around). 16 closed-loop workers send GETs
 * through the mesh (default balancer) with a VirtualService that has, or not, the
 * `proxyless.dev/hedging` annotation:
 * - none: no annotation, the baseline;
 * - percentile: `{"percentile":90,"maxExtraPercent":5}`;
 * - fixed: `{"delay":"10ms","maxExtraPercent":5}` (just above a healthy answer's p99).
 * Targets, for each hedging variant: p99 <= 2 x p50, with at most 5 % extra requests,
 * counted at the backends ((tries the backends received - requests completed) /
 * requests, measured phases only). The p50 and p99 against no hedging are reported too.
 * Why 3 % and not 10 %, and not one slow backend: with 10 % of requests slow and at most
 * 5 % hedged, at least 5 % stay slow, so p99 cannot come down whatever hedging does; with
 * one backend slow on 10 % of its requests, P2C Peak EWMA already sends it less traffic,
 * the slow share falls to about 1 % and the unhedged p99 is fast in some rounds and slow
 * in others. At 3 % on every backend the unhedged p99 is always a slow answer and a 5 %
 * hedge budget can, in principle, cover every slow request.
 * Why fair: every variant gets a fresh mesh, the same unmeasured warm-up (which also
 * gives the percentile variant its latency samples), the same measuring time and the same
 * backends; the VirtualService differs only by the annotation. Rounds rotate the order
 * and medians over rounds are reported (extra-request shares are summed over rounds).
 * Note that a hedged answer takes at least the hedge delay plus a normal answer, and the
 * delay must be above most normal answers to stay within 5 % extra, so whenever more than
 * 1 % of requests need a backup, p99 ≈ delay + p50 is about 2 x p50 at best.
 */
import { request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { startResilienceBackends, type ResilienceBackends } from './resilience-kill.js';
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
const SLOW_SHARE = 0.03;
const CONCURRENCY = 16;
const WARMUP_MS = scaled(800, 300);
const MEASURE_MS = scaled(2500, 500);
const ROUNDS = 3;
const MAX_EXTRA_PERCENT = 5;

type VariantName = 'none' | 'percentile' | 'fixed';
const ORDER: readonly VariantName[] = ['none', 'percentile', 'fixed'];
const HEDGING: Record<VariantName, string | undefined> = {
  none: undefined,
  percentile: `{"percentile":90,"maxExtraPercent":${MAX_EXTRA_PERCENT}}`,
  fixed: `{"delay":"10ms","maxExtraPercent":${MAX_EXTRA_PERCENT}}`,
};
const LABEL: Record<VariantName, string> = {
  none: 'no hedging',
  percentile: 'hedging percentile 90',
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
async function measure(backends: ResilienceBackends, hedging: string | undefined, into: VariantRuns): Promise<LoadResult> {
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

/** Runs the hedging benchmark; see the file comment. */
export async function resilienceHedging(log: Log): Promise<BenchmarkOutput> {
  const backends = await startResilienceBackends(
    Array.from({ length: BACKENDS }, () => ({ delayMs: BASE_MS, slowShare: SLOW_SHARE, slowExtraMs: SLOW_EXTRA_MS })),
  );
  log(`${BACKENDS} backends (child process), ${BASE_MS} ms, ${SLOW_SHARE * 100} % of requests +${SLOW_EXTRA_MS} ms at random; ` +
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
          `round ${round + 1}/${ROUNDS} ${LABEL[name].padEnd(21)} ${formatNumber(run.throughput).padStart(6)} req/s  ` +
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
    result({ benchmark: BENCHMARK, metric, unit, mesh, baseline, ...(target ? { target } : {}) });
  const results: BenchResult[] = [row(`${LABEL.none}: p99 (ms; baseline: its p50)`, 'ms', p('none', 'p99'), p('none', 'p50'))];
  for (const name of ['percentile', 'fixed'] as const) {
    results.push(
      row(`${LABEL[name]}: p99 (ms; baseline: its p50)`, 'ms', p(name, 'p99'), p(name, 'p50'), { on: 'ratio', op: '<=', value: 2 }),
      row(`${LABEL[name]}: extra requests at the backends (%; baseline: maxExtraPercent)`, '%', extra(name), MAX_EXTRA_PERCENT, {
        on: 'mesh',
        op: '<=',
        value: MAX_EXTRA_PERCENT,
        unit: '%',
      }),
      row(`${LABEL[name]}: p99 (ms; baseline: ${LABEL.none})`, 'ms', p(name, 'p99'), p('none', 'p99')),
      row(`${LABEL[name]}: p50 (ms; baseline: ${LABEL.none})`, 'ms', p(name, 'p50'), p('none', 'p50')),
    );
  }
  const slowShare = ORDER.map((name) => {
    const d = data.get(name)!;
    return `${LABEL[name]} ${((100 * d.slow) / d.tries).toFixed(2)} %`;
  }).join(', ');
  const notes = [
    `resilience-hedging: ${BACKENDS} backends in a child process, ${BASE_MS} ms, each request ${SLOW_SHARE * 100} % likely to take ` +
      `+${SLOW_EXTRA_MS} ms; c=${CONCURRENCY}; per variant and round a fresh mesh, ${WARMUP_MS} ms unmeasured warm-up, ${MEASURE_MS} ms ` +
      `measured; medians of ${ROUNDS} rounds; extra requests = tries counted at the backends / requests - 1, summed over rounds. ` +
      `Tries answered slowly: ${slowShare}.`,
  ];
  if (extra('percentile') === 0 && extra('fixed') === 0) {
    notes.push('resilience-hedging: no extra requests at all: the proxyless.dev/hedging annotation had no effect (hedging not in this build?).');
  }
  return { results, notes };
}

runIfMain(import.meta.url, BENCHMARK, resilienceHedging);
