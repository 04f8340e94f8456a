import { InvalidOptionError, MeshNotReadyError } from '../core/errors/index.js';

/** Options of `mesh.ready()`. */
export interface ReadyOptions {
  /** How long to wait, in ms; then `ready()` rejects with `MeshNotReadyError`. Default: the mesh's `discoveryTimeout`. */
  timeout?: number;
  /** Stops waiting: `ready()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Timeouts beyond this are clamped by Node's timers (to 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What can be waited for: a discovery or config source. */
interface ReadySource {
  readonly name: string;
  ready(): Promise<void>;
}

/**
 * Resolves once every source's `ready()` has; rejects with {@link MeshNotReadyError}
 * naming the sources still silent after the timeout, with the signal's reason when it
 * aborts, with a source's own rejection (e.g. `SourceClosedError`), or with
 * `InvalidOptionError` for bad options. Never hangs, and its timer never keeps a process
 * alive.
 */
export function waitForSources(sources: readonly ReadySource[], options: ReadyOptions, defaultTimeout: number): Promise<void> {
  const problems: string[] = [];
  if (options === null || typeof options !== 'object') {
    problems.push(`options: ${JSON.stringify(options)} (expected: an object such as { timeout: 5000 })`);
  } else {
    const { timeout, signal } = options;
    if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 0 || timeout > MAX_TIMER_MS)) {
      problems.push(`timeout: ${JSON.stringify(timeout)} (expected: a whole number of milliseconds from 0 to ${MAX_TIMER_MS})`);
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) problems.push(`signal: ${String(signal)} (expected: an AbortSignal)`);
  }
  if (problems.length > 0) return Promise.reject(new InvalidOptionError('mesh.ready', problems));
  const timeout = options.timeout ?? defaultTimeout;
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const pending = new Set(sources.map((s) => s.name));
  return new Promise<void>((resolve, reject) => {
    let left = sources.length;
    const finish = (error?: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error as Error);
    };
    const onAbort = (): void => finish(signal!.reason);
    const timer = setTimeout(() => finish(new MeshNotReadyError([...pending], timeout)), timeout);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (left === 0) finish();
    for (const source of sources) {
      let answer: Promise<void>;
      try {
        answer = Promise.resolve(source.ready());
      } catch (error) {
        answer = Promise.reject(error as Error);
      }
      answer.then(
        () => {
          pending.delete(source.name);
          if (--left === 0) finish();
        },
        (error: unknown) => finish(error ?? new Error(`${source.name}: ready() rejected`)),
      );
    }
  });
}
