/**
 * Small statistics helpers shared by the benchmarks: medians across repeated rounds
 * (robust to one noisy round on a shared machine) and nearest-rank quantiles.
 */

/** The median of `values` (mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The value at quantile `q` (0..1) of an ascending sorted array, by nearest rank
 * (the smallest value with at least `q` of the samples at or below it); NaN when empty.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n)));
  return sorted[rank - 1]!;
}
