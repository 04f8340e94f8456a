// What the circuit-breaker part of the resilience phase measured: per period (a new one
// starts at each breaker event and when the replica starts or stops failing), what the
// callers got: answers (200 or 500), refusals by the open breaker, other errors. A
// request counts for the period in which it was sent. (The kill part counts requests
// per replica and period with DiscoveryStats, from discovery-stats.ts.)
import type { BreakerState } from 'proxyless';
import { LatencyHistogram } from './stats.js';

/** What started a period. */
export type BreakerCause = 'start' | 'fails' | 'recovers' | 'circuitOpen' | 'circuitHalfOpen' | 'circuitClose';

/** One period of the breaker part, as the table shows it. */
export interface BreakerPeriod {
  readonly cause: BreakerCause;
  /** When it started, in seconds since the traffic started. */
  readonly atSeconds: number;
  /** The breaker's state during it. */
  readonly breaker: BreakerState;
  /** Whether the replica answered 500 during it. */
  readonly failing: boolean;
  /** Requests sent to the replica that got 200, and that got 500. */
  readonly ok: number;
  readonly failed5xx: number;
  /** Requests the breaker refused at once (CircuitOpenError), never sent. */
  readonly refused: number;
  /** Any other error. */
  readonly errors: number;
}

/** The breaker part as the table shows it, at one moment. */
export interface BreakerCounts {
  /** `running`, `done`, or `interrupted` (Ctrl-C). */
  readonly state: 'running' | 'done' | 'interrupted';
  readonly elapsedSeconds: number;
  readonly plannedSeconds: number;
  readonly periods: readonly BreakerPeriod[];
  /** Sums over the periods. */
  readonly ok: number;
  readonly failed5xx: number;
  readonly refused: number;
  readonly errors: number;
  /** Median time to the response headers of a sent request, and to the error of a refused one, in ms. */
  readonly sentP50: number;
  readonly refusedP50: number;
  /** The first other error's message, to show what went wrong. */
  readonly firstError: string | undefined;
}

interface MutablePeriod {
  cause: BreakerCause;
  startedAt: number;
  breaker: BreakerState;
  failing: boolean;
  ok: number;
  failed5xx: number;
  refused: number;
  errors: number;
}

/** Collects the breaker part's measurements. */
export class BreakerStats {
  readonly plannedSeconds: number;
  readonly #periods: MutablePeriod[] = [];
  readonly #sent = new LatencyHistogram();
  readonly #refused = new LatencyHistogram();
  #firstError: string | undefined;
  readonly #startedAt = performance.now();
  #endedAt: number | undefined;

  constructor(plannedSeconds: number, breaker: BreakerState, failing: boolean) {
    this.plannedSeconds = plannedSeconds;
    this.#periods.push({ cause: 'start', startedAt: this.#startedAt, breaker, failing, ok: 0, failed5xx: 0, refused: 0, errors: 0 });
  }

  /** Seconds since the traffic started (or until it ended). */
  get elapsedSeconds(): number {
    return ((this.#endedAt ?? performance.now()) - this.#startedAt) / 1000;
  }

  /** `performance.now()` as seconds since the start. */
  secondsAt(time: number): number {
    return (time - this.#startedAt) / 1000;
  }

  /** The breaker's state and the replica's, as of the latest period. */
  get current(): { readonly breaker: BreakerState; readonly failing: boolean } {
    return this.#periods.at(-1)!;
  }

  /** A new period starts now: `cause` happened; the breaker and the replica are as given (unchanged when left out). */
  startPeriod(cause: BreakerCause, change: { breaker?: BreakerState; failing?: boolean } = {}): number {
    const last = this.#periods.at(-1)!;
    const startedAt = performance.now();
    this.#periods.push({
      cause,
      startedAt,
      breaker: change.breaker ?? last.breaker,
      failing: change.failing ?? last.failing,
      ok: 0,
      failed5xx: 0,
      refused: 0,
      errors: 0,
    });
    return startedAt;
  }

  /** A request sent at `sentAt` (performance.now()) got `status` after `ms`. */
  answered(status: number, sentAt: number, ms: number): void {
    const period = this.#periodAt(sentAt);
    if (status === 200) period.ok++;
    else if (status >= 500) period.failed5xx++;
    else return this.failed(new Error(`HTTP ${status}`), sentAt);
    this.#sent.record(ms);
  }

  /** The breaker refused a request sent at `sentAt`, after `ms`. */
  refused(sentAt: number, ms: number): void {
    this.#periodAt(sentAt).refused++;
    this.#refused.record(ms);
  }

  /** A request sent at `sentAt` failed otherwise. */
  failed(error: unknown, sentAt: number): void {
    this.#periodAt(sentAt).errors++;
    this.#firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }

  /** Marks the end of traffic: elapsed time stops here. */
  end(): void {
    this.#endedAt ??= performance.now();
  }

  /** The numbers as of now. */
  report(state: BreakerCounts['state']): BreakerCounts {
    const periods = this.#periods.map(
      (p): BreakerPeriod => ({
        cause: p.cause,
        atSeconds: this.secondsAt(p.startedAt),
        breaker: p.breaker,
        failing: p.failing,
        ok: p.ok,
        failed5xx: p.failed5xx,
        refused: p.refused,
        errors: p.errors,
      }),
    );
    const sum = (field: 'ok' | 'failed5xx' | 'refused' | 'errors'): number => periods.reduce((total, p) => total + p[field], 0);
    return {
      state,
      elapsedSeconds: this.elapsedSeconds,
      plannedSeconds: this.plannedSeconds,
      periods,
      ok: sum('ok'),
      failed5xx: sum('failed5xx'),
      refused: sum('refused'),
      errors: sum('errors'),
      sentP50: this.#sent.percentile(0.5),
      refusedP50: this.#refused.percentile(0.5),
      firstError: this.#firstError,
    };
  }

  /** The period in force at `time`: the last one started by then. */
  #periodAt(time: number): MutablePeriod {
    for (let i = this.#periods.length - 1; i >= 0; i--) if (this.#periods[i]!.startedAt <= time) return this.#periods[i]!;
    return this.#periods[0]!;
  }
}
