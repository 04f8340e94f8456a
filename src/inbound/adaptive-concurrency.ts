import * as z from 'zod';
import { InvalidOptionError } from '../core/errors/index.js';
import { formatIssues } from '../core/validate.js';

/**
 * Load shedding with an adaptive concurrency limit, after Envoy's adaptive concurrency
 * filter (the gradient controller) and Netflix's concurrency-limits: the limit follows the
 * measured minimum latency, and requests above it are refused at once (503) instead of
 * queueing until everything times out. Every field is optional; times in ms.
 */
export interface LoadSheddingOptions {
  /** Turns it on. Default true when the object is given. */
  enabled?: boolean;
  /** The limit it starts from: 1 to 10^5. Default 10. */
  initialLimit?: number;
  /** The limit never goes below this, and is pinned to it while the minimum latency is measured: 1 to 10^5. Default 3 (Envoy's). */
  minConcurrency?: number;
  /** The limit never goes above this: 1 to 10^6. Default 1000 (Envoy's). */
  maxConcurrency?: number;
  /** How often the limit is recomputed from the latencies seen since: 10 to 60000 ms. Default 100 (Envoy's). */
  updateInterval?: number;
  /** Which percentile of those latencies stands for them: 1 to 99.9. Default 50 (Envoy's). */
  percentile?: number;
  /** How often the minimum latency is measured again: 1000 ms to 1 day. Default 60000 (Envoy's). */
  minRttInterval?: number;
  /** Random spread added to `minRttInterval`, in percent: 0 to 100. Default 15 (Envoy's). */
  jitter?: number;
  /** Requests measured (at `minConcurrency`) for the minimum latency: 1 to 10^5. Default 50 (Envoy's). */
  minRttRequests?: number;
  /** Latency allowed above the minimum before the limit shrinks, in percent of it: 0 to 1000. Default 25 (Envoy's). */
  buffer?: number;
}

/** Validated load-shedding settings. */
export interface LoadSheddingSettings {
  /** See {@link LoadSheddingOptions.initialLimit}. */
  readonly initialLimit: number;
  /** See {@link LoadSheddingOptions.minConcurrency}. */
  readonly minConcurrency: number;
  /** See {@link LoadSheddingOptions.maxConcurrency}. */
  readonly maxConcurrency: number;
  /** See {@link LoadSheddingOptions.updateInterval} (ms). */
  readonly updateIntervalMs: number;
  /** See {@link LoadSheddingOptions.percentile}. */
  readonly percentile: number;
  /** See {@link LoadSheddingOptions.minRttInterval} (ms). */
  readonly minRttIntervalMs: number;
  /** See {@link LoadSheddingOptions.jitter} (percent). */
  readonly jitter: number;
  /** See {@link LoadSheddingOptions.minRttRequests}. */
  readonly minRttRequests: number;
  /** See {@link LoadSheddingOptions.buffer} (percent). */
  readonly buffer: number;
}

const int = (min: number, max: number) =>
  z
    .number({ error: (issue) => (issue.code === 'invalid_type' ? 'a whole number' : undefined) })
    .int({ error: 'a whole number' })
    .min(min)
    .max(max);

const schema = z
  .strictObject({
    enabled: z.boolean().optional(),
    initialLimit: int(1, 1e5).optional(),
    minConcurrency: int(1, 1e5).optional(),
    maxConcurrency: int(1, 1e6).optional(),
    updateInterval: int(10, 60_000).optional(),
    percentile: z.number().min(1).max(99.9).optional(),
    minRttInterval: int(1000, 86_400_000).optional(),
    jitter: z.number().min(0).max(100).optional(),
    minRttRequests: int(1, 1e5).optional(),
    buffer: z.number().min(0).max(1000).optional(),
  })
  .superRefine((o, ctx) => {
    const min = o.minConcurrency ?? 3;
    const max = o.maxConcurrency ?? 1000;
    if (max < min) return ctx.addIssue({ code: 'custom', path: ['maxConcurrency'], input: max, message: `>= minConcurrency, which is ${min}` });
    const initial = o.initialLimit ?? Math.min(Math.max(10, min), max);
    if (initial < min || initial > max) ctx.addIssue({ code: 'custom', path: ['initialLimit'], input: initial, message: `from minConcurrency (${min}) to maxConcurrency (${max})` });
  });

