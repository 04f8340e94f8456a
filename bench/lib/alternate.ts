import type { Log } from './log.js';
import { assertNoErrors, runLoad, type LoadResult } from './load.js';
import { formatNumber } from './report.js';

/** One side of a comparison: a name and how to send one request. */
export interface Variant {
  readonly name: string;
  readonly send: () => Promise<unknown>;
}

/** How {@link alternateRuns} runs the two variants. */
export interface AlternateOptions {
  readonly concurrency: number;
  /** Length of each measured run, in ms. */
  readonly durationMs: number;
  /** Unmeasured run of each variant first (JIT, connections), in ms. */
  readonly warmupMs: number;
  /** Measured runs per variant. */
  readonly rounds: number;
}

/** The measured runs of both variants, in round order. */
export interface AlternateResult {
  readonly baseline: LoadResult[];
  readonly mesh: LoadResult[];
}

/** Per-round mesh/baseline throughput ratios (the two runs of a round are adjacent in time), for the log. */
export function pairedThroughputRatios(runs: AlternateResult): number[] {
  return runs.mesh.map((mesh, i) => mesh.throughput / runs.baseline[i]!.throughput);
}

/**
 * Runs `baseline` and `mesh` in alternation, ABBA order (baseline first in even rounds,
 * mesh first in odd ones), so drift in machine load hits both sides alike; callers take
 * medians over the rounds. Throws if any request fails.
 */
export async function alternateRuns(
  log: Log,
  label: string,
  baseline: Variant,
  mesh: Variant,
  options: AlternateOptions,
): Promise<AlternateResult> {
  const { concurrency, durationMs, warmupMs, rounds } = options;
  for (const variant of [baseline, mesh]) {
    assertNoErrors(`${label} warm-up ${variant.name}`, await runLoad({ concurrency, durationMs: warmupMs, send: variant.send }));
  }
  const out: AlternateResult = { baseline: [], mesh: [] };
  for (let round = 0; round < rounds; round++) {
    const order: Array<[Variant, LoadResult[]]> = [
      [baseline, out.baseline],
      [mesh, out.mesh],
    ];
    if (round % 2 === 1) order.reverse();
    for (const [variant, sink] of order) {
      const result = await runLoad({ concurrency, durationMs, send: variant.send });
      assertNoErrors(`${label} ${variant.name}`, result);
      sink.push(result);
      log(
        `${label} round ${round + 1}/${rounds} ${variant.name.padEnd(10)} ` +
          `${formatNumber(result.throughput).padStart(7)} req/s  p50 ${formatNumber(result.latency.p50)} µs  ` +
          `p99 ${formatNumber(result.latency.p99)} µs`,
      );
    }
  }
  return out;
}
