/**
 * How the layers tell the telemetry of the call they serve what only they know (a route
 * chosen, a retry scheduled, a hedge fired, a breaker refusal), without importing
 * telemetry: the contract lives here in core, the telemetry module implements it
 * (`src/telemetry/call-telemetry.ts`) and the dispatcher puts it on the request options
 * under a symbol key (invisible to undici; kept by the `{ ...opts }` copies every layer
 * makes). Each hook is one property read when telemetry is off, so layers call them
 * unconditionally:
 *
 * ```ts
 * callHooksOf(opts)?.retryScheduled(2, '503', 25);
 * ```
 */
import type { Dispatcher } from 'undici';

/** The options key of a call's {@link CallHooks}. */
export const kCallTelemetry = Symbol.for('proxyless.callTelemetry');

/** Why a call's last failed try was not retried, as the retry layer decided it. */
export type RetryStop = 'attempts' | 'budget' | 'not_retryable';

/** What the layers report about a call, implemented by the call's telemetry. */
export interface CallHooks {
  /** The router picked a route. */
  routed(virtualService: string, routeName: string, label: string): void;
  /** A fault was injected. */
  fault(kind: 'delay' | 'abort'): void;
  /** No route matched. */
  noRoute(): void;
  /** A retry was scheduled: its try number, why, and the backoff before it. */
  retryScheduled(attempt: number, reason: string, backoffMs: number): void;
  /** The last failed try was not retried, and why. */
  retryStopped(reason: RetryStop): void;
  /** A hedge was sent this long after the call started. */
  hedgeFired(afterMs: number): void;
  /** A hedge (not the first try) answered first. */
  hedgeWon(): void;
  /** The circuit breaker refused the call. */
  breakerRefused(): void;
}

/** The hooks of the call these options belong to, if telemetry is live. */
export function callHooksOf(opts: Dispatcher.DispatchOptions): CallHooks | undefined {
  return (opts as { [kCallTelemetry]?: CallHooks })[kCallTelemetry];
}
