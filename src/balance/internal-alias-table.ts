/**
 * Walker's alias table (Vose's construction): after O(n) set-up, draws an index with
 * probability proportional to its weight from one uniform number, in O(1).
 * Internal to the balancers.
 */
export class AliasTable {
  /**
   * The table for these endpoints' weights, or `undefined` when every weight is equal
   * (a uniform draw is then cheaper and exact).
   */
  static forWeights(endpoints: readonly { readonly weight: number }[]): AliasTable | undefined {
    const first = endpoints[0]?.weight;
    for (const endpoint of endpoints) {
      if (endpoint.weight !== first) return new AliasTable(endpoints.map((e) => e.weight));
    }
    return undefined;
  }

  private readonly size: number;
  /** Probability of keeping column `i` rather than taking `alias[i]`. */
  private readonly keep: Float64Array;
  private readonly alias: Int32Array;

  /** Builds the table; weights must be positive and finite. */
  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.size = n;
    this.keep = new Float64Array(n);
    this.alias = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i];
    const scaled = new Float64Array(n);
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let smallTop = 0;
    let largeTop = 0;
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      if (scaled[i] < 1) small[smallTop++] = i;
      else large[largeTop++] = i;
    }
    while (smallTop > 0 && largeTop > 0) {
      const s = small[--smallTop];
      const l = large[--largeTop];
      this.keep[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[smallTop++] = l;
      else large[largeTop++] = l;
    }
    // Whatever is left is 1 up to rounding error.
    while (largeTop > 0) {
      const l = large[--largeTop];
      this.keep[l] = 1;
      this.alias[l] = l;
    }
    while (smallTop > 0) {
      const s = small[--smallTop];
      this.keep[s] = 1;
      this.alias[s] = s;
    }
  }

  /** Draws an index from `u`, uniform in [0, 1). */
  sample(u: number): number {
    const x = u * this.size;
    const column = Math.floor(x);
    // The fractional part of x is itself uniform: it decides between the two options.
    return x - column < this.keep[column] ? column : this.alias[column];
  }
}

/**
 * The first available endpoint scanning from a random position, wrapping around: the
 * balancers' last resort when repeated draws found only unavailable ones. O(n), reached
 * only when most of the set is unavailable. Internal to the balancers.
 */
export function firstAvailableFrom<E extends { readonly available: boolean }>(endpoints: readonly E[], u: number): E | undefined {
  const n = endpoints.length;
  const start = Math.floor(u * n);
  for (let step = 0; step < n; step++) {
    const endpoint = endpoints[(start + step) % n];
    if (endpoint.available) return endpoint;
  }
  return undefined;
}
