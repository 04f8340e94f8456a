import { layer, type Layer } from '../core/layer.js';
import type { MeshService } from '../mesh/mesh-service.js';
import type { ServiceTarget } from '../mesh/types.js';

/**
 * The terminal service-stack layer with role `balance`: picks one endpoint with the
 * service's balancer and sends the request down that endpoint's stack. With no endpoint
 * available it waits for discovery (bounded by `discoveryTimeout`).
 */
export function balanceLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('balance', (_next, target) => {
    const service = target as MeshService;
    return (opts, handler) => service.dispatchToEndpoint(opts, handler);
  });
}
