import type { Dispatcher } from 'undici';
import { OverloadError } from '../core/errors.js';
import { failDispatch, ForwardingHandler } from '../core/forwarding-handler.js';
import { layer, type Layer } from '../core/layer.js';
import type { MeshService } from '../mesh/mesh-service.js';
import type { ServiceTarget } from '../mesh/types.js';
import { overflowReason } from './connection-pool.js';

type Controller = Dispatcher.DispatchController;

/** Counts a request in flight for its service until it ends. */
class InFlightCounter extends ForwardingHandler {
  readonly #service: MeshService;
  #done = false;

  constructor(next: Dispatcher.DispatchHandler, service: MeshService) {
    super(next);
    this.#service = service;
    service.activeRequests++;
  }

  override onResponseEnd(controller: Controller, trailers: Parameters<ForwardingHandler['onResponseEnd']>[1]): void {
    this.release();
    super.onResponseEnd(controller, trailers);
  }

  override onResponseError(controller: Controller, error: Error): void {
    this.release();
    super.onResponseError(controller, error);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onRequestUpgrade']>[2], socket: Parameters<ForwardingHandler['onRequestUpgrade']>[3]): void {
    this.release();
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  /** Ends the count (also when a layer below threw before the request started). */
  release(): void {
    if (this.#done) return;
    this.#done = true;
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
