import type { Dispatcher } from 'undici';
import { replaceHeaders } from '../../core/headers.js';
import { DEADLINE_HEADER } from './deadline.js';

/**
 * When the call's time is up (`performance.now()` ms): set on the options by the timeout
 * layer (the route timeout or the request's deadline, the earlier), read by the layers
 * below that send tries (a symbol key: undici ignores it, a spread keeps it).
 */
export const kCallEnds = Symbol.for('proxyless.callEnds');

/**
 * When the time the mesh wrote in this request's `x-envoy-expected-rq-timeout-ms` runs
 * out (`performance.now()` ms): set with the header by the timeout layer and by the
 * retry layer for each try, absent when the header (if any) is the caller's own. A layer
 * that sends the same try again later (a hedged backup) writes the time left then
 * ({@link deadlineHeadersNow}), as Envoy's router writes the header for each upstream
 * request with the time elapsed.
 */
export const kDeadlineEnds = Symbol.for('proxyless.deadlineEnds');

/** Options that may carry {@link kCallEnds} and {@link kDeadlineEnds}. */
export type CallEndsOptions = Dispatcher.DispatchOptions & { [kCallEnds]?: number; [kDeadlineEnds]?: number };

/** Options whose deadline header says `ms` from now, marked as the mesh's ({@link kDeadlineEnds}). */
export function withDeadlineHeader<T extends Dispatcher.DispatchOptions>(opts: T, ms: number): T {
  const whole = Math.max(1, Math.floor(ms));
  return { ...opts, headers: replaceHeaders(opts.headers, { [DEADLINE_HEADER]: String(whole) }), [kDeadlineEnds]: performance.now() + whole };
}

/**
 * The options of a try sent again now (a hedged backup): the deadline header the mesh
 * wrote says the time left now (1 ms once none is left: 0 would say "no limit"); a
 * caller's own header, or none, is left as it is.
 */
export function deadlineHeadersNow<T extends Dispatcher.DispatchOptions>(opts: T): T {
  const ends = (opts as CallEndsOptions)[kDeadlineEnds];
  return ends === undefined ? opts : withDeadlineHeader(opts, ends - performance.now());
}

/**
 * The headers of a try of a retried call with the `x-envoy-expected-rq-timeout-ms` Envoy's
 * router writes for each try it sends (`FilterUtility::setTimeoutHeaders`, run again with
 * the time elapsed on each retry): the route's per-try timeout when it has one, else the
 * call's time; never more than the call's time left, and 1 ms once none is left (0 would
 * say "no limit"). The first try keeps the header the timeout layer wrote unless its own
 * timeout is shorter; without a per-try timeout or a call deadline the headers are left as
 * they are. A MESH_EXTERNAL service gets none of it (the caller checks that).
 *
 * @param opts the call's options (the timeout layer's, with {@link kCallEnds} when it set a time)
 * @param perTryMs the route's `perTryTimeout`, if any
 * @param first whether this is the call's first try
 * @returns the options, with the try's header (and {@link kDeadlineEnds}) when it has its own
 */
export function tryDeadlineHeaders<T extends CallEndsOptions>(opts: T, perTryMs: number | undefined, first: boolean): T {
  const ends = opts[kCallEnds];
  if (perTryMs === undefined && (first || ends === undefined)) return opts;
  const left = ends === undefined ? Infinity : ends - performance.now();
  const perTry = perTryMs ?? Infinity;
  // Envoy ignores a per-try timeout not below the call's: the first try goes with the call's time as written.
  if (first && perTry >= left) return opts;
  return withDeadlineHeader(opts, Math.min(perTry, left));
}
