import { AliasTable, firstAvailableFrom } from './internal-alias-table.js';
import type { Balancer, BalancerEndpoint, BalancerRuntime, LeastRequestOptions, PickRequest } from './types.js';
import { PickRuntime } from './warmup.js';

/** Rounds of candidates drawn before scanning for an available endpoint (1 + 5 re-picks). */
const MAX_ROUNDS = 6;
/** Extra draws allowed per candidate to avoid a duplicate when weights differ. */
const MAX_REDRAWS = 4;
/** Draws allowed per candidate while warmup keeps throwing back warming endpoints. */
const MAX_WARMUP_DRAWS = 8;

/**
 * Envoy's `LEAST_REQUEST` (and Istio's deprecated `LEAST_CONN`): power of `choiceCount`
 * choices. Each pick draws `choiceCount` distinct random endpoints and sends the request
 * to the one with the fewest pending requests; ties go to the first drawn.
 *
 * When weights differ, candidates are drawn in proportion to weight (alias table) and
 * compared on `pending / weight`. Drawing by weight is what makes the split follow the
 * weights when nothing is pending (every comparison is a tie, the first draw wins);
 * comparing on uniform draws would starve light endpoints at low concurrency. A
 * duplicate draw is redrawn up to 4 times, after which fewer candidates are compared.
 *
 * Unavailable candidates are ignored; when a whole round is unavailable it is drawn
 * again, up to 5 times, then the endpoints are scanned from a random position (O(n)).
 * `undefined` only when none is available.
 *
 * Warmup (Istio `loadBalancer.warmup`, Envoy's slow start for least request): a warming
 * endpoint's weight is scaled by its factor. It is kept as a candidate with probability
 * `factor / largest factor` (else that candidate is drawn again, up to 8 times), and
 * compared on `pending / (weight × factor)`: it is drawn less, and a queue on it counts
 * for more.
 */
export class LeastRequestBalancer<E extends BalancerEndpoint = BalancerEndpoint> implements Balancer<E> {
  /** `least-request`. */
  readonly name = 'least-request';
  private endpoints: readonly E[] = [];
  /** A permutation of endpoint indexes, partially shuffled by each uniform pick. */
  private order = new Int32Array(0);
  private table: AliasTable | undefined;
  /** Candidates of the current pick (weighted mode, for the duplicate check). */
  private readonly drawn: Int32Array;
  private readonly choiceCount: number;
  private readonly rt: PickRuntime;

  /** Use {@link leastRequest} to create one. */
  constructor(options: LeastRequestOptions = {}, runtime: BalancerRuntime = {}) {
    const choiceCount = options.choiceCount ?? 2;
    if (!Number.isInteger(choiceCount) || choiceCount < 2) {
      throw new RangeError(`choiceCount: ${choiceCount} (expected: an integer >= 2)`);
    }
    this.choiceCount = choiceCount;
    this.drawn = new Int32Array(choiceCount);
    this.rt = new PickRuntime(runtime, options);
  }

  /** Replaces the endpoints; builds the alias table when weights differ: O(n). */
  update(endpoints: readonly E[]): void {
    this.endpoints = endpoints.slice();
    const n = endpoints.length;
    this.order = new Int32Array(n);
    for (let i = 0; i < n; i++) this.order[i] = i;
    this.table = AliasTable.forWeights(endpoints);
    this.rt.warmup?.update(endpoints);
  }

  /** The available candidate with the least pending requests; the request is not looked at. */
  pick(_request?: PickRequest): E | undefined {
    const endpoints = this.endpoints;
    const n = endpoints.length;
    if (n === 0) return undefined;
    if (n === 1) return endpoints[0].available ? endpoints[0] : undefined;
    const choices = this.choiceCount < n ? this.choiceCount : n;
    let now = 0;
    let reference = 0;
    if (this.rt.warmup !== undefined) {
      now = this.rt.now();
      reference = this.rt.warmup.reference(now);
    }
    let thrownBack: E | undefined;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let best: E | undefined;
      let bestLoad = Infinity;
      for (let c = 0; c < choices; c++) {
        let index = this.table === undefined ? this.drawUniform(c, n) : this.drawWeighted(c);
        let weight = 0;
        if (reference > 0) {
          // Warmup: keep a warming candidate with probability factor / largest factor, else
          // draw this candidate again (up to 8 draws), so candidates come in proportion to
          // weight × factor.
          for (let tries = 1; index >= 0; tries++) {
            const share = this.rt.warmup!.share(endpoints[index], now, reference);
            if (share >= 1 || this.rt.random() < share) {
              weight = endpoints[index].weight * share;
              break;
            }
            if (endpoints[index].available) thrownBack ??= endpoints[index];
            if (tries === MAX_WARMUP_DRAWS) {
              index = -1;
              break;
            }
            index = this.table === undefined ? this.drawUniform(c, n) : this.drawWeighted(c);
          }
        }
        if (index < 0) continue;
        const endpoint = endpoints[index];
        if (!endpoint.available) continue;
        if (reference <= 0) weight = endpoint.weight;
        const load = endpoint.load.pending / weight;
        if (load < bestLoad) {
          best = endpoint;
          bestLoad = load;
        }
      }
      if (best !== undefined) return best;
    }
    return thrownBack ?? firstAvailableFrom(endpoints, this.rt.random());
  }

  /** Candidate `c` of a uniform pick: one step of a Fisher-Yates shuffle, so all distinct. */
  private drawUniform(c: number, n: number): number {
    const order = this.order;
    const j = c + Math.floor(this.rt.random() * (n - c));
    const index = order[j];
    order[j] = order[c];
    order[c] = index;
    return index;
  }

  /** Candidate `c` of a weighted pick, or -1 when only duplicates came up. */
  private drawWeighted(c: number): number {
    const drawn = this.drawn;
    for (let attempt = 0; attempt <= MAX_REDRAWS; attempt++) {
      const index = this.table!.sample(this.rt.random());
      let duplicate = false;
      for (let k = 0; k < c; k++) if (drawn[k] === index) duplicate = true;
      if (!duplicate) {
        drawn[c] = index;
        return index;
      }
    }
    drawn[c] = -1;
    return -1;
  }
}

/** Creates a least-request balancer (Envoy and Istio `LEAST_REQUEST`, `LEAST_CONN`). */
export function leastRequest<E extends BalancerEndpoint = BalancerEndpoint>(
  options?: LeastRequestOptions,
  runtime?: BalancerRuntime,
): LeastRequestBalancer<E> {
  return new LeastRequestBalancer<E>(options, runtime);
}
