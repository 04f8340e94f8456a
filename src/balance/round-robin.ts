import type { Balancer, BalancerEndpoint, BalancerRuntime, PickRequest, WarmupOptions } from './types.js';
import { PickRuntime } from './warmup.js';

/**
 * Earliest-deadline-first order over weights: entry `i` is due at `(c + 0.5) / w` where
 * `c` counts its previous turns. Over any stretch of `Σw` turns each entry gets its
 * weight's share, evenly spread (the half offset keeps an entry's turns away from the
 * cycle's ends, so runs stay short across cycles too). Ties go to the lower index.
 */
class EdfHeap {
  private readonly heap: Int32Array;
  private readonly weight: Float64Array;
  private readonly count: Float64Array;
  private readonly deadline: Float64Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.heap = new Int32Array(n);
    this.weight = Float64Array.from(weights);
    this.count = new Float64Array(n);
    this.deadline = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.heap[i] = i;
      this.deadline[i] = 0.5 / this.weight[i];
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /** The entry due first; it is rescheduled for its next turn. */
  next(): number {
    const top = this.heap[0];
    // Computed from the count, not accumulated, so no rounding drift over time.
    const count = ++this.count[top];
    this.deadline[top] = (count + 0.5) / this.weight[top];
    this.siftDown(0);
    return top;
  }

  private before(a: number, b: number): boolean {
    const da = this.deadline[a];
    const db = this.deadline[b];
    return da < db || (da === db && a < b);
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(heap[child + 1], heap[child])) child++;
      if (!this.before(heap[child], entry)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = entry;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const rest = a % b;
    a = b;
    b = rest;
  }
  return a;
}

/**
 * Envoy's `ROUND_ROBIN`: endpoints in turn; when weights differ, smooth weighted round
 * robin (each endpoint gets its share of every cycle of `Σweight` requests, spread out
 * rather than in bursts).
 *
 * `update` precomputes one cycle of the weighted order (weights divided by their
 * greatest common divisor) into an `Int32Array`, so `pick` is O(1). A cycle longer than
 * {@link RoundRobinBalancer.MAX_SCHEDULE_LENGTH} entries (or non-integer weights) is not
 * stored: `pick` then runs the earliest-deadline-first heap itself, O(log n).
 *
 * Each `update` starts at a random position of the cycle, so that many clients do not
 * all begin with the same endpoint. An unavailable endpoint is skipped by moving on, up
 * to n positions; if all of those were unavailable the endpoints are scanned in order
 * (O(n)) for one that is available. `undefined` only when none is available.
 *
 * Warmup (Istio `loadBalancer.warmup`, Envoy's slow start for round robin): a warming
 * endpoint's turn is taken with probability `factor / largest factor` and passed to the
 * next endpoint otherwise, so over a cycle it gets `weight × factor` of the turns.
 */
export class RoundRobinBalancer<E extends BalancerEndpoint = BalancerEndpoint> implements Balancer<E> {
  /** Longest weighted cycle that is precomputed (entries, 4 bytes each: 4 MiB). */
  static readonly MAX_SCHEDULE_LENGTH = 1 << 20;

  /** `round-robin`. */
  readonly name = 'round-robin';
  private endpoints: readonly E[] = [];
  /** One weighted cycle of endpoint indexes; undefined for plain or heap mode. */
  private schedule: Int32Array | undefined;
  /** Weighted order computed per pick when the cycle is too long to store. */
  private heap: EdfHeap | undefined;
  /** Next position: in `schedule`, or in `endpoints` for plain round robin. */
  private cursor = 0;
  /** Where the fallback scan resumes. */
  private scanCursor = 0;
  private readonly rt: PickRuntime;

  /** Use {@link roundRobin} to create one. */
  constructor(runtime: BalancerRuntime = {}, options: WarmupOptions = {}) {
    this.rt = new PickRuntime(runtime, options);
  }

