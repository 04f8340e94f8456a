/**
 * Tail latency with one slow backend: how well each balancer avoids it.
 *
 * Five node:http backends run in a child process; four answer after 1 ms, one after
 * 51 ms (50 ms slower). The same closed-loop load (concurrency 16, then 32; an
 * unmeasured 500 ms warm-up, then one second measured, thousands of requests) goes
 * through:
 * - undici `BalancedPool` over the five origins: plain undici's round robin, the
 *   baseline the mesh must beat;
 * - the mesh with a DestinationRule `ROUND_ROBIN` (expected to match BalancedPool);
 * - the mesh with its default, P2C Peak EWMA;
 * - and, as the reference for "unaffected", the mesh's P2C Peak EWMA with all five
 *   backends fast.
 * Why fair: every variant gets a fresh client, the same warm-up and the same measuring
 * time, against the same backends; neither side is pool-limited (BalancedPool's default
 * connections are unlimited, the mesh's default is 100 per endpoint). Rounds rotate the
 * order and medians over rounds are reported. Targets: P2C p99 <= 1.5 x the all-healthy
 * p99, and at least 5 x lower than BalancedPool's p99. The slow backend's share of the
 * measured requests is reported per balancer (each backend answers with its index).
 * To tell why a p99 moved, two more rows: the p99 of the requests the fast backends
 * answered (if it moves with the overall p99, the slow backend is not the cause), and
 * how long this client's event loop was stalled while measuring (stalls delay every
 * answer in flight, whichever backend gave it).
 */
import { BalancedPool, request, type Dispatcher } from 'undici';
import { createMesh, staticEndpoints, type DestinationRule } from 'proxyless';
import { startBackends, type Backends } from './lib/backends.js';
import { runIfMain } from './lib/entry.js';
import { LatencyRecorder } from './lib/latency.js';
import { assertNoErrors, runLoad, type LoadResult } from './lib/load.js';
import { stallClock } from '../src/balance/stall-clock.js';
import type { Log } from './lib/log.js';
import { formatNumber, result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'tail-latency';
const CONCURRENCIES = [16, 32] as const;
const BACKENDS = 5;
const SLOW_INDEX = 2;
const FAST_MS = 1;
const SLOW_MS = FAST_MS + 50;
const MEASURE_MS = scaled(1000, 200);
const WARMUP_MS = scaled(500, 100);
const ROUNDS = 5;

type VariantName = 'p2c-healthy' | 'round-robin' | 'balanced-pool' | 'p2c';

/** One client to measure: how to build it, what URL to call, how to close it. */
interface Client {
  readonly dispatcher: Dispatcher;
  readonly url: string;
  close(): Promise<void>;
}

/** Results of one variant across rounds. */
interface VariantRuns {
  readonly runs: LoadResult[];
  /** Requests answered by each backend, measured phase only, summed over rounds. */
  readonly perBackend: number[];
  /** Requests the slow backend answered during warm-ups, summed over rounds. */
  warmupSlow: number;
  /** Per round: p99 of the measured requests the fast backends answered, in µs. */
  readonly fastP99: number[];
  /** Per round: how long this process's event loop was stalled while measuring, in ms. */
  readonly stalledMs: number[];
}

const roundRobinRule: DestinationRule = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'svc' },
  spec: { host: 'svc', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
};

function meshClient(backends: Backends, config: DestinationRule[]): Client {
  const mesh = createMesh({ discovery: [staticEndpoints({ svc: [...backends.addresses] })], config });
  return { dispatcher: mesh.dispatcher, url: 'http://svc/', close: () => mesh.close() };
}

function balancedPoolClient(backends: Backends): Client {
  const pool = new BalancedPool(backends.addresses.map((a) => `http://${a}`));
  return { dispatcher: pool, url: `http://${backends.addresses[0]}/`, close: () => pool.close() };
}

