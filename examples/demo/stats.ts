// What one phase of the demo measured: per replica, a latency histogram of the requests
// it served (as the caller saw them, until the body ended), plus what the mesh itself
// reports about each endpoint (requests in flight, Peak EWMA cost).
import type { ServiceSnapshot } from 'proxyless';
import type { Replica } from './backends.js';

/** One replica's line in a table. */
export interface ReplicaRow {
  readonly replica: Replica;
  /** Requests it served. */
  readonly requests: number;
  /** Its fraction of all requests, 0..1. */
  readonly share: number;
  /** Median and 99th percentile latency in ms (NaN with no requests). */
  readonly p50: number;
  readonly p99: number;
  /** Mean requests in flight on it, as the mesh counted them (NaN before the first sample). */
  readonly inFlight: number;
  /** The mesh's last Peak EWMA cost for it, in ms (NaN before the first sample). */
  readonly cost: number;
}

/** A phase as the tables show it, at one moment. */
export interface PhaseReport {
  /** What selected the balancer, e.g. `simple: ROUND_ROBIN`. */
  readonly label: string;
  /** The balancer's name as the mesh reports it, e.g. `round-robin`. */
  readonly balancer: string;
  /** `running`, `done`, or `interrupted` (Ctrl-C). */
  readonly state: 'running' | 'done' | 'interrupted';
  readonly elapsedSeconds: number;
  readonly plannedSeconds: number;
  readonly rows: readonly ReplicaRow[];
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** The slow replicas' share of all requests, 0..1. */
  readonly slowShare: number;
  readonly errors: number;
  /** The first error's message, to show what went wrong. */
  readonly firstError: string | undefined;
}

/** Collects one phase's measurements; {@link PhaseStats.report} turns them into a {@link PhaseReport}. */
export class PhaseStats {
  readonly label: string;
  readonly plannedSeconds: number;
  /** The balancer's name, read from the mesh's snapshot. */
  balancer = '?';
  readonly #replicas: readonly Replica[];
  readonly #latencies = new Map<string, LatencyHistogram>();
  readonly #all = new LatencyHistogram();
  readonly #inFlightSum = new Map<string, number>();
  readonly #cost = new Map<string, number>();
  #samples = 0;
  #errors = 0;
  #firstError: string | undefined;
  readonly #startedAt = performance.now();
  #endedAt: number | undefined;

  /** @param label what selected the balancer; @param plannedSeconds how long the phase should run */
  constructor(label: string, plannedSeconds: number, replicas: readonly Replica[]) {
    this.label = label;
    this.plannedSeconds = plannedSeconds;
    this.#replicas = replicas;
    for (const replica of replicas) this.#latencies.set(replica.id, new LatencyHistogram());
  }

  /** A request answered by `replicaId` (its `x-replica` header) after `ms`. */
  record(replicaId: string | undefined, ms: number): void {
    const histogram = replicaId === undefined ? undefined : this.#latencies.get(replicaId);
    if (!histogram) return this.recordError(new Error(`answer from an unknown replica: ${String(replicaId)}`));
    histogram.record(ms);
    this.#all.record(ms);
  }

  /** A request that failed. */
  recordError(error: unknown): void {
    this.#errors++;
    this.#firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }

  /**
   * Reads the mesh's own view of the service (`mesh.services()`): requests in flight
   * per endpoint and the balancer's cost. Called a few times a second.
   */
  sample(services: readonly ServiceSnapshot[]): void {
    const service = services[0];
    if (!service) return;
    this.balancer = service.balancer;
    this.#samples++;
    for (const endpoint of service.endpoints) {
      const replica = this.#replicas.find((r) => r.address === endpoint.key);
      if (!replica) continue;
      this.#inFlightSum.set(replica.id, (this.#inFlightSum.get(replica.id) ?? 0) + endpoint.pending);
      this.#cost.set(replica.id, endpoint.cost);
    }
  }

  /** Marks the end of traffic: elapsed time stops here. */
  end(): void {
    this.#endedAt ??= performance.now();
  }

  /** The numbers as of now. */
  report(state: PhaseReport['state']): PhaseReport {
    const elapsedSeconds = ((this.#endedAt ?? performance.now()) - this.#startedAt) / 1000;
    const requests = this.#all.count;
    let slowRequests = 0;
    const rows = this.#replicas.map((replica): ReplicaRow => {
      const histogram = this.#latencies.get(replica.id)!;
      if (replica.slow) slowRequests += histogram.count;
      return {
        replica,
        requests: histogram.count,
        share: requests > 0 ? histogram.count / requests : 0,
        p50: histogram.percentile(0.5),
        p99: histogram.percentile(0.99),
        inFlight: this.#samples > 0 ? (this.#inFlightSum.get(replica.id) ?? 0) / this.#samples : Number.NaN,
        cost: this.#cost.get(replica.id) ?? Number.NaN,
      };
    });
    return {
      label: this.label,
      balancer: this.balancer,
      state,
      elapsedSeconds,
      plannedSeconds: this.plannedSeconds,
      rows,
      requests,
      requestsPerSecond: elapsedSeconds > 0 ? requests / elapsedSeconds : 0,
      p50: this.#all.percentile(0.5),
      p99: this.#all.percentile(0.99),
      slowShare: requests > 0 ? slowRequests / requests : 0,
      errors: this.#errors,
      firstError: this.#firstError,
    };
  }
}

/**
 * Latencies counted in 0.1 ms buckets up to 2 s (slower ones land in the last bucket).
 * Recording is O(1) and a percentile scans the buckets, so redrawing the live table
 * four times a second costs the same however many requests were sent: the demo's own
 * bookkeeping must not add latency to the requests it measures.
 */
export class LatencyHistogram {
  static readonly BUCKET_MS = 0.1;
  static readonly BUCKETS = 20_000;
  readonly #counts = new Uint32Array(LatencyHistogram.BUCKETS);
  /** How many latencies were recorded. */
  count = 0;

  /** Adds one latency, in ms. */
  record(ms: number): void {
    const bucket = Math.min(LatencyHistogram.BUCKETS - 1, Math.max(0, Math.floor(ms / LatencyHistogram.BUCKET_MS)));
    this.#counts[bucket]!++;
    this.count++;
  }

  /**
   * The nearest-rank percentile (`q` in 0..1), as the upper edge of its bucket (so
   * within 0.1 ms); NaN when nothing was recorded.
   */
  percentile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let bucket = 0; bucket < LatencyHistogram.BUCKETS; bucket++) {
      seen += this.#counts[bucket]!;
      if (seen >= rank) return (bucket + 1) * LatencyHistogram.BUCKET_MS;
    }
    return LatencyHistogram.BUCKETS * LatencyHistogram.BUCKET_MS;
  }
}
