/**
 * The telemetry side of the call hooks (`src/core/call-hooks.ts`): the same options key,
 * read as the full {@link CallTelemetry} the dispatcher and the telemetry layer use.
 */
import type { Dispatcher } from 'undici';
import { kCallTelemetry } from '../core/call-hooks.js';
import type { CallTelemetry } from './call-telemetry.js';

export { kCallTelemetry } from '../core/call-hooks.js';
export type { RetryStop } from '../core/call-hooks.js';

/** The telemetry of the call these options belong to, if telemetry is live. */
export function callTelemetryOf(opts: Dispatcher.DispatchOptions): CallTelemetry | undefined {
  return (opts as { [kCallTelemetry]?: CallTelemetry })[kCallTelemetry];
}
