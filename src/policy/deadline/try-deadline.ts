import type { Dispatcher } from 'undici';
import { replaceHeaders } from '../../core/headers.js';
import { DEADLINE_HEADER } from './deadline.js';

/**
 * When the call's time is up (`performance.now()` ms): set on the options by the timeout
 * layer (the route timeout or the request's deadline, the earlier), read by the layers
 * below that send tries (a symbol key: undici ignores it, a spread keeps it).
 */
export const kCallEnds = Symbol.for('proxyless.callEnds');

/** Options that may carry {@link kCallEnds}. */
export type CallEndsOptions = Dispatcher.DispatchOptions & { [kCallEnds]?: number };

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
 */
export function tryDeadlineHeaders(opts: CallEndsOptions, perTryMs: number | undefined, first: boolean): Dispatcher.DispatchOptions['headers'] {
  const ends = opts[kCallEnds];
  if (perTryMs === undefined && (first || ends === undefined)) return opts.headers;
  const left = ends === undefined ? Infinity : ends - performance.now();
  const perTry = perTryMs ?? Infinity;
  // Envoy ignores a per-try timeout not below the call's: the first try goes with the call's time as written.
  if (first && perTry >= left) return opts.headers;
  const ms = Math.max(1, Math.floor(Math.min(perTry, left)));
  return replaceHeaders(opts.headers, { [DEADLINE_HEADER]: String(ms) });
}
