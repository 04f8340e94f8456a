import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { EndpointLoad } from '../balance/endpoint-load.js';
import type { ServiceLatency } from '../balance/service-latency.js';
import type { BalancerEndpoint } from '../balance/types.js';
import type { Dispatch } from '../core/layer.js';
import type { Endpoint } from '../discovery/types.js';
import type { EndpointTarget } from './types.js';
import type { OutlierDetector } from '../policy/outlier/index.js';

/** What an endpoint needs from its mesh: how to build its stack and its pool. */
export interface EndpointContext {
  /** Builds the endpoint stack for one endpoint (called on its first request). */
  buildEndpointStack(endpoint: EndpointState): Dispatch;
  /** undici Pool options shared by every endpoint of the service. */
  readonly poolOptions: Pool.Options;
  /** TLS to the endpoints (the caller used an https:// URL). */
  readonly secure?: boolean;
  /** The connector of one endpoint's pool, when it differs from `poolOptions.connect` (mesh mTLS, DestinationRule tls). */
  readonly connectorFor?: ((endpoint: EndpointState) => Pool.Options['connect'] | undefined) | undefined;
}

/** What an endpoint needs from its service for outlier detection. */
export interface EndpointOwner {
  /** The service's outlier detector, if its DestinationRule sets `outlierDetection`. */
  readonly outlierDetector: OutlierDetector<EndpointState> | undefined;
  /** True while too few endpoints are healthy (`minHealthPercent`): ejections are ignored. */
  readonly panic: boolean;
  /** An endpoint was ejected or returned: the panic state may have changed. */
  ejectionChanged(endpoint?: EndpointState, ejected?: boolean): void;
  /** An endpoint's {@link EndpointState.available} changed (the service's capacity and the balancer's priority loads depend on it). */
  availabilityChanged?(): void;
}

/**
 * One endpoint of one service: identity, weight, labels, load, and (once it gets its
 * first request) its undici Pool and endpoint stack.
 *
 * Kept small on purpose: a service may hold 10,000 endpoints, so nothing is allocated
 * here until traffic arrives (no pool, no closures). It *is* its own {@link EndpointLoad}
 * (`load === this`): a balancer reading a candidate's availability and cost then touches
 * one object, not two, which keeps P2C picks flat at 10,000 endpoints (fewer cache misses).
 */
export class EndpointState extends EndpointLoad implements BalancerEndpoint, EndpointTarget {
  /**
   * Whether balancers may pick it: not draining, not failing health checks, and not
   * ejected (unless the service is in panic, where ejections are ignored, as Envoy's
   * panic threshold does). A plain field, declared first so a pick reads it from the
   * same cache lines as the load (recomputed when a flag changes, not per pick).
   */
  available = true;
  /** `address:port`. */
  readonly key: string;
  /** IP address or host name. */
  readonly address: string;
  /** TCP port. */
  readonly port: number;
  /** The FQDN of the owning service. */
  readonly service: string;
  /** Relative weight; updated in place when discovery changes it. */
  weight: number;
  /** Labels; updated in place when discovery changes them. */
  labels: Readonly<Record<string, string>>;
  /**
   * When the endpoint joined its service, or last came back through its active health
   * checks (`performance.now()` ms): the start of its warmup window.
   */
  activeSinceMs: number;
  #ejected = false;
  #unhealthy = false;
  #draining = false;

  /** Ejected by outlier detection (set by the service's detector). */
  get ejected(): boolean {
    return this.#ejected;
  }
  set ejected(value: boolean) {
    if (value === this.#ejected) return;
    this.#ejected = value;
    this.refreshAvailable();
    this.#owner?.ejectionChanged(this, value);
  }

  /** Failing its active health checks. */
  get unhealthy(): boolean {
    return this.#unhealthy;
  }
  set unhealthy(value: boolean) {
    this.#unhealthy = value;
    this.refreshAvailable();
  }

  /** Passing its active health checks (the checker writes it). */
  get healthy(): boolean {
    return !this.#unhealthy;
  }
  set healthy(value: boolean) {
    this.unhealthy = !value;
  }

  /** Recomputes {@link EndpointState.available} from the flags and the service's panic state. */
  refreshAvailable(): void {
    this.#setAvailable(!this.#draining && !this.#unhealthy && (!this.#ejected || this.#owner?.panic === true));
  }

  #setAvailable(value: boolean): void {
    if (value === this.available) return;
    this.available = value;
    this.#owner?.availabilityChanged?.();
  }
  readonly #owner: EndpointOwner | undefined;
  /** Pending requests and Peak EWMA latency: this object itself. */
  readonly load: EndpointLoad = this;
  #dispatch: Dispatch | undefined;
  #pool: Pool | undefined;
  /** Set once the pool is closing or destroyed, so it is ended only once. */
  #ending: Promise<void> | undefined;
  readonly #context: EndpointContext;

  /**
   * @param service owning service FQDN; @param key `address:port`; @param endpoint from discovery;
   * @param owner the service, for outlier detection; @param peers the service's typical latency, where a new endpoint's estimate starts
   */
  constructor(context: EndpointContext, service: string, key: string, endpoint: Endpoint, owner?: EndpointOwner, peers?: ServiceLatency) {
    super(peers === undefined ? undefined : { peers });
    // Whole ms: a small integer for the first 12 days of a process (no boxed number per endpoint).
    this.activeSinceMs = Math.floor(performance.now());
    this.#owner = owner;
    this.#context = context;
    this.service = service;
    this.key = key;
    this.address = endpoint.address;
    this.port = endpoint.port;
    this.weight = endpoint.weight;
    this.labels = endpoint.labels;
  }

  /** The service's outlier detector (for the `outlier` layer). */
  get outlierDetector(): OutlierDetector<EndpointState> | undefined {
    return this.#owner?.outlierDetector;
  }

  /** Sends one request through this endpoint's stack (built on first use). */
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const dispatch = this.#dispatch ?? (this.#dispatch = this.#context.buildEndpointStack(this));
    return dispatch(opts, handler);
  }

  /** The endpoint's undici Pool, created on first call (by the terminal `pool` layer). */
  openPool(): Pool {
    if (!this.#pool) {
      const host = this.address.includes(':') ? `[${this.address}]` : this.address;
      const connect = this.#context.connectorFor?.(this);
      const options = connect === undefined ? this.#context.poolOptions : { ...this.#context.poolOptions, connect };
      this.#pool = new Pool(`${this.#context.secure ? 'https' : 'http'}://${host}:${this.port}`, options);
    }
    return this.#pool;
  }

  /** True once a pool exists (the endpoint has had traffic). */
  get hasPool(): boolean {
    return this.#pool !== undefined;
  }

  /**
   * Stops new requests and closes the pool once its in-flight and queued requests are
   * done. Used when discovery removes the endpoint: nothing in flight is lost.
   */
  drain(): Promise<void> {
    this.#draining = true;
    this.#setAvailable(false);
    return (this.#ending ??= this.#pool ? this.#pool.close() : Promise.resolve());
  }

  /** Ends every request still on this endpoint with `error` (the close grace period ran out). */
  destroy(error: Error): Promise<void> {
    this.#draining = true;
    this.#setAvailable(false);
    const pool = this.#pool;
    if (!pool || pool.destroyed) return this.#ending ?? Promise.resolve();
    return (this.#ending = pool.destroy(error));
  }
}
