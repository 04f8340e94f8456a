/**
 * Finds timers left running: while tracking, every `setTimeout` and `setInterval` is
 * recorded with the stack that made it, and forgotten when it fires (a timeout) or is
 * cleared. Node lists no unref'd timer in `process.getActiveResourcesInfo()`, and
 * opossum's and the mesh's timers are all unref'd, so a test has to look for them
 * itself.
 */
export interface TimerTracker {
  /** The callers (`at ...` stack lines) of the timers still pending (not fired, not cleared) whose caller matches `origin`. */
  live(origin: RegExp): string[];
  /** Puts the global timer functions back. */
  restore(): void;
}

type AnyFn = (...args: unknown[]) => unknown;

/** Starts tracking timers made from now on (see {@link TimerTracker}). */
export function trackTimers(): TimerTracker {
  const pending = new Map<unknown, string>();
  const original = {
    setTimeout: globalThis.setTimeout,
    setInterval: globalThis.setInterval,
    clearTimeout: globalThis.clearTimeout,
    clearInterval: globalThis.clearInterval,
  };
  // Keyed by the handle object (the code under test never clears timers by numeric id).
  const forget = (handle: unknown): void => void pending.delete(handle);
  /** The first stack line outside this file: who asked for the timer. */
  const caller = (): string => {
    const lines = (new Error().stack ?? '').split('\n').slice(1);
    return lines.find((line) => !line.includes('timer-leaks.ts')) ?? '';
  };

  globalThis.setTimeout = ((callback: AnyFn, ms?: number, ...args: unknown[]) => {
    let handle: unknown;
    handle = original.setTimeout((...a: unknown[]) => {
      forget(handle);
      callback(...a);
    }, ms, ...args);
    pending.set(handle, caller());
    return handle;
  }) as unknown as typeof setTimeout;
  globalThis.setInterval = ((callback: AnyFn, ms?: number, ...args: unknown[]) => {
    const handle = original.setInterval(callback, ms, ...args);
    pending.set(handle, caller());
    return handle;
  }) as unknown as typeof setInterval;
  globalThis.clearTimeout = ((handle: unknown) => {
    forget(handle);
    original.clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  }) as typeof clearTimeout;
  globalThis.clearInterval = ((handle: unknown) => {
    forget(handle);
    original.clearInterval(handle as Parameters<typeof clearInterval>[0]);
  }) as typeof clearInterval;

  return {
    live: (origin) => [...pending.values()].filter((at) => origin.test(at)),
    restore() {
      Object.assign(globalThis, original);
    },
  };
}

/** Timers asked for by opossum or by this repository's sources (not undici's own shared timers). */
export const MESH_TIMERS = /node_modules\/opossum\/|\/src\/(policy|mesh|balance)\//;
