/**
 * Retry storm: how much the retry budget caps the extra load retries put on backends
 * that are all failing.
 *
 * Four node:http backends in a child process (`bench/lib/backend-host.ts`) all answer 503 for the whole run, 10 s. A VirtualService sets
 * `retries: { attempts: 3, retryOn: 5xx }`, so every request wants 4 tries. The mesh gets
 * an open-loop load at a fixed rate (the same requests at the same times whatever the mesh
 * does, as callers that do not slow down when the service fails; a retry storm is exactly
 * that), and the backends count every try that reaches them. Requests are sent during the
 * first 9.75 s, so that every try of every request (backoffs add at most 25 + 50 + 100 ms)
 * falls within the 10 s, which is also exactly one window of the budget: the budget's
 * window starts with the service's first request and slides in 1 s steps, and its floor is
 * a reserve of 100 retries per window rather than a steady 10/s, so a run whose last tries
 * land just after the window slid could get a fresh reserve and overshoot the formula by a
 * few tries for a reason that is no leak.
 * Two runs, each with a fresh mesh:
 * - the default retry budget (20 % of the requests of the last 10 s, plus a floor of
 *   10 retries/s held as a reserve over those 10 s): target total tries <=
 *   1.2 x requests + 10/s x duration (with duration at least the budget's 10 s window,
 *   since the reserve of 100 retries can be spent at once; at the default time factor the
 *   run lasts exactly 10 s);
 * - the budget disabled by a DestinationRule annotation
 *   `proxyless.dev/retry-budget: '{"disabled":true}'`: about 4 tries per request (at least
 *   0.9 x 4 = 3.6 is checked, which also shows the annotation took effect).
 * Why fair: both runs offer the same requests (same rate and duration, open loop), to the
 * same backends, with the same VirtualService and a DestinationRule that differs only by
 * the annotation; the tries are counted at the backends, not by the mesh.
 */
import { request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { startBackends, type Backends } from './lib/backends.js';
import { runIfMain } from './lib/entry.js';
import type { Log } from './lib/log.js';
import { formatNumber, result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'resilience-retry-storm';
const BACKENDS = 4;
const RATE_PER_S = 250;
const STORM_MS = scaled(10_000, 2000);
/** Requests are sent this long; the rest of the storm is for their retries (see the file comment). */
const SEND_MS = STORM_MS - 250;
const MAX_IN_FLIGHT = 512;
const ATTEMPTS = 3;
/** The default budget: retries <= 20 % of requests + 10/s, over a 10 s window. */
const BUDGET_PERCENT = 20;
const BUDGET_FLOOR_PER_S = 10;
const BUDGET_TTL_MS = 10_000;

const VIRTUAL_SERVICE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: svc }
spec:
  hosts: [svc]
  http:
  - retries: { attempts: ${ATTEMPTS}, retryOn: 5xx }
    route: [{ destination: { host: svc } }]
`;

function destinationRule(budgetAnnotation: string | undefined): string {
  const annotations = budgetAnnotation === undefined ? '' : `\n  annotations:\n    proxyless.dev/retry-budget: '${budgetAnnotation}'`;
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: svc${annotations}
spec: { host: svc }
`;
}

/** What one open-loop run saw at the client. */
interface OpenLoopResult {
  /** Requests sent. */
  readonly sent: number;
  /** Requests not sent because MAX_IN_FLIGHT were pending. */
  readonly skipped: number;
  /** Responses by status. */
  readonly statuses: ReadonlyMap<number, number>;
  /** Requests that rejected. */
  readonly errors: number;
  readonly firstError: string | undefined;
  /** From the first request to the last response, in ms. */
  readonly elapsedMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `rate` requests per second for `durationMs`, each at its scheduled time whatever
 * the earlier ones are doing (open loop), at most MAX_IN_FLIGHT pending; then waits for
 * the pending ones, at most 10 s more.
 */
async function openLoop(rate: number, durationMs: number, send: () => Promise<number>): Promise<OpenLoopResult> {
  const interval = 1000 / rate;
  const total = Math.floor(durationMs / interval);
  const statuses = new Map<number, number>();
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let skipped = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = started + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    if (pending.size >= MAX_IN_FLIGHT) {
      skipped++;
      continue;
    }
    sent++;
    const call: Promise<void> = send().then(
      (status) => void statuses.set(status, (statuses.get(status) ?? 0) + 1),
      (error: unknown) => {
        errors++;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      },
    ).finally(() => pending.delete(call));
    pending.add(call);
  }
  let timer: NodeJS.Timeout | undefined;
  const hard = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 10_000)));
  const outcome = await Promise.race([Promise.all(pending), hard]);
  clearTimeout(timer);
  if (outcome === 'timeout') throw new Error(`open loop: ${pending.size} requests still pending 10 s after the last was sent`);
  return { sent, skipped, statuses, errors, firstError, elapsedMs: performance.now() - started };
}

/** One run's client view and the tries the backends counted. */
interface StormRun {
  readonly client: OpenLoopResult;
  readonly attempts: number;
  readonly warnings: readonly string[];
}

