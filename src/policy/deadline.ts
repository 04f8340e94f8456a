import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The header that carries a request's remaining time to the callee, in milliseconds, as
 * Envoy's `x-envoy-expected-rq-timeout-ms`: a server (or its sidecar) can stop work the
 * caller will no longer wait for, and pass the rest on.
 */
export const DEADLINE_HEADER = 'x-envoy-expected-rq-timeout-ms';

const store = new AsyncLocalStorage<number>();

/**
 * Runs `fn` with a deadline: every mesh call made inside it (awaited or not) gets at most
 * the time left, and fails at once when none is left. Nested deadlines keep the earlier
 * one. Server adapters call this with the deadline a request arrived with.
 *
 * ```ts
 * await withDeadline(2000, () => handleOrder(req)); // every mesh call inside: 2 s in all
 * ```
 *
 * @param deadline milliseconds from now, or an absolute `Date`
 */
export function withDeadline<T>(deadline: number | Date, fn: () => T): T {
  const at = typeof deadline === 'number' ? Date.now() + deadline : deadline.getTime();
  const outer = store.getStore();
  return store.run(outer !== undefined && outer < at ? outer : at, fn);
}

/** The deadline in force here (epoch ms), if any. */
export function currentDeadline(): number | undefined {
  return store.getStore();
}

/**
 * The deadline a server request arrived with, from {@link DEADLINE_HEADER}: epoch ms,
 * or undefined when the header is absent or not a number.
 */
export function deadlineFromHeader(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return now + Number(raw.trim());
}