/** Validates {@link LoadSheddingOptions}; undefined when shedding is off. Throws `InvalidOptionError`. */
export function loadSheddingSettings(options: LoadSheddingOptions | undefined, where: string): LoadSheddingSettings | undefined {
  if (options === undefined) return undefined;
  const result = schema.safeParse(options, { reportInput: true });
  if (!result.success) throw new InvalidOptionError(where, formatIssues(result.error.issues, 'loadShedding'));
  const o = result.data;
  if (o.enabled === false) return undefined;
  const minConcurrency = o.minConcurrency ?? 3;
  const maxConcurrency = o.maxConcurrency ?? 1000;
  return {
    initialLimit: o.initialLimit ?? Math.min(Math.max(10, minConcurrency), maxConcurrency),
    minConcurrency,
    maxConcurrency,
    updateIntervalMs: o.updateInterval ?? 100,
    percentile: o.percentile ?? 50,
    minRttIntervalMs: o.minRttInterval ?? 60_000,
    jitter: o.jitter ?? 15,
    minRttRequests: o.minRttRequests ?? 50,
    buffer: o.buffer ?? 25,
  };
}

/** Latency samples kept per update interval; beyond it, later samples replace random earlier ones (a reservoir). */
const MAX_SAMPLES = 1024;

/**
 * The gradient controller. `tryAcquire` admits a request while fewer than `limit` are in
 * flight; `release` gives back its slot with its latency. Time is passed in (a monotonic
 * clock in ms), so the decisions are testable without timers:
 *
 * - **minimum latency** (`minRtt`): at the start and every `minRttInterval` (+ jitter), the
 *   limit is pinned to `minConcurrency` until `minRttRequests` requests have completed;
 *   their `percentile` is the new minimum.
 * - **every `updateInterval`**: sample = the `percentile` of the latencies since;
 *   gradient = clamp((minRtt × (1 + buffer)) / sample, 0.5, 2); limit = limit × gradient +
 *   √(limit × gradient) (headroom for bursts), within [minConcurrency, maxConcurrency];
 * - **demand-limited**: while fewer than half of the limit were in flight at once since the
 *   last update, the demand, not the server, set the latency: the limit does not grow, and
 *   comes down halfway to twice that peak each update (never below minConcurrency). A
 *   limit nobody used is not known to be safe; left high, the next burst would queue up
 *   to it before the limit came down (RFC 7661 decays a TCP congestion window the
 *   sender did not use in the same way). With no request completed, the limit stays.
 * - **stuck at the minimum**: a limit at minConcurrency for 5 updates in a row measures the
 *   minimum latency again (as Envoy does): the service may have become slower for good.
 */
export class AdaptiveConcurrencyLimiter {
  /** The validated settings it runs with. */
  readonly settings: LoadSheddingSettings;
  #limit: number;
  #inFlight = 0;
  #minRtt: number | undefined;
  /** True while measuring the minimum latency. */
  #measuring = true;
  #nextMinRttAt = 0;
  #nextUpdateAt: number;
  readonly #samples = new Float64Array(MAX_SAMPLES);
  #sampleCount = 0;
  #seen = 0;
  /** The most requests in flight at once since the last update. */
  #peakInFlight = 0;
  /** Updates in a row that ended with the limit at minConcurrency. */
  #atMinimum = 0;
  readonly #random: () => number;

  /** @param settings validated settings; @param now monotonic ms; @param random for the jitter and the reservoir */
  constructor(settings: LoadSheddingSettings, now: number, random: () => number = Math.random) {
    this.settings = settings;
    this.#limit = settings.minConcurrency;
    this.#random = random;
    this.#nextUpdateAt = now + settings.updateIntervalMs;
  }