  /** Replaces the endpoints and precomputes the weighted cycle: O(Σweight · log n). */
  update(endpoints: readonly E[]): void {
    this.endpoints = endpoints.slice();
    this.rt.warmup?.update(endpoints);
    this.schedule = undefined;
    this.heap = undefined;
    const n = endpoints.length;
    let equal = true;
    let integers = true;
    let divisor = 0;
    for (const endpoint of endpoints) {
      if (endpoint.weight !== endpoints[0].weight) equal = false;
      if (Number.isInteger(endpoint.weight)) divisor = gcd(divisor, endpoint.weight);
      else integers = false;
    }
    if (equal) {
      this.cursor = Math.floor(this.rt.random() * n);
      this.scanCursor = this.cursor;
      return;
    }
    const weights = endpoints.map((endpoint) => (integers ? endpoint.weight / divisor : endpoint.weight));
    const heap = new EdfHeap(weights);
    let length = 0;
    for (const weight of weights) length += weight;
    if (!integers || length > RoundRobinBalancer.MAX_SCHEDULE_LENGTH) {
      this.heap = heap;
      // A random start for the heap: skip a random part of the first cycle.
      for (let skip = Math.floor(this.rt.random() * Math.min(n, length)); skip > 0; skip--) heap.next();
      this.scanCursor = 0;
      return;
    }
    const schedule = new Int32Array(length);
    for (let i = 0; i < length; i++) schedule[i] = heap.next();
    this.schedule = schedule;
    this.cursor = Math.floor(this.rt.random() * length);
    this.scanCursor = 0;
  }

  /** The next available endpoint in turn; the request is not looked at. */
  pick(_request?: PickRequest): E | undefined {
    const endpoints = this.endpoints;
    const n = endpoints.length;
    if (n === 0) return undefined;
    const schedule = this.schedule;
    const heap = this.heap;
    let now = 0;
    let reference = 0;
    if (this.rt.warmup !== undefined) {
      now = this.rt.now();
      reference = this.rt.warmup.reference(now);
    }
    if (schedule === undefined && heap === undefined) {
      // Plain round robin: n steps visit every endpoint once.
      let cursor = this.cursor;
      let skipped: E | undefined;
      for (let step = 0; step < n; step++) {
        const endpoint = endpoints[cursor];
        cursor = cursor + 1 === n ? 0 : cursor + 1;
        if (endpoint.available) {
          if (reference > 0 && !this.takesTurn(endpoint, now, reference)) {
            skipped ??= endpoint;
            continue;
          }
          this.cursor = cursor;
          return endpoint;
        }
      }
      // Every available endpoint passed its turn (all warming): the first of them takes it.
      this.cursor = cursor;
      return skipped;
    }
    for (let step = 0; step < n; step++) {
      let index: number;
      if (schedule !== undefined) {
        index = schedule[this.cursor];
        this.cursor = this.cursor + 1 === schedule.length ? 0 : this.cursor + 1;
      } else {
        index = heap!.next();
      }
      const endpoint = endpoints[index];
      if (endpoint.available && (reference <= 0 || this.takesTurn(endpoint, now, reference))) return endpoint;
    }
    return this.scan();
  }

  /** Warmup: whether a warming endpoint takes this turn (probability `factor / largest factor`). */
  private takesTurn(endpoint: E, now: number, reference: number): boolean {
    const share = this.rt.warmup!.share(endpoint, now, reference);
    return share >= 1 || this.rt.random() < share;
  }

  /** The next available endpoint in list order, O(n). */
  private scan(): E | undefined {
    const endpoints = this.endpoints;
    const n = endpoints.length;
    for (let step = 0; step < n; step++) {
      const index = (this.scanCursor + step) % n;
      if (endpoints[index].available) {
        this.scanCursor = index + 1;
        return endpoints[index];
      }
    }
    return undefined;
  }
}

/** Creates a round robin balancer (Envoy and Istio `ROUND_ROBIN`, weighted; with Istio `warmup` when given). */
export function roundRobin<E extends BalancerEndpoint = BalancerEndpoint>(runtime?: BalancerRuntime, options?: WarmupOptions): RoundRobinBalancer<E> {
  return new RoundRobinBalancer<E>(runtime, options);
}
