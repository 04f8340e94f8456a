/**
 * Multiplier for benchmark durations and request counts, from `BENCH_TIME_FACTOR`
 * (default 1): `BENCH_TIME_FACTOR=0.2 npm run bench` for a quick smoke run,
 * `BENCH_TIME_FACTOR=3` for tighter numbers on a quiet machine.
 */
export const TIME_FACTOR = (() => {
  const raw = process.env.BENCH_TIME_FACTOR;
  const value = raw === undefined ? 1 : Number(raw);
  if (!(value > 0 && value <= 100)) throw new Error(`BENCH_TIME_FACTOR: ${raw} (expected: a number in (0, 100])`);
  return value;
})();

/** `value` (ms or a count) scaled by {@link TIME_FACTOR}, rounded, at least `min`. */
export function scaled(value: number, min = 1): number {
  return Math.max(min, Math.round(value * TIME_FACTOR));
}
