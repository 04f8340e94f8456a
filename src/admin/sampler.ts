import type { AdminEndpoint, AdminService, MeshAdminView } from './mesh-view.js';
import { LatencyHistogram } from '../balance/latency-histogram.js';
import type { EventLog } from './events.js';

/** Ticks kept for the sparklines (one a tick: a minute at the default interval). */
export const HISTORY = 60;
/** Ticks the latency percentiles are taken over. */
const LATENCY_WINDOW = 10;
/** Ticks between two points of an endpoint's share ring, and the ring's size: a minute at 1 s ticks. */
const SHARE_STEP = 5;
const SHARE_SLOTS = 13;

/** What the sampler keeps per endpoint (a WeakMap entry: a removed endpoint's goes with it). */
class EndpointSample {
  requests: number;
  failures: number;
  /** Requests a second over the last tick. */
  rate = 0;
  /** Requests over the last minute, as of the last tick (so shares of one tick add up to 1). */
  minute = 0;
  /** Cumulative request counts, one every {@link SHARE_STEP} ticks: the oldest is about a minute ago. */
  readonly ring: Float64Array;
  ejected: boolean;
  unhealthy: boolean;
  constructor(endpoint: AdminEndpoint) {
    this.requests = endpoint.requests;
    this.failures = endpoint.failures;
    this.ring = new Float64Array(SHARE_SLOTS).fill(endpoint.requests);
    this.ejected = endpoint.ejected;
    this.unhealthy = endpoint.unhealthy;
  }
}

/** What the sampler keeps per service. */
export class ServiceSample {
  /** Requests a second, failures a second, p50 and p99 (ms) over the last ticks; oldest first. */
  readonly rate: number[] = [];
  readonly errors: number[] = [];
  readonly p50: number[] = [];
  readonly p99: number[] = [];
  /** Requests started over the last minute, summed over its endpoints (the shares' denominator). */
  minuteRequests = 0;
  /** Copies of the latency histogram, one a tick, for the percentiles' window. */
  readonly #histograms: Uint32Array[] = [];
  /** Push one tick's values, keeping {@link HISTORY}. */
  push(rate: number, errors: number, histogram: LatencyHistogram): void {
    const copy = histogram.counts.slice();
    this.#histograms.push(copy);
    if (this.#histograms.length > LATENCY_WINDOW + 1) this.#histograms.shift();
    const window = new Uint32Array(LatencyHistogram.BUCKETS);
    const oldest = this.#histograms[0]!;
    for (let i = 0; i < window.length; i++) window[i] = copy[i]! - oldest[i]!;
    for (const [list, value] of [
      [this.rate, rate],
      [this.errors, errors],
      [this.p50, round(LatencyHistogram.quantile(window, 0.5))],
      [this.p99, round(LatencyHistogram.quantile(window, 0.99))],
    ] as const) {
      list.push(value);
      if (list.length > HISTORY) list.shift();
    }
  }
}

/** Rounds to 0.01 (NaN, no sample, stays NaN and shows as null in JSON). */
function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** A service's key in snapshots: `fqdn:port`, with `/subset` when it has one. */
export function serviceKey(service: AdminService): string {
  return `${service.name.fqdn}:${service.name.port}${service.subset === undefined ? '' : `/${service.subset}`}`;
}

/**
 * Reads the mesh once a tick (default a second) while an admin server runs: each
 * endpoint's request and failure counters give its rate and its share of the service's
 * requests over the last minute, each service's latency histogram its p50 and p99 over
 * the last ten ticks; changes of ejection and health become events. O(endpoints) a
 * tick, nothing on the request path (the counters are plain fields the mesh keeps anyway).
 */
export class Sampler {
  readonly #view: MeshAdminView;
  readonly #events: EventLog;
  readonly #endpoints = new WeakMap<AdminEndpoint, EndpointSample>();
  readonly #services = new Map<string, ServiceSample>();
  #ticks = 0;
  #lastTick = performance.now();
  /** Total requests a second over the last tick, per tick, oldest first. */
  readonly totalRate: number[] = [];