async function storm(backends: Backends, budgetAnnotation: string | undefined): Promise<StormRun> {
  const mesh = createMesh({
    discovery: [staticEndpoints({ svc: [...backends.addresses] })],
    config: [VIRTUAL_SERVICE, destinationRule(budgetAnnotation)],
  });
  const send = async (): Promise<number> => {
    const res = await request('http://svc/', { dispatcher: mesh.dispatcher });
    await res.body.dump();
    return res.statusCode;
  };
  try {
    const before = await backends.counts();
    const client = await openLoop(RATE_PER_S, SEND_MS, send);
    const after = await backends.counts();
    const attempts = after.requests.reduce((s, n, i) => s + n - before.requests[i]!, 0);
    return { client, attempts, warnings: mesh.warnings };
  } finally {
    await mesh.close();
  }
}

/** Runs the retry-storm benchmark; see the file comment. */
export async function resilienceRetryStorm(log: Log): Promise<BenchmarkOutput> {
  const backends = await startBackends(Array.from({ length: BACKENDS }, () => ({ status: 503 })));
  log(`${BACKENDS} backends (child process) all answering 503; retries ${ATTEMPTS} on 5xx; open loop ${RATE_PER_S} req/s ` +
    `for ${SEND_MS} ms of a ${STORM_MS} ms storm per run; default budget, then budget disabled`);
  const runs: Record<'budget' | 'disabled', StormRun> = {} as Record<'budget' | 'disabled', StormRun>;
  try {
    for (const [name, annotation] of [['budget', undefined], ['disabled', '{"disabled":true}']] as const) {
      const run = await storm(backends, annotation);
      runs[name] = run;
      const { client } = run;
      const statuses = [...client.statuses].map(([s, n]) => `${s}: ${n}`).join(', ');
      log(
        `${name.padEnd(8)} ${client.sent} requests (${client.skipped} skipped), statuses {${statuses}}, ${client.errors} errors` +
          `${client.firstError ? ` (first: ${client.firstError})` : ''}; ${run.attempts} tries at the backends ` +
          `(${(run.attempts / client.sent).toFixed(2)} per request); ${(client.elapsedMs / 1000).toFixed(2)} s`,
      );
    }
  } finally {
    await backends.close();
  }
  const { budget, disabled } = runs;
  const windowS = Math.max(STORM_MS, BUDGET_TTL_MS) / 1000;
  const bound = (1 + BUDGET_PERCENT / 100) * budget.client.sent + BUDGET_FLOOR_PER_S * windowS;
  const perRequest = (run: StormRun): number => run.attempts / run.client.sent;
  const results: BenchResult[] = [
    result({
      benchmark: BENCHMARK,
      metric: `tries at the backends, default budget (count; baseline: 1.2 x requests + 10/s x ${windowS} s)`,
      unit: 'tries',
      mesh: budget.attempts,
      baseline: bound,
      target: { on: 'ratio', op: '<=', value: 1 },
    }),
    result({
      benchmark: BENCHMARK,
      metric: 'tries per request, default budget (baseline: budget disabled)',
      unit: 'tries/request',
      mesh: perRequest(budget),
      baseline: perRequest(disabled),
    }),
    result({
      benchmark: BENCHMARK,
      metric: `tries per request, budget disabled (baseline: 1 + ${ATTEMPTS} retries)`,
      unit: 'tries/request',
      mesh: perRequest(disabled),
      baseline: 1 + ATTEMPTS,
      target: { on: 'ratio', op: '>=', value: 0.9 },
    }),
  ];
  const notes = [
    `resilience-retry-storm: ${BACKENDS} backends all answering 503 for ${STORM_MS} ms per run` +
      `${STORM_MS !== 10_000 ? ' (scaled by BENCH_TIME_FACTOR from 10 s; the bound still counts the 10 s budget window)' : ''}; ` +
      `open loop at ${RATE_PER_S} req/s for the first ${SEND_MS} ms; tries counted at the backends. Default budget: ${budget.client.sent} requests, ` +
      `${budget.attempts} tries (bound ${formatNumber(bound)}); disabled: ${disabled.client.sent} requests, ${disabled.attempts} tries.`,
  ];
  const late = Math.max(budget.client.elapsedMs, disabled.client.elapsedMs) - STORM_MS;
  if (late > 0) notes.push(`resilience-retry-storm: the last tries ended ${late.toFixed(0)} ms after the ${STORM_MS} ms storm (slow machine?).`);
  const skipped = budget.client.skipped + disabled.client.skipped;
  if (skipped > 0) notes.push(`resilience-retry-storm: ${skipped} requests were not sent (over ${MAX_IN_FLIGHT} in flight).`);
  const budgetWarnings = [...new Set([...budget.warnings, ...disabled.warnings])].filter((w) => /retry-budget|retries/.test(w));
  if (budgetWarnings.length > 0) notes.push(`resilience-retry-storm: the mesh warned: ${budgetWarnings.join(' | ')}`);
  return { results, notes };
}

runIfMain(import.meta.url, BENCHMARK, resilienceRetryStorm);