/** Sends the warm-up and the measured requests through one fresh client. */
async function measure(client: Client, concurrency: number, into: VariantRuns): Promise<LoadResult> {
  let counts = new Array<number>(BACKENDS).fill(0);
  let fast: LatencyRecorder | undefined;
  const send = async (): Promise<void> => {
    const started = performance.now();
    const res = await request(client.url, { dispatcher: client.dispatcher });
    const index = Number(await res.body.text());
    if (res.statusCode !== 200 || !(index >= 0 && index < BACKENDS)) throw new Error(`status ${res.statusCode}, body ${index}`);
    counts[index]!++;
    if (index !== SLOW_INDEX) fast?.record((performance.now() - started) * 1000);
  };
  const releaseStallClock = stallClock.acquire();
  try {
    assertNoErrors('warm-up', await runLoad({ concurrency, durationMs: WARMUP_MS, send }));
    into.warmupSlow += counts[SLOW_INDEX]!;
    counts = new Array<number>(BACKENDS).fill(0);
    fast = new LatencyRecorder();
    const stalledBefore = stallClock.read(performance.now());
    const measured = await runLoad({ concurrency, durationMs: MEASURE_MS, send });
    into.stalledMs.push(stallClock.read(performance.now()) - stalledBefore);
    assertNoErrors('measured', measured);
    counts.forEach((n, i) => (into.perBackend[i]! += n));
    into.fastP99.push(fast.summary().p99);
    into.runs.push(measured);
    return measured;
  } finally {
    releaseStallClock();
    await client.close();
  }
}

/** Runs every variant at one concurrency, in rotating order, and returns the rows. */
async function scenario(log: Log, backends: Backends, concurrency: number): Promise<{ rows: BenchResult[]; note: string }> {
  const healthy = new Array<number>(BACKENDS).fill(FAST_MS);
  const oneSlow = healthy.map((ms, i) => (i === SLOW_INDEX ? SLOW_MS : ms));
  const data = new Map<VariantName, VariantRuns>();
  for (const name of ['p2c-healthy', 'round-robin', 'balanced-pool', 'p2c'] as const) {
    data.set(name, { runs: [], perBackend: new Array<number>(BACKENDS).fill(0), warmupSlow: 0, fastP99: [], stalledMs: [] });
  }
  const slowOrder: Array<[VariantName, () => Client]> = [
    ['round-robin', () => meshClient(backends, [roundRobinRule])],
    ['balanced-pool', () => balancedPoolClient(backends)],
    ['p2c', () => meshClient(backends, [])],
  ];
  for (let round = 0; round < ROUNDS; round++) {
    const label = `c=${concurrency} round ${round + 1}/${ROUNDS}`;
    await backends.setDelays(healthy);
    const run = await measure(meshClient(backends, []), concurrency, data.get('p2c-healthy')!);
    log(`${label} ${'p2c-healthy'.padEnd(13)} ${describe(run)}`);
    await backends.setDelays(oneSlow);
    // Rotate the order so no variant always runs first or last.
    for (let i = 0; i < slowOrder.length; i++) {
      const [name, build] = slowOrder[(i + round) % slowOrder.length]!;
      const measured = await measure(build(), concurrency, data.get(name)!);
      log(`${label} ${name.padEnd(13)} ${describe(measured)}`);
    }
  }

  const p = (name: VariantName, key: 'p50' | 'p99' | 'p999'): number =>
    median(data.get(name)!.runs.map((r) => r.latency[key] / 1000));
  const slowShare = (name: VariantName): number => {
    const counts = data.get(name)!.perBackend;
    return (100 * counts[SLOW_INDEX]!) / counts.reduce((a, b) => a + b, 0);
  };
  const row = (metric: string, unit: string, mesh: number, baseline: number, target?: BenchResult['target']): BenchResult =>
    result({ benchmark: BENCHMARK, metric: `c=${concurrency}, ${metric}`, unit, mesh, baseline, ...(target ? { target } : {}) });
  const rows = [
    row('p99: P2C Peak EWMA, 1 of 5 slow (ms; baseline: same, all healthy)', 'ms', p('p2c', 'p99'), p('p2c-healthy', 'p99'), { on: 'ratio', op: '<=', value: 1.5 }),
    row('p99: P2C Peak EWMA (ms; baseline: undici BalancedPool)', 'ms', p('p2c', 'p99'), p('balanced-pool', 'p99'), { on: 'ratio', op: '<=', value: 0.2 }),
    row('p50: P2C Peak EWMA, 1 of 5 slow (ms; baseline: same, all healthy)', 'ms', p('p2c', 'p50'), p('p2c-healthy', 'p50')),
    row('p999: P2C Peak EWMA (ms; baseline: undici BalancedPool)', 'ms', p('p2c', 'p999'), p('balanced-pool', 'p999')),
    row('p50: P2C Peak EWMA (ms; baseline: undici BalancedPool)', 'ms', p('p2c', 'p50'), p('balanced-pool', 'p50')),
    row('p99: mesh ROUND_ROBIN (ms; baseline: undici BalancedPool)', 'ms', p('round-robin', 'p99'), p('balanced-pool', 'p99')),
    row('slow backend share: P2C Peak EWMA (%; baseline: undici BalancedPool)', '%', slowShare('p2c'), slowShare('balanced-pool')),
    row('slow backend share: mesh ROUND_ROBIN (%; baseline: undici BalancedPool)', '%', slowShare('round-robin'), slowShare('balanced-pool')),
    // Why p99 moves: the requests the fast backends answered alone, and this client's own stalls.
    row('p99 of requests answered by fast backends: P2C Peak EWMA, 1 of 5 slow (ms; baseline: all healthy)', 'ms', median(data.get('p2c')!.fastP99) / 1000, median(data.get('p2c-healthy')!.fastP99) / 1000),
    row('client event-loop stall while measuring: P2C Peak EWMA, 1 of 5 slow (ms per measured second; baseline: all healthy)', 'ms', (median(data.get('p2c')!.stalledMs) * 1000) / MEASURE_MS, (median(data.get('p2c-healthy')!.stalledMs) * 1000) / MEASURE_MS),
  ];
  const warmup = (['p2c', 'round-robin', 'balanced-pool'] as const).map((n) => `${n} ${data.get(n)!.warmupSlow}`).join(', ');
  return { rows, note: `tail-latency c=${concurrency}: slow-backend requests during the warm-ups (all rounds): ${warmup}.` };
}

