import { quantileSorted } from './stats.js';

/** Percentiles of a set of latencies, in microseconds. */
export interface LatencySummary {
  /** Samples recorded. */
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/**
 * Records latencies in microseconds into a growable `Float64Array` and sorts once to
 * read percentiles. Exact (no bucketing); a few hundred thousand samples cost a few MB.
 */
export class LatencyRecorder {
  #samples = new Float64Array(4096);
  #count = 0;

  /** Adds one sample, in microseconds. */
  record(microseconds: number): void {
    if (this.#count === this.#samples.length) {
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count++] = microseconds;
  }

  /** Samples recorded so far. */
  get count(): number {
    return this.#count;
  }

  /** Mean and p50/p90/p99/p999/max of the samples so far. */
  summary(): LatencySummary {
    const sorted = this.#samples.slice(0, this.#count).sort();
    let sum = 0;
    for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
    return {
      count: sorted.length,
      mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
      p50: quantileSorted(sorted, 0.5),
      p90: quantileSorted(sorted, 0.9),
      p99: quantileSorted(sorted, 0.99),
      p999: quantileSorted(sorted, 0.999),
      max: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
    };
  }
}
