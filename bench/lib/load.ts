import { LatencyRecorder, type LatencySummary } from './latency.js';

/** What {@link runLoad} runs: `concurrency` workers, each sending one request at a time. */
export interface LoadOptions {
  /** Workers sending requests back to back (closed loop). */
  readonly concurrency: number;
  /** Stop starting requests after this many milliseconds. */
  readonly durationMs?: number;
  /** Stop starting requests after this many have been started. */
  readonly requests?: number;
  /**
   * Hard bound on the whole run, in ms (default: `durationMs` + 10 s, or 60 s for a
   * count-bounded run). Past it the run fails instead of waiting for hung requests.
   */
  readonly maxDurationMs?: number;
  /** Sends one request and resolves once its response body is consumed; a rejection counts as an error. */
  readonly send: () => Promise<unknown>;
}

/** What one load run measured. */
export interface LoadResult {
  /** Requests that completed without error. */
  readonly completed: number;
  /** Requests whose `send` rejected. */
  readonly errors: number;
  /** The first error seen, if any. */
  readonly firstError: string | undefined;
  /** Wall time from the first request to the last response, in ms. */
  readonly elapsedMs: number;
  /** Completed requests per second. */
  readonly throughput: number;
  /** Latency of completed requests, in µs. */
  readonly latency: LatencySummary;
}

/** Stop early when this many errors happened and they are at least half of the requests. */
const MAX_ERRORS = 100;

/**
 * The shared load generator: `concurrency` closed-loop workers, bounded by a duration, a
 * request count, or both (whichever comes first), and always by `maxDurationMs`.
 * Latency is measured around `send` with `performance.now()`, so every variant pays the
 * same measuring cost.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { concurrency, durationMs, requests, send } = options;
  if (durationMs === undefined && requests === undefined) throw new Error('runLoad: give durationMs, requests or both');
  const maxDurationMs = options.maxDurationMs ?? (durationMs !== undefined ? durationMs + 10_000 : 60_000);
  const recorder = new LatencyRecorder();
  const started = performance.now();
  const deadline = durationMs !== undefined ? started + durationMs : Infinity;
  const limit = requests ?? Infinity;
  let issued = 0;
  let errors = 0;
  let firstError: string | undefined;
  let stop = false;

  const worker = async (): Promise<void> => {
    while (!stop && issued < limit && performance.now() < deadline) {
      issued++;
      const t0 = performance.now();
      try {
        await send();
        recorder.record((performance.now() - t0) * 1000);
      } catch (error) {
        errors++;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        if (errors >= MAX_ERRORS && errors * 2 >= issued) stop = true;
      }
    }
  };

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), maxDurationMs);
  });
  const workers = Promise.all(Array.from({ length: concurrency }, worker));
  const outcome = await Promise.race([workers, timedOut]);
  clearTimeout(timer);
  stop = true;
  if (outcome === 'timeout') {
    throw new Error(`runLoad: not finished after ${maxDurationMs} ms (${recorder.count} requests done, ${errors} errors)`);
  }
  const elapsedMs = performance.now() - started;
  return {
    completed: recorder.count,
    errors,
    firstError,
    elapsedMs,
    throughput: (recorder.count * 1000) / elapsedMs,
    latency: recorder.summary(),
  };
}

/** What {@link runAlternating} runs: one request at a time, alternating between two senders. */
export interface AlternatingOptions {
  /** Stop after this many milliseconds. */
  readonly durationMs: number;
  /** The two senders; each iteration sends with both, in ABBA order across iterations. */
  readonly sends: readonly [() => Promise<unknown>, () => Promise<unknown>];
}

/**
 * Concurrency 1 with the two variants interleaved request by request (A B, B A, A B, …),
 * so both see the same machine at the same moment: on a shared, noisy machine this
 * compares latencies far more tightly than separate runs. One result per sender.
 * Bounded by `durationMs` (each request also by the hard bound of {@link runLoad}).
 */
export async function runAlternating(options: AlternatingOptions): Promise<[LoadResult, LoadResult]> {
  const recorders = [new LatencyRecorder(), new LatencyRecorder()] as const;
  const errors = [0, 0];
  const firstErrors: Array<string | undefined> = [undefined, undefined];
  const started = performance.now();
  const deadline = started + options.durationMs;
  // One timer for the whole run: a request still pending 10 s after the end fails it.
  let timer: NodeJS.Timeout | undefined;
  const hardStop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('runAlternating: a request hung past the hard deadline')), options.durationMs + 10_000);
  });
  hardStop.catch(() => undefined);
  try {
    for (let turn = 0; performance.now() < deadline; turn++) {
      const first = turn % 2;
      for (const which of [first, 1 - first] as const) {
        const t0 = performance.now();
        try {
          await Promise.race([options.sends[which]!(), hardStop]);
          recorders[which]!.record((performance.now() - t0) * 1000);
        } catch (error) {
          errors[which]!++;
          firstErrors[which] ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          if (errors[which]! >= MAX_ERRORS) throw new Error(`runAlternating: ${MAX_ERRORS} errors; first: ${firstErrors[which]}`);
        }
      }
    }
  } finally {
    clearTimeout(timer);
  }
  const elapsedMs = performance.now() - started;
  const resultOf = (i: 0 | 1): LoadResult => ({
    completed: recorders[i].count,
    errors: errors[i]!,
    firstError: firstErrors[i],
    elapsedMs,
    // Each variant had about half of the wall time.
    throughput: (recorders[i].count * 2000) / elapsedMs,
    latency: recorders[i].summary(),
  });
  return [resultOf(0), resultOf(1)];
}

/** Throws when a load run had errors: a benchmark of failing requests measures nothing. */
export function assertNoErrors(label: string, result: LoadResult): void {
  if (result.errors > 0) {
    throw new Error(`${label}: ${result.errors} of ${result.completed + result.errors} requests failed; first: ${result.firstError}`);
  }
}