  constructor(view: MeshAdminView, events: EventLog) {
    this.#view = view;
    this.#events = events;
    // The first tick only sets the baseline (no rate from counters of unknown age).
    for (const service of view.services()) for (const e of service.endpoints()) this.#endpoints.set(e, new EndpointSample(e));
  }

  /** Ticks taken so far. */
  get ticks(): number {
    return this.#ticks;
  }

  /** Takes one sample of every service and endpoint. */
  tick(): void {
    const now = performance.now();
    const seconds = Math.max((now - this.#lastTick) / 1000, 1e-3);
    this.#lastTick = now;
    this.#ticks++;
    const shareSlot = this.#ticks % SHARE_STEP === 0 ? (this.#ticks / SHARE_STEP) % SHARE_SLOTS : -1;
    const seen = new Set<string>();
    let total = 0;
    for (const service of this.#view.services()) {
      const key = serviceKey(service);
      seen.add(key);
      let sample = this.#services.get(key);
      if (sample === undefined) this.#services.set(key, (sample = new ServiceSample()));
      let requests = 0;
      let failures = 0;
      let minute = 0;
      for (const endpoint of service.endpoints()) {
        let e = this.#endpoints.get(endpoint);
        if (e === undefined) {
          this.#endpoints.set(endpoint, (e = new EndpointSample(endpoint)));
          // New since the last tick: everything it served counts for this tick.
          e.requests = 0;
          e.failures = 0;
          e.ring.fill(0);
        }
        const dr = endpoint.requests - e.requests;
        requests += dr;
        failures += endpoint.failures - e.failures;
        e.rate = dr / seconds;
        e.requests = endpoint.requests;
        e.failures = endpoint.failures;
        if (shareSlot >= 0) e.ring[shareSlot] = endpoint.requests;
        e.minute = endpoint.requests - this.#minuteAgo(e);
        minute += e.minute;
        this.#watch(key, endpoint, e);
      }
      sample.minuteRequests = minute;
      sample.push(round(requests / seconds), round(failures / seconds), service.latency.histogram);
      total += requests / seconds;
    }
    for (const key of this.#services.keys()) if (!seen.has(key)) this.#services.delete(key);
    this.totalRate.push(round(total));
    if (this.totalRate.length > HISTORY) this.totalRate.shift();
  }

  /** The endpoint's cumulative count about a minute ago (the oldest point of its ring). */
  #minuteAgo(e: EndpointSample): number {
    const next = (Math.floor(this.#ticks / SHARE_STEP) + 1) % SHARE_SLOTS;
    return e.ring[next]!;
  }

  /** Ejections and health changes since the last tick become events. */
  #watch(service: string, endpoint: AdminEndpoint, e: EndpointSample): void {
    if (endpoint.ejected !== e.ejected) {
      e.ejected = endpoint.ejected;
      this.#events.add(e.ejected ? 'endpoint-ejected' : 'endpoint-returned', `${endpoint.key} of ${service} ${e.ejected ? 'ejected by outlier detection' : 'back in service'}`, service);
    }
    if (endpoint.unhealthy !== e.unhealthy) {
      e.unhealthy = endpoint.unhealthy;
      this.#events.add(e.unhealthy ? 'endpoint-unhealthy' : 'endpoint-healthy', `${endpoint.key} of ${service} ${e.unhealthy ? 'failing' : 'passing'} its health checks`, service);
    }
  }

  /** The sampler's view of a service, if it has been sampled. */
  service(key: string): ServiceSample | undefined {
    return this.#services.get(key);
  }

  /** An endpoint's rate (requests a second over the last tick) and its share of its service's requests over the last minute (0..1). */
  endpoint(endpoint: AdminEndpoint, service: ServiceSample | undefined): { rate: number; share: number } {
    const e = this.#endpoints.get(endpoint);
    if (e === undefined || service === undefined || service.minuteRequests <= 0) return { rate: e?.rate ?? 0, share: 0 };
    return { rate: round(e.rate), share: round(e.minute / service.minuteRequests) };
  }
}
