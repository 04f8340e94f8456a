import type { EndpointLoadOptions } from './types.js';

/**
 * The latency, in ms, recorded for a failed request that failed faster than this:
 * connection errors count against the endpoint's load, so an endpoint that refuses
 * connections quickly does not look like the fastest one.
 */
export const FAILURE_PENALTY_MS = 1000;

/**
 * Load of one endpoint: requests in flight and a Peak EWMA latency estimate, as in
 * Finagle's `PeakEwma` and Linkerd's balancer.
 *
 * The estimate starts at the default RTT (30 ms) when the endpoint is created, and the
 * first sample replaces it: the default stands only for an endpoint with no history.
 * Each later sample first decays the estimate by `w = exp(−Δt/τ)` (τ = 10 s, Δt since
 * the previous sample); a sample above the decayed estimate becomes the estimate (the
 * peak), a lower one is mixed in: `estimate·w + rtt·(1 − w)`.
 *
 * Why the first sample replaces the default (Linkerd's tower mixes it in instead): with
 * mixing, an endpoint answering in 2 ms keeps an estimate near 30 ms for tens of
 * seconds, close enough to a 50 ms replica that the pending count decides, so a fresh
 * client (every deploy, every autoscaled instance) sends a slow replica a real share of
 * its traffic for its first half minute. Finagle's PeakEwma also takes its first sample
 * as it is.
 *
 * Between samples the estimate decays towards zero, the default included (as in
 * Linkerd): an endpoint that was slow, or that never got a request because the others
 * answer faster than the default, is tried again after a while.
 * {@link EndpointLoad.cost} and {@link EndpointLoad.rttEstimate} compute that decay
 * without writing anything: reading the load never changes it.
 *
 * All times are milliseconds on one monotonic clock, `performance.now()` unless the
 * creator passes its own `nowMs` (tests with a simulated clock).
 *
 * Memory: six number fields, no per-instance objects (defaults are static).
 */
export class EndpointLoad {
  /** Latency assumed for an endpoint with no sample, in ms. */
  static readonly DEFAULT_RTT_MS = 30;
  /** Time constant τ of the decay, in ms. */
  static readonly DEFAULT_DECAY_MS = 10_000;

  /** Requests started and not finished yet. */
  pending = 0;
  /** Requests that finished with `ok = false` (for stats). */
  failures = 0;
  /** Latency samples taken so far (0: the estimate is still the default). */
  samples = 0;

  /** Estimate at the time of the last sample, in ms. */
  private estimateMs: number;
  /** Time of the last sample, or of creation. */
  private sampledAtMs: number;
  private readonly decayMs: number;

  /** Creates the load of an endpoint with no history. */
  constructor(options?: EndpointLoadOptions) {
    this.estimateMs = options?.defaultRttMs ?? EndpointLoad.DEFAULT_RTT_MS;
    this.decayMs = options?.decayMs ?? EndpointLoad.DEFAULT_DECAY_MS;
    this.sampledAtMs = options?.nowMs ?? performance.now();
  }

  /** The latency estimate at `nowMs`, decayed since the last sample (not stored). */
  rttEstimate(nowMs: number): number {
    const elapsed = nowMs - this.sampledAtMs;
    // A clock that went backwards does not decay anything.
    return elapsed > 0 ? this.estimateMs * Math.exp(-elapsed / this.decayMs) : this.estimateMs;
  }

  /**
   * The balancing cost at `nowMs`: `rttEstimate(nowMs) × (1 + pending / weight)`; with
   * the default weight 1 that is Finagle's `ewma × (pending + 1)`. `weight` is the
   * endpoint's relative capacity (1 for the lightest endpoint of the set): the queue it
   * serves counts for less, and an idle endpoint costs its latency whatever its weight.
   */
  cost(nowMs: number, weight = 1): number {
    return this.rttEstimate(nowMs) * (1 + this.pending / weight);
  }

  /** Adds one latency sample (ms) taken at `nowMs`. */
  observe(rttMs: number, nowMs: number): void {
    if (this.samples++ === 0) {
      this.estimateMs = rttMs;
      this.sampledAtMs = nowMs;
      return;
    }
    const elapsed = nowMs - this.sampledAtMs;
    this.sampledAtMs = nowMs;
    const w = elapsed > 0 ? Math.exp(-elapsed / this.decayMs) : 1;
    const decayed = this.estimateMs * w;
    this.estimateMs = rttMs > decayed ? rttMs : decayed + rttMs * (1 - w);
  }

  /** A request to this endpoint starts. */
  start(): void {
    this.pending++;
  }

  /**
   * A request finished after `rttMs`. A failure (`ok = false`) is counted and observed
   * as at least {@link FAILURE_PENALTY_MS}.
   */
  finish(rttMs: number, nowMs: number, ok: boolean): void {
    if (this.pending > 0) this.pending--;
    if (ok) {
      this.observe(rttMs, nowMs);
    } else {
      this.failures++;
      this.observe(rttMs > FAILURE_PENALTY_MS ? rttMs : FAILURE_PENALTY_MS, nowMs);
    }
  }

  /** A request ended without a meaningful latency (it never reached the endpoint, or a stall of this process hid it). */
  finishWithoutSample(): void {
    if (this.pending > 0) this.pending--;
  }

  /**
   * A request written to the endpoint was cancelled after `elapsedMs` without response
   * headers: a hedge lost to a faster try, a per-try or route timeout fired, or the
   * caller gave up. All that says is "at least `elapsedMs`" (a censored sample), so it is
   * observed only when it is above the current estimate, where it becomes the peak; a
   * shorter wait says nothing either way. Without this, the answers that hedging and
   * timeouts cut short, which are the endpoint's slowest, would never reach its estimate
   * (Linkerd's tower records the time to cancellation as a sample too, lower or not).
   */
  finishCancelled(elapsedMs: number, nowMs: number): void {
    if (this.pending > 0) this.pending--;
    if (elapsedMs > this.rttEstimate(nowMs)) this.observe(elapsedMs, nowMs);
  }
}
