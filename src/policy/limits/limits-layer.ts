import type { Dispatcher } from 'undici';
import { OverloadError } from '../../core/errors.js';
import { failDispatch } from '../../core/forwarding-handler.js';
import { ReleaseOnEndHandler } from '../../core/release-on-end-handler.js';
import { layer, type Layer } from '../../core/layer.js';
import type { MeshService } from '../../mesh/mesh-service.js';
import type { ServiceTarget } from '../../mesh/types.js';
import { overflowReason } from './connection-pool.js';

/** Counts a request in flight for its service until it ends. */
class InFlightCounter extends ReleaseOnEndHandler {
  readonly #service: MeshService;

  constructor(next: Dispatcher.DispatchHandler, service: MeshService) {
    super(next);
    this.#service = service;
    service.activeRequests++;
  }

  protected override released(): void {
    this.#service.activeRequests--;
  }
}

/**
 * The service-stack layer with role `limits`: DestinationRule `connectionPool` overflow,
 * as Envoy's circuit-breaker thresholds. A request beyond `http2MaxRequests` in flight, or
 * beyond `http1MaxPendingRequests` waiting for a connection, fails at once with
 * {@link OverloadError} (503 semantics, code `PROXYLESS_ERR_OVERLOADED`): never an
 * unbounded queue or a hang. Without limits configured it adds nothing per request.
 */
export function limitsLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('limits', (next, target) => {
    const service = target as MeshService;
    return (opts, handler) => {
      const limits = service.limits;
      if (limits === undefined || (limits.maxRequests === undefined && limits.maxPendingRequests === undefined)) return next(opts, handler);
      const reason = overflowReason(limits, service.activeRequests, service.connectionCapacity());
      if (reason !== undefined) {
        const limit = reason === 'http2MaxRequests' ? limits.maxRequests! : limits.maxPendingRequests!;
        return failDispatch(handler, new OverloadError(service.name.host, reason, limit, service.activeRequests));
      }
      const counter = new InFlightCounter(handler, service);
      try {
        return next(opts, counter);
      } catch (error) {
        counter.release();
        throw error;
      }
    };
  });
}
