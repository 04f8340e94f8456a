import { layer, type Layer } from '../core/layer.js';
import type { EndpointState } from './endpoint-state.js';
import type { EndpointTarget } from './types.js';

/**
 * The terminal endpoint-stack layer with role `pool`: hands the request to the
 * endpoint's undici Pool (keep-alive connections, bounded by `endpointPool.connections`;
 * requests beyond that wait in the pool's queue). The pool ignores `opts.origin` and
 * connects to the endpoint; the `host` header keeps the logical authority.
 */
export function poolLayer(): Layer<EndpointTarget> {
  return layer<EndpointTarget>('pool', (_next, target) => {
    const pool = (target as EndpointState).openPool();
    return (opts, handler) => pool.dispatch(opts, handler);
  });
}
