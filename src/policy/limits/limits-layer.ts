import type { Dispatcher } from 'undici';
import { OverloadError } from '../../core/errors/index.js';
import { failDispatch } from '../../core/forwarding-handler.js';
import { ReleaseOnEndHandler } from '../../core/release-on-end-handler.js';
import { layer, type Layer } from '../../core/layer.js';
import type { ServiceTarget } from '../../core/target.js';
import { overflowReason } from './connection-pool.js';
import { LIMITS_STATE, type LimitsState } from './state.js';

/** Counts a request in flight for its service until it ends. */
class InFlightCounter extends ReleaseOnEndHandler {
  readonly #state: LimitsState;

  constructor(next: Dispatcher.DispatchHandler, state: LimitsState) {
    super(next);
    this.#state = state;
    state.activeRequests++;
  }

  protected override released(): void {
    this.#state.activeRequests--;
  }
}

/**
 * The service-stack layer with role `limits`: DestinationRule `connectionPool` overflow,
 * as Envoy's circuit-breaker thresholds. A request beyond `http2MaxRequests` in flight, or
 * beyond `http1MaxPendingRequests` waiting for a connection, fails at once with
 * {@link OverloadError} (503 semantics, code `PROXYLESS_ERR_OVERLOADED`): never an
 * unbounded queue or a hang. Without limits configured it adds nothing per request.
 * It reads the limits and counts requests in the target's {@link LIMITS_STATE} slot; a
 * target without one has no limits (the layer passes requests through).
 */
export function limitsLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('limits', (next, target) => {
    const state = target.state?.(LIMITS_STATE);
    if (state === undefined) return next;
    const host = target.name.host;
    return (opts, handler) => {
      const limits = state.limits;
      if (limits === undefined || (limits.maxRequests === undefined && limits.maxPendingRequests === undefined)) return next(opts, handler);
      const reason = overflowReason(limits, state.activeRequests, state.connectionCapacity());
      if (reason !== undefined) {
        const limit = reason === 'http2MaxRequests' ? limits.maxRequests! : limits.maxPendingRequests!;
        return failDispatch(handler, new OverloadError(host, reason, limit, state.activeRequests));
      }
      const counter = new InFlightCounter(handler, state);
      try {
        return next(opts, counter);
      } catch (error) {
        counter.release();
        throw error;
      }
    };
  });
}
