/**
 * How the layers reach the telemetry of the call they serve: a symbol key on the request
 * options (invisible to undici; kept by the `{ ...opts }` copies every layer makes), set
 * by the dispatcher when telemetry is live. Each hook is one property read when telemetry
 * is off, so the layers call them unconditionally:
 *
 * ```ts
 * callTelemetryOf(opts)?.retryScheduled(2, '503', 25);
 * ```
 */
import type { Dispatcher } from 'undici';
import type { CallTelemetry } from './call-telemetry.js';

/** The options key of a call's {@link CallTelemetry}. */
export const kCallTelemetry = Symbol.for('proxyless.callTelemetry');

/** The telemetry of the call these options belong to, if telemetry is live. */
export function callTelemetryOf(opts: Dispatcher.DispatchOptions): CallTelemetry | undefined {
  return (opts as { [kCallTelemetry]?: CallTelemetry })[kCallTelemetry];
}

/** Why a call's last failed try was not retried, as the retry layer decided it. */
export type RetryStop = 'attempts' | 'budget' | 'not_retryable';
