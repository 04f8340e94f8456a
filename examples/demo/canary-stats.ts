// What the canary phase measured: requests per version (v1, v2) for each config version
// the mesh had in force, and the requests that failed. A request counts for the config
// in force when it was sent, so answers still arriving from before an edit do not blur
// the split after it.
import type { Replica } from './backends.js';
import type { LoadRecorder } from './load.js';

/** One config version in force during the phase, as the table shows it. */
export interface CanaryStep {
  /** 1 for the config the mesh was created with, then 2, 3, … per `configApplied`. */
  readonly number: number;
  /** What put it in force: `createMesh` or `configApplied`. */
  readonly cause: string;
  /** When, in seconds since the phase started. */
  readonly atSeconds: number;
  /** The route's share per subset, in percent, as `mesh.explain` reports it (undefined until known). */
  readonly split: Readonly<Record<string, number>> | undefined;
  /** Requests sent while it was in force that were answered. */
  readonly requests: number;
  /** Answered requests per version label. */
  readonly byVersion: Readonly<Record<string, number>>;
  /** Requests that failed while it was in force. */
  readonly failed: number;
}

/** The canary phase as the table shows it, at one moment. */
export interface CanaryReport {
  /** `running`, `done`, or `interrupted` (Ctrl-C). */
  readonly state: 'running' | 'done' | 'interrupted';
  readonly elapsedSeconds: number;
  readonly plannedSeconds: number;
  /** The version labels, in order (`v1`, `v2`). */
  readonly versions: readonly string[];
  readonly steps: readonly CanaryStep[];
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly failed: number;
  /** The first failure's message, to show what went wrong. */
  readonly firstError: string | undefined;
}

interface MutableStep {
  cause: string;
  /** performance.now() when it came into force. */
  startedAt: number;
  split: Record<string, number> | undefined;
  byVersion: Map<string, number>;
  failed: number;
}

/** Collects the canary phase's measurements. */
export class CanaryStats implements LoadRecorder {
  readonly plannedSeconds: number;
  readonly #versionOf = new Map<string, string>();
  readonly #versions: string[];
  readonly #steps: MutableStep[] = [];
  #failed = 0;
  #firstError: string | undefined;
  readonly #startedAt = performance.now();
  #endedAt: number | undefined;

  /** @param replicas every replica the mesh may pick, with its version label */
  constructor(plannedSeconds: number, replicas: readonly Replica[]) {
    this.plannedSeconds = plannedSeconds;
    for (const replica of replicas) this.#versionOf.set(replica.id, replica.version);
    this.#versions = [...new Set(this.#versionOf.values())].sort();
  }

  /** A new config is in force from now on; returns its number (1, 2, …). */
  startStep(cause: string): number {
    this.#steps.push({ cause, startedAt: performance.now(), split: undefined, byVersion: new Map(), failed: 0 });
    return this.#steps.length;
  }

  /** Sets the split of step `number` once `mesh.explain` has told it. */
  setSplit(number: number, split: Record<string, number>): void {
    this.#steps[number - 1]!.split = split;
  }

  /** Seconds since the phase started. */
  get elapsedSeconds(): number {
    return ((this.#endedAt ?? performance.now()) - this.#startedAt) / 1000;
  }

  /** A request answered by `replicaId` after `ms`: it counts for the config in force when it was sent. */
  record(replicaId: string | undefined, ms: number): void {
    const version = replicaId === undefined ? undefined : this.#versionOf.get(replicaId);
    if (version === undefined) return this.recordError(new Error(`answer from an unknown replica: ${String(replicaId)}`));
    const step = this.#stepAt(performance.now() - ms);
    if (step) step.byVersion.set(version, (step.byVersion.get(version) ?? 0) + 1);
  }

  /** A request that failed: it counts for the config in force now. */
  recordError(error: unknown): void {
    const step = this.#stepAt(performance.now());
    if (step) step.failed++;
    this.#failed++;
    this.#firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }

  /** Marks the end of traffic: elapsed time stops here. */
  end(): void {
    this.#endedAt ??= performance.now();
  }

  /** The numbers as of now. */
  report(state: CanaryReport['state']): CanaryReport {
    const steps = this.#steps.map((step, i): CanaryStep => {
      const byVersion = Object.fromEntries(this.#versions.map((v) => [v, step.byVersion.get(v) ?? 0]));
      return {
        number: i + 1,
        cause: step.cause,
        atSeconds: (step.startedAt - this.#startedAt) / 1000,
        split: step.split,
        requests: Object.values(byVersion).reduce((a, b) => a + b, 0),
        byVersion,
        failed: step.failed,
      };
    });
    const requests = steps.reduce((sum, s) => sum + s.requests, 0);
    const elapsedSeconds = this.elapsedSeconds;
    return {
      state,
      elapsedSeconds,
      plannedSeconds: this.plannedSeconds,
      versions: this.#versions,
      steps,
      requests,
      requestsPerSecond: elapsedSeconds > 0 ? requests / elapsedSeconds : 0,
      failed: this.#failed,
      firstError: this.#firstError,
    };
  }

  /** The step in force at `time` (a performance.now() value): the last one started by then. */
  #stepAt(time: number): MutableStep | undefined {
    for (let i = this.#steps.length - 1; i >= 0; i--) if (this.#steps[i]!.startedAt <= time) return this.#steps[i];
    return this.#steps[0];
  }
}
