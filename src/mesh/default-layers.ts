/**
 * The layers of the mesh's two default stacks, one instance of each, by role. A layer
 * keeps no state of its own (each `wrap` makes the state of one service or endpoint), so
 * every mesh shares these, and an application that removed one in `stacks` can put the
 * very same layer back elsewhere:
 *
 * ```ts
 * createMesh({ stacks: { service: (s) => s.remove('hedge').insertAfter('breaker', serviceLayers.hedge) } });
 * ```
 *
 * @module
 */
import { balanceLayer } from '../balance/balance-layer.js';
import { loadLayer } from '../balance/load-layer.js';
import { Stack, type Layer } from '../core/layer.js';
import { breakerLayer } from '../policy/breaker/index.js';
import { hedgeLayer } from '../policy/hedge/index.js';
import { limitsLayer } from '../policy/limits/index.js';
import { outlierLayer } from '../policy/outlier/index.js';
import { retryLayer } from '../policy/retry/index.js';
import { timeoutLayer } from '../policy/timeout/index.js';
import type { EndpointState } from './endpoint-state.js';
import type { MeshService } from './mesh-service.js';
import { poolLayer } from './pool-layer.js';
import { telemetryLayer } from '../telemetry/telemetry-layer.js';
import type { EndpointTarget, MeshOptions, ServiceTarget } from './types.js';

/** The service stack's default layers, outermost first. */
export interface ServiceLayers {
  /** `timeout`: the route timeout and the request's deadline cover every try. */
  readonly timeout: Layer<ServiceTarget>;
  /** `retry`: each try goes down the rest of the stack, to another endpoint if possible. */
  readonly retry: Layer<ServiceTarget>;
  /** `hedge`: a slow try gets a backup on another endpoint (opt-in per VirtualService). */
  readonly hedge: Layer<ServiceTarget>;
  /** `breaker`: an open circuit refuses tries at once (opt-in per DestinationRule). */
  readonly breaker: Layer<ServiceTarget>;
  /** `limits`: connectionPool overflow fails fast, per try, before an endpoint is picked. */
  readonly limits: Layer<ServiceTarget>;
  /** `balance` (terminal): picks an endpoint and enters its stack. */
  readonly balance: Layer<ServiceTarget>;
}

/** The endpoint stack's default layers, outermost first. */
export interface EndpointLayers {
  /** `telemetry`: each try's CLIENT span, trace context on the wire and its duration (nothing when no SDK or subscriber listens). */
  readonly telemetry: Layer<EndpointTarget>;
  /** `load`: counts the endpoint's requests in flight and latency for the balancer (queueing in the pool included). */
  readonly load: Layer<EndpointTarget>;
  /** `outlier`: counts 5xx, gateway errors and connection failures toward ejection (DestinationRule outlierDetection). */
  readonly outlier: Layer<EndpointTarget>;
  /** `pool` (terminal): the endpoint's undici Pool. */
  readonly pool: Layer<EndpointTarget>;
}

/** The service stack's default layers by role (see the module). */
export const serviceLayers: ServiceLayers = Object.freeze({
  timeout: timeoutLayer(),
  retry: retryLayer(),
  hedge: hedgeLayer(),
  breaker: breakerLayer((s) => (s as MeshService).breaker),
  limits: limitsLayer(),
  balance: balanceLayer(),
});

/** The endpoint stack's default layers by role (see the module). */
export const endpointLayers: EndpointLayers = Object.freeze({
  telemetry: telemetryLayer(),
  load: loadLayer(),
  outlier: outlierLayer<EndpointTarget & { ejected: boolean }>((e) => (e as EndpointState).outlierDetector),
  pool: poolLayer(),
});

/**
 * A mesh's two stacks: the default layers, outermost first (the interfaces above say why
 * each sits where it does; `balance` is terminal: it picks an endpoint and enters its
 * stack; `pool` is the endpoint's), then the `stacks` option's changes.
 */
export function meshStacks(customize: NonNullable<MeshOptions['stacks']>): { readonly service: Stack<ServiceTarget>; readonly endpoint: Stack<EndpointTarget> } {
  const l = serviceLayers;
  const service = new Stack<ServiceTarget>('service', [l.timeout, l.retry, l.hedge, l.breaker, l.limits, l.balance]);
  const e = endpointLayers;
  const endpoint = new Stack<EndpointTarget>('endpoint', [e.telemetry, e.load, e.outlier, e.pool]);
  customize.service?.(service);
  customize.endpoint?.(endpoint);
  return { service, endpoint };
}