/** Runs the tail-latency benchmark; see the file comment. */
export async function tailLatency(log: Log): Promise<BenchmarkOutput> {
  const backends = await startBackends(new Array<number>(BACKENDS).fill(FAST_MS));
  log(`${BACKENDS} backends (child process), one ${SLOW_MS} ms, others ${FAST_MS} ms; c=${CONCURRENCIES.join(' and ')}, ` +
    `${WARMUP_MS} ms warm-up + ${MEASURE_MS} ms measured per variant, ${ROUNDS} rounds`);
  const results: BenchResult[] = [];
  const notes = [
    `tail-latency: ${BACKENDS} backends in a child process (one +50 ms); per variant and round a fresh client, an ` +
      `unmeasured ${WARMUP_MS} ms warm-up (longer than the slow backend's answer, so every balancer has seen it), then ` +
      `${MEASURE_MS} ms measured (at least a few thousand requests); medians of ${ROUNDS} rounds; shares count measured requests only.`,
  ];
  try {
    for (const concurrency of CONCURRENCIES) {
      const { rows, note } = await scenario(log, backends, concurrency);
      results.push(...rows);
      notes.push(note);
    }
  } finally {
    await backends.close();
  }
  return { results, notes };
}

function describe(run: LoadResult): string {
  return `${formatNumber(run.throughput).padStart(6)} req/s  p50 ${(run.latency.p50 / 1000).toFixed(2)} ms  ` +
    `p99 ${(run.latency.p99 / 1000).toFixed(2)} ms  p999 ${(run.latency.p999 / 1000).toFixed(2)} ms`;
}

runIfMain(import.meta.url, BENCHMARK, tailLatency);
