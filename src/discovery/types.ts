import type { ServiceName, ServiceQuery } from '../core/target.js';

export type { ServiceName, ServiceQuery } from '../core/target.js';

/** One network endpoint (an instance) of a service, as discovery reports it. */
export interface Endpoint {
  /** IPv4 or IPv6 address, or a host name resolved by the connection. */
  readonly address: string;
  /** TCP port, 1..65535. */
  readonly port: number;
  /** Relative weight for weighted balancers, an integer >= 1. Default 1. */
  readonly weight: number;
  /** Labels such as `{ version: 'v2', zone: 'a' }`, matched by DestinationRule subsets. */
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * An endpoint as a user may write it: `'127.0.0.1:9080'`, `'[::1]:9080'`, or an object
 * with `address`, `port` and optional `weight` and `labels`.
 */
export type EndpointInput = string | EndpointSpec;

/** An endpoint written as an object. */
export interface EndpointSpec {
  /** IPv4 or IPv6 address (no brackets), or a host name. */
  address: string;
  /** TCP port, 1..65535. */
  port: number;
  /** Relative weight, an integer from 1 to 1,000,000. Default 1. */
  weight?: number;
  /** Labels such as `{ version: 'v2' }`. */
  labels?: Record<string, string>;
}

/**
 * What a source says about one service. The first update of a watch is `reset` (the
 * source knows the service, possibly with no endpoints yet) or `missing` (it does not).
 * Later updates are `add`/`remove` (endpoints matched by `address:port`) or a new
 * `reset` that replaces the whole set.
 */
export type DiscoveryUpdate = ResetUpdate | AddUpdate | RemoveUpdate | MissingUpdate;

/** The source knows the service; `endpoints` is its whole set (possibly empty). */
export interface ResetUpdate {
  /** Discriminant. */
  readonly type: 'reset';
  /** Every endpoint of the service. */
  readonly endpoints: readonly Endpoint[];
}

/** Endpoints joined (or changed weight or labels). */
export interface AddUpdate {
  /** Discriminant. */
  readonly type: 'add';
  /** The endpoints added or changed. */
  readonly endpoints: readonly Endpoint[];
}

/** Endpoints left; matched by `address:port`. */
export interface RemoveUpdate {
  /** Discriminant. */
  readonly type: 'remove';
  /** The endpoints removed. */
  readonly endpoints: readonly Pick<Endpoint, 'address' | 'port'>[];
}

/** The source does not know the service (or no longer does). */
export interface MissingUpdate {
  /** Discriminant. */
  readonly type: 'missing';
}

/** Receives a source's updates for one watched service. */
export type DiscoveryListener = (update: DiscoveryUpdate) => void;

/** A running watch of one service; `close()` stops the updates. */
export interface DiscoveryWatch {
  /** Stops delivering updates for this watch. */
  close(): void;
}

/** What a source shows about itself: for code, and later the admin page. */
export interface DiscoverySourceState {
  /** The source's name, e.g. `static`, `dns(10.0.0.10)`. */
  readonly name: string;
  /** True once the source has given its first answer. */
  readonly ready: boolean;
  /** When the source last applied an update successfully. */
  readonly lastRefresh: Date | undefined;
  /** The last error the source met (it keeps serving the last known good set). */
  readonly lastError: Error | undefined;
  /** Services the source knows. */
  readonly services: number;
  /** Endpoints across those services. */
  readonly endpoints: number;
}

/**
 * A discovery source: tells the mesh which endpoints a service has, and keeps telling it.
 *
 * Contract: `watch` delivers the first update (`reset` or `missing`) once the source
 * knows the answer, synchronously if it already does; a failing refresh keeps the last
 * known good set and is reported with an `error` event, never thrown into a request.
 */
export interface DiscoverySource {
  /** Name used in errors and state, e.g. `static`. */
  readonly name: string;
  /** Starts watching one service. */
  watch(service: ServiceQuery, listener: DiscoveryListener): DiscoveryWatch;
  /** Resolves once the source has its first answer (its catalog is loaded). */
  ready(): Promise<void>;
  /** The source's state for code and dashboards. */
  state(): DiscoverySourceState;
  /** Subscribes to the source's errors (refresh failures, malformed records). */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Unsubscribes from the source's errors. */
  off(event: 'error', listener: (error: Error) => void): unknown;
  /** Stops the source: no more updates; releases timers and connections. */
  close(): Promise<void>;
}
