/**
 * Statistical bounds for "each replica got a fair share": how many of `n` requests each of
 * `replicas` equal replicas gets when every request goes to one of them uniformly at
 * random. A test asserting these bounds fails for a fair balancer with probability at most
 * `falseFailure`, and fails for a starving one (a replica with nothing, or next to
 * nothing). The bounds come from the exact binomial distribution, not from a run that
 * happened to pass.
 */
export interface ShareBounds {
  /** The fewest requests a replica may get. */
  readonly low: number;
  /** The most requests a replica may get. */
  readonly high: number;
}

/** Probabilities P(X = i), i = 0..n, for X ~ Binomial(n, p), computed in logs (no underflow for large n). */
function binomialPmf(n: number, p: number): number[] {
  const logFactorial = [0];
  for (let i = 1; i <= n; i++) logFactorial.push(logFactorial[i - 1]! + Math.log(i));
  return Array.from({ length: n + 1 }, (_, i) =>
    Math.exp(logFactorial[n]! - logFactorial[i]! - logFactorial[n - i]! + i * Math.log(p) + (n - i) * Math.log(1 - p)),
  );
}

/**
 * The range each replica's count stays within, except with probability at most
 * `falseFailure` over all replicas and both tails (a union bound: each tail gets
 * `falseFailure / (2 × replicas)`).
 */
export function fairShareBounds(n: number, replicas: number, falseFailure = 1e-6): ShareBounds {
  const pmf = binomialPmf(n, 1 / replicas);
  const budget = falseFailure / (2 * replicas);
  // low: the smallest count with P(X < low) <= budget; high: the largest with P(X > high) <= budget.
  let low = 0;
  for (let below = pmf[0]!; below <= budget && low < n; below += pmf[low]!) low++;
  let high = n;
  for (let above = pmf[n]!; above <= budget && high > 0; above += pmf[high]!) high--;
  return { low, high };
}
