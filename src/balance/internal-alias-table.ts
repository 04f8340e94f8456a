/**
 * Walker's alias table (Vose's construction): after O(n) set-up, draws an index with
 * probability proportional to its weight from one uniform number, in O(1).
 * Internal to the balancers.
 */
export class AliasTable {
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
