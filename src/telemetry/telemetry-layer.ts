/**
 * The endpoint-stack layer with role `telemetry`, outermost at each endpoint: every try
 * of a call (the first, each retry, each hedge, a mirror's) passes here once the
 * balancer picked its endpoint, and gets its CLIENT span, its trace context on the wire
 * and its metrics (see attempt-telemetry.ts). Calls without telemetry (nothing
 * registered, or telemetry off) pass straight through.
 */
import { layer, type Layer } from '../core/layer.js';
import type { EndpointTarget } from '../core/target.js';
import { sendAttempt, type AttemptEndpoint } from './attempt-telemetry.js';
import { callTelemetryOf } from './call-hooks.js';

/** See the module's notes. */
export function telemetryLayer(): Layer<EndpointTarget> {
  return layer<EndpointTarget>('telemetry', (next, target) => {
    // EndpointState carries `ejected` too: a try's span notes an ejection while it ran.
    const endpoint = target as EndpointTarget & AttemptEndpoint;
    return (opts, handler) => {
      const call = callTelemetryOf(opts);
      return call === undefined ? next(opts, handler) : sendAttempt(call, endpoint, opts, handler, next);
    };
  });
}
