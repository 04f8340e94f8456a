/**
 * Outlier detection when a backend dies mid-run: success rate and time to ejection.
 *
 * Four node:http backends run in a child process (`bench/lib/backend-host.ts`);
 * 32 closed-loop workers send GETs through the mesh with default settings (P2C Peak EWMA,
 * Istio's default retries: 2 on connect-failure, refused-stream, gRPC unavailable/cancelled) plus a
 * DestinationRule `outlierDetection: { consecutive5xxErrors: 5, consecutiveGatewayErrors: 5,
 * interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50 }`. After an unmeasured
 * warm-up, each run measures for a few seconds; in the "kill" run one backend's server is
 * closed and its sockets destroyed (in-flight requests see a reset, new connections are
 * refused) 1.5 s into the measured phase. Reported:
 * - the success rate (a request succeeds when it gets a 200 from a live backend) of the
 *   kill runs, against the same runs without the kill: target >= 99.9 %;
 * - the time from the kill (the moment the command is sent to the host, so IPC time
 *   counts against the mesh) until `mesh.services()` shows the dead endpoint as not
 *   `available`, polled every 10 ms; the worst of the kill runs, against the detection
 *   interval (1 s): target ratio <= 1 (within one interval). A run where it is never
 *   ejected reports NaN (a miss).
 * Why fair: the baseline is the same mesh, config, backends, load, polling and duration,
 * measured in the same process, in ABBA order (no-kill, kill, kill, no-kill), each run with
 * a fresh mesh and fresh backends; the only difference is the kill. Rates are summed over
 * rounds (not medians), so every request counts.
 */
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { startBackends } from './lib/backends.js';
import { runIfMain } from './lib/entry.js';
import { runLoad, type LoadResult } from './lib/load.js';
import type { Log } from './lib/log.js';
import { formatNumber, result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'resilience-kill';
const BACKENDS = 4;
const KILLED_INDEX = 1;
const DELAY_MS = 1;
const CONCURRENCY = 32;
const WARMUP_MS = scaled(1000, 200);
const MEASURE_MS = scaled(5000, 2500);
const KILL_AT_MS = scaled(1500, 500);
const POLL_MS = 10;
const INTERVAL_MS = 1000;

const OUTLIER_RULE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: svc }
spec:
  host: svc
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 5
      consecutiveGatewayErrors: 5
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
`;

/** What one run measured. */
interface RunOutcome {
  readonly load: LoadResult;
  /** ms from the kill command to the endpoint showing as not available; NaN when it never did (or no kill). */
  readonly ejectedAfterMs: number;
  /** Whether the watched endpoint was ever seen not available (in a no-kill run: a false ejection). */
  readonly everUnavailable: boolean;
  /** The watched endpoint's `failures` at the end. */
  readonly failures: number;
  readonly warnings: readonly string[];
}

function watchedEndpoint(mesh: Mesh, key: string): { available: boolean; failures: number } | undefined {
  for (const service of mesh.services()) {
    for (const endpoint of service.endpoints) if (endpoint.key === key) return endpoint;
  }
  return undefined;
}

async function oneRun(kill: boolean): Promise<RunOutcome> {
  const backends = await startBackends(Array.from({ length: BACKENDS }, () => ({ delayMs: DELAY_MS })));
  const mesh = createMesh({ discovery: [staticEndpoints({ svc: [...backends.addresses] })], config: [OUTLIER_RULE] });
  const key = backends.addresses[KILLED_INDEX]!;
  const send = async (): Promise<void> => {
    const res = await request('http://svc/', { dispatcher: mesh.dispatcher });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}, body ${body}`);
  };
  let killSentAt = Number.NaN;
  let ejectedAt = Number.NaN;
  let everUnavailable = false;
  let poller: NodeJS.Timeout | undefined;
  let killer: NodeJS.Timeout | undefined;
  let killDone: Promise<void> = Promise.resolve();
  try {
    await runLoad({ concurrency: CONCURRENCY, durationMs: WARMUP_MS, send });
    poller = setInterval(() => {
      const endpoint = watchedEndpoint(mesh, key);
      if (endpoint && !endpoint.available && !everUnavailable) {
        everUnavailable = true;
        ejectedAt = performance.now();
      }
    }, POLL_MS);
    if (kill) {
      killer = setTimeout(() => {
        killSentAt = performance.now();
        killDone = backends.kill(KILLED_INDEX);
      }, KILL_AT_MS);
    }
    const load = await runLoad({ concurrency: CONCURRENCY, durationMs: MEASURE_MS, send });
    await killDone;
    const failures = watchedEndpoint(mesh, key)?.failures ?? Number.NaN;
    return {
      load,
      ejectedAfterMs: kill && everUnavailable ? ejectedAt - killSentAt : Number.NaN,
      everUnavailable,
      failures,
      warnings: mesh.warnings,
    };
  } finally {
    clearInterval(poller);
    clearTimeout(killer);
    await mesh.close();
    await backends.close();
  }
}

