/**
 * Recent latencies of one service, for hedging on a percentile: a ring of the last
 * 1,024 samples, the percentile recomputed every 64 samples (sorting a copy), so a
 * request pays a few array writes, not a sort.
 */
export class LatencyTracker {
  static readonly SIZE = 1024;
  static readonly EVERY = 64;
  /** Fewer samples than this: no percentile yet (no hedging on a guess). */
  static readonly MIN_SAMPLES = 32;
  readonly #samples = new Float64Array(LatencyTracker.SIZE);
  #count = 0;
  #next = 0;
  readonly #cached = new Map<number, number>();
  #sinceCompute = 0;

  /** Adds one latency in ms. */
  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % LatencyTracker.SIZE;
    if (this.#count < LatencyTracker.SIZE) this.#count++;
    if (++this.#sinceCompute >= LatencyTracker.EVERY) {
      this.#sinceCompute = 0;
      this.#cached.clear();
    }
  }

  /** The `p`th percentile (0..100) of recent samples in ms, or undefined with too few. */
  percentile(p: number): number | undefined {
    if (this.#count < LatencyTracker.MIN_SAMPLES) return undefined;
    let value = this.#cached.get(p);
    if (value === undefined) {
      const sorted = this.#samples.slice(0, this.#count).sort();
      value = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
      this.#cached.set(p, value);
    }
    return value;
  }
}
