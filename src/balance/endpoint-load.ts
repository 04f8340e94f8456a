import type { EndpointLoadView } from '../core/target.js';
import { median3, type ServiceLatency } from './service-latency.js';

/** An endpoint is in line with its service when its recent latency is at most this many times the service's ceiling ... */
export const IN_LINE_RATIO = 1.5;
/** ... plus this many ms (the jitter of a busy client at sub-millisecond latencies). */
export const IN_LINE_SLACK_MS = 1;
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
 * **Start.** An endpoint with no sample yet is estimated at its service's typical estimate
 * ({@link ServiceLatency}: the median of the estimates of the endpoints that answered
 * last) when it has one, so a new replica of a fast service is level with the others and
 * gets probed at once; until its first answer it takes one request at a time (see
 * {@link EndpointLoad.cost}).
 * Before the service has any sample, the default RTT (30 ms) stands in, decaying from the
 * endpoint's creation. The first real sample replaces the start value (Finagle does the
 * same; Linkerd's tower mixes it in, which keeps a 2 ms replica looking nearly as slow
 * as a 50 ms one for half a minute).
 *
 * **Samples.** Each later sample first decays the estimate by `w = exp(−Δt/τ)` (τ = 10 s,
 * Δt since the previous sample); a sample above the decayed estimate becomes the estimate
 * (the peak), a lower one is mixed in: `estimate·w + rtt·(1 − w)`. Between samples the
 * estimate decays towards zero (as in Finagle and Linkerd): an endpoint that was slow is
 * tried again after a while. {@link EndpointLoad.cost} and {@link EndpointLoad.rttEstimate}
 * compute that decay without writing anything: reading the load never changes it.
 *
 * **In line with the service.** The endpoint also keeps its last three samples.
 * {@link EndpointLoad.inLine} holds while their median (samples not taken yet count as
 * the service's typical latency) is at most `1.5 × ceiling + 1 ms`, where the ceiling is
 * how slow the whole service has recently been ({@link ServiceLatency.ceilingMs}). One
 * slow answer does not change it, where it becomes the Peak EWMA estimate at once; and
 * answers that were slow because everything was (a cold start, a pause of this process)
 * stay in line until the service has long been fast again, by which time the endpoint
 * has answered again. P2C Peak EWMA uses it at light load (see
 * {@link P2cPeakEwmaBalancer}). Without a shared {@link ServiceLatency} there is nothing
 * to compare with, and `inLine` is false.
 *
 * All times are milliseconds on one monotonic clock, `performance.now()` unless the
 * creator passes its own `nowMs` (tests with a simulated clock).
 *
 * Memory: number fields and one reference to the shared service latency, no objects of
 * its own (defaults are static).
 */
export class EndpointLoad implements EndpointLoadView {
  /** Latency assumed for an endpoint with no sample, in ms. */
  static readonly DEFAULT_RTT_MS = 30;
  /** Time constant τ of the decay, in ms. */
  static readonly DEFAULT_DECAY_MS = 10_000;

  /** Requests started and not finished yet. */
  pending = 0;
  /** Requests that finished with `ok = false` (for stats). */
  failures = 0;
  /** Requests started so far (for stats: the admin page's rates and shares). */
  requests = 0;
  /** Latency samples taken so far (0: the estimate is still the default). */
  samples = 0;

  /** Estimate at the time of the last sample, in ms. */
  private estimateMs: number;
  /** Time of the last sample, or of creation. */
  private sampledAtMs: number;
  private readonly decayMs: number;
  /**
   * The last three samples, oldest overwritten first; `samples` says how many are real
   * (0 until then: a small integer, so an endpoint with no traffic holds no boxed number).
   */
  private recent0 = 0;
  private recent1 = 0;
  private recent2 = 0;
  /** The service's typical latency, shared by its endpoints; undefined when used alone. */
  private readonly peers: ServiceLatency | undefined;

  /** Creates the load of an endpoint with no history. */
  constructor(options?: EndpointLoadOptions) {
    this.estimateMs = options?.defaultRttMs ?? EndpointLoad.DEFAULT_RTT_MS;
    this.decayMs = options?.decayMs ?? EndpointLoad.DEFAULT_DECAY_MS;
    this.sampledAtMs = options?.nowMs ?? performance.now();
    this.peers = options?.peers;
  }

  /**
   * The latency estimate at `nowMs`, decayed since the last sample (not stored). With no
   * sample yet: the service's typical latency, or the decayed default while the service
   * has no sample either.
   */
  rttEstimate(nowMs: number): number {
    if (this.samples === 0) {
      const peers = this.peers;
      if (peers !== undefined && peers.samples > 0) return peers.estimate(nowMs);
    }
    const elapsed = nowMs - this.sampledAtMs;
    // A clock that went backwards does not decay anything.
    return elapsed > 0 ? this.estimateMs * Math.exp(-elapsed / this.decayMs) : this.estimateMs;
  }

  /**
   * The median of the last three samples, undecayed, the service's typical latency
   * standing in for samples not taken yet (the default RTT without a shared
   * {@link ServiceLatency} or before it has a sample). One slow answer does not move it.
   */
  recentLatency(): number {
    const n = this.samples;
    if (n >= 3) return median3(this.recent0, this.recent1, this.recent2);
    const peers = this.peers;
    const fill = peers !== undefined && peers.samples > 0 ? peers.medianMs : EndpointLoad.DEFAULT_RTT_MS;
    return median3(n >= 1 ? this.recent0 : fill, n >= 2 ? this.recent1 : fill, fill);
  }

  /**
   * Whether `recentLatency` (this endpoint's, or one already computed) is in line with the
   * service: at most `1.5 × ceiling + 1 ms` ({@link ServiceLatency.ceilingMs}). True while
   * the service has no sample, false while only one endpoint has answered, and false
   * without a shared {@link ServiceLatency}.
   */
  inLine(recentLatency = this.recentLatency()): boolean {
    const peers = this.peers;
    if (peers === undefined) return false;
    if (peers.samples === 0) return true;
    // Until two endpoints have answered the ceiling is unknown (NaN): not in line.
    return recentLatency <= peers.ceilingMs * IN_LINE_RATIO + IN_LINE_SLACK_MS;
  }

  /**
   * The cost at `nowMs` counting {@link EndpointLoad.recentLatency} (passed in, as
   * computed) instead of the Peak EWMA estimate: `recentLatency` decayed since the last
   * sample exactly as the estimate decays, × `(1 + pending / weight)`. For an endpoint
   * clearly faster than the one it is compared with, whose peaks are noise next to the gap.
   */
  typicalCost(recentLatency: number, nowMs: number, weight = 1): number {
    if (this.samples === 0 && this.pending > 0) return Infinity; // one probe at a time, as in cost()
    const elapsed = nowMs - this.sampledAtMs;
    const decayed = elapsed > 0 ? recentLatency * Math.exp(-elapsed / this.decayMs) : recentLatency;
    return decayed * (1 + this.pending / weight);
  }

  /**
   * The balancing cost at `nowMs`: `rttEstimate(nowMs) × (1 + pending / weight)`; with
   * the default weight 1 that is Finagle's `ewma × (pending + 1)`. `weight` is the
   * endpoint's relative capacity (1 for the lightest endpoint of the set): the queue it
   * serves counts for less, and an idle endpoint costs its latency whatever its weight.
   *
   * An endpoint with no answer yet and a request in flight costs `Infinity`: it is probed
   * one request at a time until its first answer says what it costs (its start value is
   * only the service's typical estimate, and a start value below the others' estimates
   * would otherwise draw every request until that answer came back).
   */
  cost(nowMs: number, weight = 1): number {
    if (this.samples === 0 && this.pending > 0) return Infinity;
    return this.rttEstimate(nowMs) * (1 + this.pending / weight);
  }

  /** Adds one latency sample (ms) taken at `nowMs`. */
  observe(rttMs: number, nowMs: number): void {
    switch (this.samples % 3) {
      case 0: this.recent0 = rttMs; break;
      case 1: this.recent1 = rttMs; break;
      default: this.recent2 = rttMs;
    }
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
    this.requests++;
  }

  /**
   * A request finished after `rttMs`. A failure (`ok = false`) is counted and observed
   * as at least {@link FAILURE_PENALTY_MS}.
   */
  finish(rttMs: number, nowMs: number, ok: boolean): void {
    if (this.pending > 0) this.pending--;
    if (ok) {
      this.observe(rttMs, nowMs);
      this.peers?.histogram.record(rttMs);
      // The service's typical estimate follows its endpoints' estimates after real answers
      // (not after failure penalties or cut-off tries).
      this.peers?.observe(this.estimateMs, nowMs, this);
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
   * The load layer also reports here an answer that a stall of this process held up for
   * most of its time: what is left once the stall is taken off is only a lower bound.
   */
  finishCancelled(elapsedMs: number, nowMs: number): void {
    if (this.pending > 0) this.pending--;
    if (elapsedMs > this.rttEstimate(nowMs)) this.observe(elapsedMs, nowMs);
  }
}
