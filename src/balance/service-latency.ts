import { LatencyHistogram } from './latency-histogram.js';

/**
 * The typical latency estimate of one service: where an endpoint with no sample of its
 * own starts, and what "in line with the service" is measured against at light load.
 *
 * Finagle and Linkerd start a new endpoint from a constant (Linkerd: 30 ms). For a fast
 * service that constant is far above what the others measure (a fraction of a
 * millisecond on a LAN), so P2C Peak EWMA never picks the new endpoint until the constant
 * has decayed, tens of seconds later: a new replica, or the second and third replica of a
 * freshly started client, get nothing. Starting from the service's typical estimate
 * instead puts a new endpoint level with the others, so it is probed at once; its first
 * real sample then replaces the start value, as in Finagle.
 *
 * "Typical" is the median of the Peak EWMA estimates of the five endpoints that answered
 * last, as of their last answer (each endpoint counts once, so one slow replica is never
 * the median of three or more; with two, the lower is taken). It follows the service
 * within a few answers, and decays between them exactly like an endpoint's estimate
 * (τ, towards zero), so it stays comparable with the decayed estimates of endpoints that
 * have not been asked for a while.
 *
 * The **ceiling** is the highest that median has been over the last 16 to 32 answers
 * (once two endpoints have answered): how slow the service as a whole has recently
 * looked. A moment when every answer was slow (a cold start, a pause of this process or
 * of the network) raises it for a while, so the answers an endpoint gave during that
 * moment still count as in line with its service (see {@link EndpointLoad.inLine}).
 * O(1) per answer and per read, nothing allocated after construction.
 */
export class ServiceLatency {
  /** How many endpoints' latest estimates the median is taken over. */
  static readonly WINDOW = 5;
  /** The ceiling covers the current block of samples and the previous one. */
  static readonly CEILING_BLOCK = 16;

  /** The latest estimate of each endpoint held, whose it is, and when (in answers taken). */
  readonly #values = new Float64Array(ServiceLatency.WINDOW);
  readonly #owners: unknown[] = new Array<unknown>(ServiceLatency.WINDOW).fill(undefined);
  readonly #stamps = new Float64Array(ServiceLatency.WINDOW);
  /** Scratch space for the median. */
  readonly #sorted = new Float64Array(ServiceLatency.WINDOW);
  #held = 0;
  #count = 0;
  /** The median when the last sample came, and when it came. */
  #medianMs = Number.NaN;
  #sampledAtMs = 0;
  /** Highest median in the current block of samples, and in the block before it. */
  #blockMax = Number.NaN;
  #previousBlockMax = Number.NaN;
  #inBlock = 0;
  readonly #decayMs: number;
  /** Every successful answer's latency, for the admin page's percentiles. */
  readonly histogram = new LatencyHistogram();

  /** @param decayMs τ of the decay between samples, in ms (the endpoints' own; default 10 000) */
  constructor(decayMs = 10_000) {
    this.#decayMs = decayMs;
  }

  /** Answers taken so far (0: nothing is known about the service yet). */
  get samples(): number {
    return this.#count;
  }

  /** The median as of the last sample, undecayed; NaN before the first sample. */
  get medianMs(): number {
    return this.#medianMs;
  }

  /**
   * The highest {@link ServiceLatency.medianMs} over the last 16 to 32 samples,
   * undecayed; NaN until two endpoints have answered.
   */
  get ceilingMs(): number {
    const previous = this.#previousBlockMax;
    return previous > this.#blockMax ? previous : this.#blockMax;
  }

  /** The typical latency at `nowMs`: {@link ServiceLatency.medianMs} decayed since the last sample; NaN before the first. */
  estimate(nowMs: number): number {
    const elapsed = nowMs - this.#sampledAtMs;
    return elapsed > 0 ? this.#medianMs * Math.exp(-elapsed / this.#decayMs) : this.#medianMs;
  }

  /**
   * Takes `estimateMs`, an endpoint's latency estimate right after a successful answer at
   * `nowMs`, from `owner` (the endpoint, or anything that stands for it): it replaces that
   * owner's previous value if still held, else the oldest one held.
   */
  observe(estimateMs: number, nowMs: number, owner?: unknown): void {
    const window = ServiceLatency.WINDOW;
    let slot = -1;
    if (owner !== undefined) {
      for (let i = 0; i < this.#held; i++) {
        if (this.#owners[i] === owner) {
          slot = i;
          break;
        }
      }
    }
    if (slot < 0) {
      if (this.#held < window) slot = this.#held++;
      else {
        slot = 0;
        for (let i = 1; i < window; i++) if (this.#stamps[i]! < this.#stamps[slot]!) slot = i;
      }
    }
    this.#values[slot] = estimateMs;
    this.#owners[slot] = owner;
    this.#stamps[slot] = ++this.#count;
    const median = (this.#medianMs = this.#median());
    this.#sampledAtMs = nowMs;
    // One endpoint's sample alone says nothing about the service as a whole.
    if (this.#held < 2) return;
    if (this.#inBlock === ServiceLatency.CEILING_BLOCK) {
      this.#previousBlockMax = this.#blockMax;
      this.#blockMax = median;
      this.#inBlock = 1;
    } else {
      if (!(median <= this.#blockMax)) this.#blockMax = median; // NaN at first: taken
      this.#inBlock++;
    }
  }

  /** The median of the samples held (with an even count, the lower middle one). */
  #median(): number {
    const sorted = this.#sorted;
    const n = this.#held;
    // Insertion sort of at most five numbers.
    for (let i = 0; i < n; i++) {
      const value = this.#values[i]!;
      let j = i;
      while (j > 0 && sorted[j - 1]! > value) {
        sorted[j] = sorted[j - 1]!;
        j--;
      }
      sorted[j] = value;
    }
    return sorted[(n - 1) >> 1]!;
  }
}

/** The middle one of three numbers. */
export function median3(a: number, b: number, c: number): number {
  if (a > b) {
    const t = a;
    a = b;
    b = t;
  }
  // a <= b
  if (c <= a) return a;
  if (c >= b) return b;
  return c;
}