  /** The concurrency limit in force. */
  get limit(): number {
    return this.#measuring ? this.settings.minConcurrency : Math.floor(this.#limit);
  }

  /** Requests admitted and not yet released. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The measured minimum latency (ms), once known. */
  get minRtt(): number | undefined {
    return this.#minRtt;
  }

  /** Admits a request (true) or refuses it (false: shed it). */
  tryAcquire(now: number): boolean {
    if (!this.#measuring && now >= this.#nextMinRttAt) this.#startMeasuring();
    else if (!this.#measuring && now >= this.#nextUpdateAt) this.#update(now);
    if (this.#inFlight >= this.limit) return false;
    if (++this.#inFlight > this.#peakInFlight) this.#peakInFlight = this.#inFlight;
    return true;
  }

  /**
   * Gives back a slot. `latencyMs` is the request's latency, or undefined when it tells
   * nothing about the server's speed (the caller went away).
   */
  release(now: number, latencyMs: number | undefined): void {
    this.#inFlight--;
    if (latencyMs === undefined || !(latencyMs >= 0)) return;
    this.#record(latencyMs);
    if (this.#measuring) {
      if (this.#seen >= this.settings.minRttRequests) this.#endMeasuring(now);
    } else if (now >= this.#nextUpdateAt) {
      this.#update(now);
    }
  }

  #record(latencyMs: number): void {
    this.#seen++;
    if (this.#sampleCount < MAX_SAMPLES) this.#samples[this.#sampleCount++] = latencyMs;
    else {
      const slot = Math.floor(this.#random() * this.#seen);
      if (slot < MAX_SAMPLES) this.#samples[slot] = latencyMs;
    }
  }

  #percentile(): number {
    const sorted = this.#samples.subarray(0, this.#sampleCount).sort();
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((this.settings.percentile / 100) * sorted.length) - 1));
    return sorted[index]!;
  }

  #reset(): void {
    this.#sampleCount = 0;
    this.#seen = 0;
  }

  #startMeasuring(): void {
    this.#measuring = true;
    this.#reset();
  }

  #endMeasuring(now: number): void {
    this.#minRtt = this.#percentile();
    this.#measuring = false;
    this.#reset();
    const s = this.settings;
    if (this.#limit < s.minConcurrency) this.#limit = s.minConcurrency;
    // After the first measurement, start from the initial limit rather than the pinned one.
    if (this.#nextMinRttAt === 0) this.#limit = s.initialLimit;
    this.#nextMinRttAt = now + s.minRttIntervalMs * (1 + (s.jitter / 100) * this.#random());
    this.#nextUpdateAt = now + s.updateIntervalMs;
  }

  #update(now: number): void {
    const s = this.settings;
    this.#nextUpdateAt = now + s.updateIntervalMs;
    if (this.#sampleCount === 0) return;
    const sample = this.#percentile();
    this.#reset();
    const peak = this.#peakInFlight;
    this.#peakInFlight = this.#inFlight;
    const minRtt = this.#minRtt!;
    const target = minRtt * (1 + s.buffer / 100);
    const gradient = sample <= 0 ? 2 : Math.min(2, Math.max(0.5, target / sample));
    const scaled = this.#limit * gradient;
    let next = Math.min(s.maxConcurrency, Math.max(s.minConcurrency, scaled + Math.sqrt(scaled)));
    if (next > this.#limit && peak * 2 < this.#limit) {
      // Demand-limited (see the class comment): halfway down to twice the peak, never up.
      const used = Math.max(s.minConcurrency, peak * 2);
      next = Math.max(used, (this.#limit + used) / 2);
    }
    this.#limit = next;
    if (Math.floor(next) <= s.minConcurrency) {
      if (++this.#atMinimum >= 5) {
        this.#atMinimum = 0;
        this.#startMeasuring();
      }
    } else this.#atMinimum = 0;
  }
}
