import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidOptionError } from '../../core/errors/index.js';

/**
 * The header that carries a request's remaining time to the callee, in milliseconds, as
 * Envoy's `x-envoy-expected-rq-timeout-ms`: a server (or its sidecar) can stop work the
 * caller will no longer wait for, and pass the rest on.
 */
export const DEADLINE_HEADER = 'x-envoy-expected-rq-timeout-ms';

/**
 * The longest deadline kept, in ms from now: 2^31-1, the longest timer Node.js runs (a
 * longer one fires at once, which would turn a far deadline into an immediate timeout).
 * A deadline further away is clamped to it.
 */
export const MAX_DEADLINE_MS = 2 ** 31 - 1;

const store = new AsyncLocalStorage<number | undefined>();

/**
 * Runs `fn` with a deadline: every mesh call made inside it (awaited or not) gets at most
 * the time left, and fails at once when none is left. Nested deadlines keep the earlier
 * one. Server adapters call this with the deadline a request arrived with.
 *
 * ```ts
 * await withDeadline(2000, () => handleOrder(req)); // every mesh call inside: 2 s in all
 * ```
 *
 * A deadline further than {@link MAX_DEADLINE_MS} away is clamped to it; `NaN`, an
 * invalid `Date` or a non-number throw `InvalidOptionError`.
 *
 * @param deadline milliseconds from now, or an absolute `Date`
 */
export function withDeadline<T>(deadline: number | Date, fn: () => T): T {
  const at = absoluteDeadline(deadline, Date.now());
  const outer = store.getStore();
  return store.run(outer !== undefined && outer < at ? outer : at, fn);
}

/**
 * Runs `fn` with exactly this deadline (epoch ms), or with none when `at` is undefined,
 * whatever deadline is in force around the call. For the server side: a request's
 * deadline comes from its own caller, not from whatever context accepted the connection.
 *
 * @internal
 */
export function runWithDeadline<T>(at: number | undefined, fn: () => T): T {
  // Nothing to set and nothing to clear: no context switch (the common case on a server).
  if (at === undefined && store.getStore() === undefined) return fn();
  return store.run(at, fn);
}

/** The deadline in force here (epoch ms), if any. */
export function currentDeadline(): number | undefined {
  return store.getStore();
}

/**
 * The deadline a server request arrived with, from {@link DEADLINE_HEADER}: epoch ms,
 * or undefined when the header is absent or not a whole number of milliseconds. A value
 * beyond {@link MAX_DEADLINE_MS} is clamped to it.
 */
export function deadlineFromHeader(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (!/^\d+$/.test(text)) return undefined;
  // More than 10 digits is more than MAX_DEADLINE_MS whatever they say (and Number() of
  // a long run of digits is Infinity).
  return now + (text.length > 10 ? MAX_DEADLINE_MS : Math.min(Number(text), MAX_DEADLINE_MS));
}

function absoluteDeadline(deadline: number | Date, now: number): number {
  const at = typeof deadline === 'number' ? now + deadline : deadline instanceof Date ? deadline.getTime() : Number.NaN;
  if (Number.isNaN(at)) {
    throw new InvalidOptionError('withDeadline', [
      `deadline: ${deadline instanceof Date ? 'an invalid Date' : String(deadline)} (expected: milliseconds from now, or a valid Date)`,
    ]);
  }
  return Math.min(at, now + MAX_DEADLINE_MS);
}
