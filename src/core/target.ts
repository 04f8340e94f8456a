/**
 * What the layers of a stack are built for: a service ({@link ServiceTarget}) or one of
 * its endpoints ({@link EndpointTarget}). These are the whole contract between a layer
 * and the mesh: a layer never looks past them at the mesh's own classes. Per-policy
 * state travels in typed slots ({@link StateKey}).
 *
 * @module
 */
import type { PolicyEvents } from './policy-events.js';

/**
 * A service name as the mesh asks for it. `names` lists every spelling that denotes the
 * same service, most specific first, so a catalog keyed by `reviews` answers a request
 * for `reviews.default.svc.cluster.local` and the other way round.
 */
export interface ServiceName {
  /** The host as written in the URL, lower case, without port. */
  readonly host: string;
  /** The fully qualified name (`reviews.default.svc.cluster.local` for Kubernetes-style names). */
  readonly fqdn: string;
  /** Every spelling of this service: short name, `name.namespace`, `.svc`, FQDN. */
  readonly names: readonly string[];
}

/**
 * What the mesh asks a source for: a service name and the port the caller used (the
 * URL's port, or 80/443 by scheme). The mesh keeps one service per name and port, as
 * Envoy keeps one cluster per service port. Sources whose endpoints carry their own
 * ports (static lists, SRV, registries) may ignore it; A/AAAA lookups use it.
 */
export interface ServiceQuery extends ServiceName {
  /** The port the caller asked for. */
  readonly port: number;
  /** A DestinationRule subset the mesh filters by labels (sources may ignore it). */
  readonly subset?: string | undefined;
}

/**
 * The key of one policy's state on a {@link ServiceTarget}, made once by the policy with
 * {@link stateKey}. The type parameter is the state's type: `target.state(key)` is typed
 * by it, so no layer downcasts its target.
 */
export interface StateKey<T> {
  /** The policy's name, for messages. */
  readonly name: string;
  /** Never set: carries `T` for the type checker. */
  readonly __state?: (state: T) => T;
}

/** Makes the {@link StateKey} a policy reads its state with (one per policy, compared by identity). */
export function stateKey<T>(name: string): StateKey<T> {
  return Object.freeze({ name });
}

/**
 * What layers see of an endpoint's load: the pending requests and latency the
 * balancers weigh, and the calls the load layer reports a request's life with
 * (implemented by balance's `EndpointLoad`).
 */
export interface EndpointLoadView {
  /** Requests in flight to the endpoint. */
  readonly pending: number;
  /** Recent failures counted in its latency penalty. */
  readonly failures: number;
  /** The endpoint's cost for a pick now (Peak EWMA latency × (pending + 1), by weight). */
  cost(nowMs: number, weight?: number): number;
  /** A request started. */
  start(): void;
  /** A request ended with a latency sample `rttMs` (ok: false adds the failure penalty). */
  finish(rttMs: number, nowMs: number, ok: boolean): void;
  /** A request ended without a latency sample (never written, or ended before a response). */
  finishWithoutSample(): void;
  /** A written request was cancelled before its response: its latency is at least `elapsedMs`. */
  finishCancelled(elapsedMs: number, nowMs: number): void;
}

/** What a service-stack layer is built for: one logical destination. */
export interface ServiceTarget {
  /** The service's name in all its spellings, and the port asked for. */
  readonly name: ServiceQuery;
  /** The balancer's name for this service, e.g. `p2c-peak-ewma`. */
  readonly balancerName: string;
  /**
   * True for a service outside the mesh: a ServiceEntry with `location: MESH_EXTERNAL`
   * (Istio's default location). Mesh-internal headers, such as the deadline in
   * `x-envoy-expected-rq-timeout-ms`, are not sent to it.
   */
  readonly meshExternal?: boolean;
  /**
   * The state a policy keeps for this service, found by the policy's key (see
   * {@link StateKey}): the retry layer's budget and retries in flight, the limits
   * layer's limits and requests in flight, the balance layer's endpoint picker. A layer
   * reads its own slot when the stack is built; a target without one (undefined, or no
   * `state` at all) gets the layer's documented fallback.
   */
  state?<T>(key: StateKey<T>): T | undefined;
  /** Where a layer reports what it decided (a retry, a hedge, a spent budget): the mesh's events. */
  readonly events?: PolicyEvents | undefined;
}

/** What an endpoint-stack layer is built for: one endpoint of one service. */
export interface EndpointTarget {
  /** The FQDN of the service this endpoint belongs to. */
  readonly service: string;
  /** `address:port`. */
  readonly key: string;
  /** IP address or host name. */
  readonly address: string;
  /** TCP port. */
  readonly port: number;
  /** Relative weight (>= 1). */
  readonly weight: number;
  /** Discovery labels, e.g. `{ version: 'v2' }`. */
  readonly labels: Readonly<Record<string, string>>;
  /** Pending requests and Peak EWMA latency of this endpoint (balance's `EndpointLoad`). */
  readonly load: EndpointLoadView;
}
