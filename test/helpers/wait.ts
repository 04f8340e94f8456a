// Waiting in tests without guessing: a condition is checked again each time something
// that can change it happens (an answer arrives, a server counts a request, an event
// fires), never on a timer. The only timers here are guards that turn a hang into a
// failure naming what was awaited; they fire only when the test fails anyway.

/** A guard long enough never to fire on a healthy (if slow and shared) machine. */
const GUARD_MS = 20_000;

/**
 * A condition re-checked on every {@link Progress.notify} call. The code under observation
 * (a traffic worker, a listener, a server handler) calls `notify()` whenever the state it
 * owns changed; a test awaits `until(check)`.
 */
export class Progress {
  readonly #waiters = new Set<() => void>();

  /** Something changed: re-checks every pending condition. */
  notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolves once `check()` holds (checked now and on every notify); rejects after the guard naming `what`. */
  until(what: string, check: () => boolean, guardMs = GUARD_MS): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        if (!check()) return;
        this.#waiters.delete(waiter);
        clearTimeout(guard);
        resolve();
      };
      const guard = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`still waiting for ${what} after ${guardMs} ms`));
      }, guardMs);
      this.#waiters.add(waiter);
    });
  }
}

/** Resolves with the arguments of the next `event` that `accept` takes (all by default); rejects after the guard. */
export function nextEvent<Args extends unknown[] = unknown[]>(
  emitter: { on(event: string, listener: (...args: never[]) => void): unknown; off(event: string, listener: (...args: never[]) => void): unknown },
  event: string,
  accept: (...args: Args) => boolean = () => true,
  guardMs = GUARD_MS,
): Promise<Args> {
  return new Promise((resolve, reject) => {
    const listener = (...args: Args): void => {
      if (!accept(...args)) return;
      emitter.off(event, listener as never);
      clearTimeout(guard);
      resolve(args);
    };
    const guard = setTimeout(() => {
      emitter.off(event, listener as never);
      reject(new Error(`no ${event} event within ${guardMs} ms`));
    }, guardMs);
    emitter.on(event, listener as never);
  });
}