/** Runs the kill benchmark; see the file comment. */
export async function resilienceKill(log: Log): Promise<BenchmarkOutput> {
  log(`${BACKENDS} backends (child process, ${DELAY_MS} ms), c=${CONCURRENCY}, ${WARMUP_MS} ms warm-up + ${MEASURE_MS} ms measured ` +
    `per run; kill backend ${KILLED_INDEX} at ${KILL_AT_MS} ms; order no-kill, kill, kill, no-kill`);
  const runs: Array<{ kill: boolean; outcome: RunOutcome }> = [];
  for (const kill of [false, true, true, false]) {
    const outcome = await oneRun(kill);
    runs.push({ kill, outcome });
    const { load } = outcome;
    const total = load.completed + load.errors;
    log(
      `${(kill ? 'kill' : 'no-kill').padEnd(7)} ${formatNumber(total)} requests, ${load.errors} failed` +
        `${load.firstError ? ` (first: ${load.firstError})` : ''}; p99 ${(load.latency.p99 / 1000).toFixed(2)} ms; ` +
        (kill
          ? `ejected ${Number.isNaN(outcome.ejectedAfterMs) ? 'never' : `after ${outcome.ejectedAfterMs.toFixed(0)} ms`}`
          : `watched endpoint ${outcome.everUnavailable ? 'WAS ejected (false ejection)' : 'stayed available'}`) +
        `; its failures ${outcome.failures}`,
    );
  }
  const killed = runs.filter((r) => r.kill).map((r) => r.outcome);
  const healthy = runs.filter((r) => !r.kill).map((r) => r.outcome);
  const successRate = (outcomes: RunOutcome[]): number => {
    const completed = outcomes.reduce((s, o) => s + o.load.completed, 0);
    const total = outcomes.reduce((s, o) => s + o.load.completed + o.load.errors, 0);
    return (100 * completed) / total;
  };
  const ejection = killed.map((o) => o.ejectedAfterMs);
  // The worst run; NaN (never ejected) wins, so a miss is never hidden.
  const worstEjection = ejection.some(Number.isNaN) ? Number.NaN : Math.max(...ejection);
  const p99 = (outcomes: RunOutcome[]): number => Math.max(...outcomes.map((o) => o.load.latency.p99 / 1000));
  const results: BenchResult[] = [
    result({
      benchmark: BENCHMARK,
      metric: 'success rate, 1 of 4 backends killed mid-run (%; baseline: same runs, no kill)',
      unit: '%',
      mesh: successRate(killed),
      baseline: successRate(healthy),
      target: { on: 'mesh', op: '>=', value: 99.9, unit: '%' },
    }),
    result({
      benchmark: BENCHMARK,
      metric: 'time from kill to ejection, worst run (ms; baseline: outlier detection interval)',
      unit: 'ms',
      mesh: worstEjection,
      baseline: INTERVAL_MS,
      target: { on: 'ratio', op: '<=', value: 1 },
    }),
    result({
      benchmark: BENCHMARK,
      metric: 'p99 latency, worst run (ms; baseline: same runs, no kill)',
      unit: 'ms',
      mesh: p99(killed),
      baseline: p99(healthy),
    }),
  ];
  const notes = [
    `resilience-kill: ${BACKENDS} backends in a child process, c=${CONCURRENCY}, ${MEASURE_MS} ms measured per run after ` +
      `${WARMUP_MS} ms warm-up, kill (server closed, sockets destroyed) at ${KILL_AT_MS} ms; ejection polled every ` +
      `${POLL_MS} ms from mesh.services(); kill runs: ${ejection.map((ms) => (Number.isNaN(ms) ? 'never ejected' : `${ms.toFixed(0)} ms`)).join(', ')}; ` +
      `the dead endpoint's failures: ${killed.map((o) => o.failures).join(', ')}.`,
  ];
  if (healthy.some((o) => o.everUnavailable)) notes.push('resilience-kill: a live endpoint was ejected in a no-kill run (false ejection).');
  const outlierWarnings = [...new Set(runs.flatMap((r) => r.outcome.warnings))].filter((w) => /outlierDetection/.test(w));
  if (outlierWarnings.length > 0) notes.push(`resilience-kill: the mesh warned: ${outlierWarnings.join(' | ')}`);
  return { results, notes };
}

runIfMain(import.meta.url, BENCHMARK, resilienceKill);
