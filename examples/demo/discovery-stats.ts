// What the discovery phase measured: requests per replica, split into periods by marks
// in time (for etcd: before a registration is closed, until the mesh drops it, after),
// and the requests that failed. A request counts for the period in which it was sent,
// so an answer still arriving from before a mark does not blur the period after it.
import type { Replica } from './backends.js';
import type { LoadRecorder } from './load.js';

/** The numbers as the tables show them, at one moment. */
export interface DiscoveryCounts {
  /** `running`, `done`, or `interrupted` (Ctrl-C). */
  readonly state: 'running' | 'done' | 'interrupted';
  readonly elapsedSeconds: number;
  readonly plannedSeconds: number;
  /** Per period (one more than the marks), answered requests per replica id. */
  readonly periods: ReadonlyArray<Readonly<Record<string, number>>>;
  /** Answered requests, all periods. */
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly failed: number;
  /** The first failure's message, to show what went wrong. */
  readonly firstError: string | undefined;
}

/** Collects one part of the discovery phase (DNS or etcd). */
export class DiscoveryStats implements LoadRecorder {
  readonly plannedSeconds: number;
  readonly #ids: readonly string[];
  /** performance.now() of each mark, in order. */
  readonly #marks: number[] = [];
  readonly #periods: Array<Map<string, number>> = [new Map()];
  #failed = 0;
  #firstError: string | undefined;
  readonly #startedAt = performance.now();
  #endedAt: number | undefined;

  /** @param replicas every replica the mesh may pick */
  constructor(plannedSeconds: number, replicas: readonly Replica[]) {
    this.plannedSeconds = plannedSeconds;
    this.#ids = replicas.map((r) => r.id);
  }

  /** Seconds since the part's traffic started (or until it ended). */
  get elapsedSeconds(): number {
    return ((this.#endedAt ?? performance.now()) - this.#startedAt) / 1000;
  }

  /** `performance.now()` as seconds since the start. */
  secondsAt(time: number): number {
    return (time - this.#startedAt) / 1000;
  }

  /** Starts a new period at `time` (a performance.now() value, default now); returns the time. */
  mark(time = performance.now()): number {
    this.#marks.push(time);
    this.#periods.push(new Map());
    return time;
  }

  /** A request answered by `replicaId` after `ms`: it counts for the period it was sent in. */
  record(replicaId: string | undefined, ms: number): void {
    if (replicaId === undefined || !this.#ids.includes(replicaId)) {
      return this.recordError(new Error(`answer from an unknown replica: ${String(replicaId)}`));
    }
    const sentAt = performance.now() - ms;
    let period = 0;
    while (period < this.#marks.length && this.#marks[period]! <= sentAt) period++;
    const counts = this.#periods[period]!;
    counts.set(replicaId, (counts.get(replicaId) ?? 0) + 1);
  }

  /** A request that failed. */
  recordError(error: unknown): void {
    this.#failed++;
    this.#firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }

  /** Marks the end of traffic: elapsed time stops here. */
  end(): void {
    this.#endedAt ??= performance.now();
  }

  /** The numbers as of now. */
  report(state: DiscoveryCounts['state']): DiscoveryCounts {
    const periods = this.#periods.map((counts) => Object.fromEntries(this.#ids.map((id) => [id, counts.get(id) ?? 0])));
    const requests = periods.reduce((sum, p) => sum + Object.values(p).reduce((a, b) => a + b, 0), 0);
    const elapsedSeconds = this.elapsedSeconds;
    return {
      state,
      elapsedSeconds,
      plannedSeconds: this.plannedSeconds,
      periods,
      requests,
      requestsPerSecond: elapsedSeconds > 0 ? requests / elapsedSeconds : 0,
      failed: this.#failed,
      firstError: this.#firstError,
    };
  }
}
