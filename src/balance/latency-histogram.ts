/**
 * A cumulative latency histogram of one service, cheap enough for every answer: log-linear
 * buckets (four per power of two, from 1/64 ms up to about 15 hours), one `Math.log2`
 * and one increment per sample, nothing allocated. Readers (the admin page) copy
 * {@link LatencyHistogram.counts} once a second and take quantiles of the difference
 * between two copies, so the hot path never sorts or keeps samples.
 */
export class LatencyHistogram {
  /** Buckets per power of two (a quantile is within ±9 % of the true value). */
  static readonly SUB_BUCKETS = 4;
  /** The smallest bucket's upper bound, in ms. */
  static readonly MIN_MS = 1 / 64;
  /** Number of buckets (the last one takes everything above its lower bound). */
  static readonly BUCKETS = 128;

  /** Samples per bucket since creation (a reader diffs two copies). */
  readonly counts = new Uint32Array(LatencyHistogram.BUCKETS);

  /** Counts one latency, in ms. */
  record(ms: number): void {
    this.counts[LatencyHistogram.bucketOf(ms)]!++;
  }

  /** The bucket a latency falls in. */
  static bucketOf(ms: number): number {
    if (!(ms > LatencyHistogram.MIN_MS)) return 0; // NaN and tiny values land in the first bucket
    const index = Math.ceil(Math.log2(ms / LatencyHistogram.MIN_MS) * LatencyHistogram.SUB_BUCKETS);
    return index < LatencyHistogram.BUCKETS ? index : LatencyHistogram.BUCKETS - 1;
  }

  /** A bucket's upper bound, in ms (what a quantile falling in it reports). */
  static upperBoundMs(bucket: number): number {
    return LatencyHistogram.MIN_MS * 2 ** (bucket / LatencyHistogram.SUB_BUCKETS);
  }

  /**
   * The `q` quantile (0..1) of counts `counts` (one window's difference), in ms, or NaN
   * when the window holds no sample.
   */
  static quantile(counts: ArrayLike<number>, q: number): number {
    let total = 0;
    for (let i = 0; i < counts.length; i++) total += counts[i]!;
    if (total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]!;
      if (seen >= rank) return LatencyHistogram.upperBoundMs(i);
    }
    return LatencyHistogram.upperBoundMs(counts.length - 1);
  }
}
