import type { Dispatcher } from 'undici';
import { InvalidOptionError } from '../core/errors/index.js';
import { layer, type Layer } from '../core/layer.js';
import { stateKey, type ServiceTarget } from '../core/target.js';

/** What the balance layer sends requests through: the service's endpoint picker (see {@link ENDPOINT_PICKER}). */
export interface EndpointPicker {
  /**
   * Picks one endpoint with the service's balancer and sends the request down that
   * endpoint's stack (waiting for discovery, bounded, when the service has none yet).
   */
  dispatchToEndpoint(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
}

/** The slot of a {@link ServiceTarget} holding its {@link EndpointPicker}. */
export const ENDPOINT_PICKER = stateKey<EndpointPicker>('balance');

/**
 * The terminal service-stack layer with role `balance`: picks one endpoint with the
 * service's balancer and sends the request down that endpoint's stack. With no endpoint
 * available it waits for discovery (bounded by `discoveryTimeout`). The picker is the
 * target's {@link ENDPOINT_PICKER} slot; a target without one cannot be balanced, and
 * building the layer for it throws {@link InvalidOptionError}.
 */
export function balanceLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('balance', (_next, target) => {
    const picker = target.state?.(ENDPOINT_PICKER);
    if (picker === undefined) {
      throw new InvalidOptionError('balanceLayer', [
        `target: service "${target.name.host}" has no endpoint picker (expected: a target whose state(ENDPOINT_PICKER) picks endpoints, such as the mesh's services)`,
      ]);
    }
    return (opts, handler) => picker.dispatchToEndpoint(opts, handler);
  });
}
