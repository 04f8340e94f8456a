/**
 * Istio's `loadBalancer.warmup` (and the older `warmupDurationSecs`): Envoy's slow start.
 * An endpoint that joined recently (or came back through its active health checks) has
 * its weight scaled by
 *
 *     factor = max(minimumPercent / 100, (max(secondsSinceStart, 1) / windowSeconds) ^ (1 / aggression))
 *
 * until the window has passed, so it gets a growing share of the traffic instead of its
 * full share at once. Endpoints that start together ramp together: with equal factors
 * the shares do not change, which is why Envoy notes that slow start helps a few new
 * endpoints (a scale-up), not a whole new deployment.
 *
 * @module
 */
import type { BalancerEndpoint, BalancerRuntime, WarmupOptions } from './types.js';

/** Validated warmup settings (from Istio's `warmup`, or `warmupDurationSecs` with the defaults). */
export interface WarmupSettings {
  /** The window after an endpoint's start during which its weight ramps up, in ms. */
  readonly durationMs: number;
  /** The smallest factor, in percent of the weight (0 to 100). Istio and Envoy: 10. */
  readonly minimumPercent: number;
  /** How the ramp bends: 1 is linear, above 1 fast at first, below 1 slow at first. Istio and Envoy: 1. */
  readonly aggression: number;
}

/** Istio's `LoadBalancerSettings` warmup fields, as validated config gives them. */
export interface IstioWarmup {
  /** Deprecated by Istio in favour of `warmup`: the window alone, with the default minimum and aggression. */
  warmupDurationSecs?: string | undefined;
  /** The window, the smallest share and the bend of the ramp. */
  warmup?: { duration: string; minimumPercent?: number | undefined; aggression?: number | undefined } | undefined;
}

/**
 * The warmup settings of a `loadBalancer`, or undefined when it sets none. `warmup`
 * wins over the deprecated `warmupDurationSecs`, as in Istio. `toMs` turns an Istio
 * duration into milliseconds.
 */
export function warmupSettings(lb: IstioWarmup | undefined, toMs: (duration: string) => number): WarmupSettings | undefined {
  if (lb?.warmup !== undefined) {
    return { durationMs: toMs(lb.warmup.duration), minimumPercent: lb.warmup.minimumPercent ?? 10, aggression: lb.warmup.aggression ?? 1 };
  }
  if (lb?.warmupDurationSecs !== undefined) return { durationMs: toMs(lb.warmupDurationSecs), minimumPercent: 10, aggression: 1 };
  return undefined;
}

/** Envoy's slow-start weight factor of an endpoint `sinceMs` after it started, in (0, 1]. */
export function warmupFactor(settings: WarmupSettings, sinceMs: number): number {
  if (!(sinceMs < settings.durationMs)) return 1;
  const timeFactor = Math.max(sinceMs, 1000) / settings.durationMs;
  const ramp = timeFactor >= 1 ? 1 : Math.pow(timeFactor, 1 / settings.aggression);
  const floor = settings.minimumPercent / 100;
  return ramp > floor ? ramp : floor;
}

/**
 * Warmup as the balancers apply it, O(1) per pick and allocation-free. A balancer keeps
 * one, calls {@link Warmup.update} with its endpoints, and per pick reads
 * {@link Warmup.reference} once and {@link Warmup.share} for the candidates it draws.
 *
 * `share` is the endpoint's factor relative to the largest factor in the set (the oldest
 * endpoint's), so a balancer can keep a candidate with that probability and draw again
 * otherwise: shares then follow `weight × factor`, and a set that started together (all
 * factors equal) is not slowed down at all.
 */
export class Warmup {
  readonly settings: WarmupSettings;
  /** The earliest start of the current endpoints: its factor is the largest. */
  #oldestStartMs = Infinity;

  constructor(settings: WarmupSettings) {
    this.settings = settings;
  }

  /** Takes the current endpoints (O(n), when the set changes). */
  update(endpoints: readonly BalancerEndpoint[]): void {
    let oldest = Infinity;
    for (const endpoint of endpoints) {
      const since = endpoint.activeSinceMs;
      if (since !== undefined && since < oldest) oldest = since;
    }
    this.#oldestStartMs = oldest;
  }

  /** The largest factor of the set at `nowMs` (0 when no endpoint says when it started: no warmup then). */
  reference(nowMs: number): number {
    return this.#oldestStartMs === Infinity ? 0 : warmupFactor(this.settings, nowMs - this.#oldestStartMs);
  }

  /**
   * The probability of keeping `endpoint` when drawn, at `nowMs` (`reference` from
   * {@link Warmup.reference} for the same instant): 1 once its window has passed or when
   * it says nothing about its start.
   */
  share(endpoint: BalancerEndpoint, nowMs: number, reference: number): number {
    const since = endpoint.activeSinceMs;
    if (since === undefined || !(nowMs - since < this.settings.durationMs) || reference <= 0) return 1;
    const share = warmupFactor(this.settings, nowMs - since) / reference;
    return share < 1 ? share : 1;
  }
}

/**
 * What the weighted balancers (round robin, least request, P2C) draw on: their source of
 * randomness, their clock and their warmup, the defaults filled in once, at construction.
 * Held in one field, so a pick reads `rt.random()` and allocates nothing.
 */
export class PickRuntime {
  /** Uniform random in [0, 1): the runtime's, or `Math.random`. */
  readonly random: () => number;
  /** Monotonic milliseconds: the runtime's, or `performance.now`. */
  readonly now: () => number;
  /** The warmup ramp, when the balancer's options set one. */
  readonly warmup: Warmup | undefined;

  constructor(runtime: BalancerRuntime, options: WarmupOptions) {
    this.random = runtime.random ?? Math.random;
    this.now = runtime.now ?? (() => performance.now());
    this.warmup = options.warmup ? new Warmup(options.warmup) : undefined;
  }
}
