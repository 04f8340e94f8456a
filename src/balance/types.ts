import type { Dispatcher } from 'undici';
import type { EndpointLoad } from './endpoint-load.js';
import type { ServiceLatency } from './service-latency.js';
import type { WarmupSettings } from './warmup.js';

/**
 * What a balancer sees of an endpoint: its identity, its weight, whether it may take
 * traffic now, and the load it carries. The mesh's endpoint state implements this.
 */
export interface BalancerEndpoint {
  /** `address:port`, unique within one service. */
  readonly key: string;
  /** Relative weight, an integer >= 1 (1 when discovery gives none). */
  readonly weight: number;
  /** False while the endpoint must not get new requests (ejected, draining). */
  readonly available: boolean;
  /** Pending requests and Peak EWMA latency, updated by the endpoint's load layer. */
  readonly load: EndpointLoad;
  /**
   * When the endpoint joined its service, or came back through its active health
   * checks, on the balancer's clock (ms): the start of its warmup window (Istio's
   * `loadBalancer.warmup`). Undefined: never warming.
   */
  readonly activeSinceMs?: number | undefined;
}

/**
 * The request as a balancer may look at it (ring hash reads headers, cookies and the
 * query string from it). It is undici's dispatch options: nothing is copied per pick.
 */
export type PickRequest = Dispatcher.DispatchOptions;

/**
 * Picks one endpoint per request.
 *
 * Contract: `pick` is O(1) in the number of endpoints (ring hash: O(log n)) and
 * allocates nothing; `update` may be O(n) and runs when discovery changes the set.
 * `pick` returns `undefined` only when no endpoint is available.
 */
export interface Balancer<E extends BalancerEndpoint = BalancerEndpoint> {
  /** Name used in explain output and metrics, e.g. `p2c-peak-ewma`. */
  readonly name: string;
  /** Replaces the candidate set. The array is owned by the caller and not mutated. */
  update(endpoints: readonly E[]): void;
  /** Chooses the endpoint for one request. */
  pick(request: PickRequest): E | undefined;
}

/** Options every balancer factory accepts, for deterministic tests. */
export interface BalancerRuntime {
  /** Uniform random in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Monotonic milliseconds. Default `performance.now`. */
  now?: () => number;
}

/** Options of {@link EndpointLoad}; defaults are Finagle's and Linkerd's. */
export interface EndpointLoadOptions {
  /** Latency assumed for an endpoint with no sample yet while its service has none either, in ms. Default 30. */
  defaultRttMs?: number;
  /**
   * The service's typical latency, shared by its endpoints: an endpoint with no sample
   * starts from it, and each successful sample feeds it. Default: none (the default RTT).
   */
  peers?: ServiceLatency;
  /** Time constant τ of the exponential decay, in ms. Default 10 000. */
  decayMs?: number;
  /**
   * Creation time on the clock later given to `observe` and `cost`, in ms; the default
   * RTT decays from it. Default `performance.now()`.
   */
  nowMs?: number;
}

/** Options every balancer that supports Istio's `warmup` accepts (round robin, least request, P2C Peak EWMA). */
export interface WarmupOptions {
  /** Slow start for new endpoints (Istio `loadBalancer.warmup`, Envoy `slow_start_config`). Default: none. */
  warmup?: WarmupSettings | undefined;
}

/** Options of the least-request balancer (Envoy `LEAST_REQUEST`). */
export interface LeastRequestOptions extends WarmupOptions {
  /** How many distinct random candidates are compared, an integer >= 2. Default 2. */
  choiceCount?: number;
}

/** Istio's `consistentHash.httpCookie`. */
export interface HttpCookie {
  /** Name of the cookie whose value is hashed. */
  name: string;
  /** Path of the cookie (only used by Envoy to generate a missing cookie; not done here). */
  path?: string;
  /** Lifetime of a generated cookie (not done here). */
  ttl?: string;
}

/**
 * Where the ring hash key comes from: the shapes of Istio's `consistentHash`
 * (exactly one of them).
 */
export type ConsistentHashKey =
  | {
      /** Hash the value of this request header (any case). */
      httpHeaderName: string;
    }
  | {
      /** Hash the value of this cookie. */
      httpCookie: HttpCookie;
    }
  | {
      /** Hash the source address: for a client-side mesh, this instance's own address. */
      useSourceIp: true;
    }
  | {
      /** Hash the (decoded) value of this query parameter. */
      httpQueryParameterName: string;
    };

/** Options of the ring hash balancer (Envoy `RING_HASH`). */
export interface RingHashOptions {
  /** Where the hash key comes from. */
  key: ConsistentHashKey;
  /** The ring has at least this many entries. Default 1024. */
  minimumRingSize?: number;
  /** The ring has at most about this many entries. Default 8 388 608 (Envoy's cap). */
  maximumRingSize?: number;
  /**
   * The address hashed for `useSourceIp`. Default: this instance's first non-internal
   * IPv4 address, else `127.0.0.1` (see {@link RingHashBalancer}).
   */
  sourceAddress?: string;
}

/**
 * Istio's `DestinationRule` `trafficPolicy.loadBalancer`, as far as balancers go
 * (locality settings are not supported). Assumed validated: at most one of `simple` and
 * `consistentHash`, and one key source inside `consistentHash`.
 */
export interface LoadBalancerSettings {
  /** Deprecated by Istio in favour of `warmup`: the slow-start window (a duration such as `"60s"`). */
  warmupDurationSecs?: string;
  /** Slow start for new endpoints: `duration`, `minimumPercent` (default 10), `aggression` (default 1). */
  warmup?: {
    /** The window after an endpoint's start, a duration such as `"60s"`. */
    duration: string;
    /** The smallest share of its weight a new endpoint gets, 0 to 100. Default 10. */
    minimumPercent?: number;
    /** How the ramp bends (1 linear). Default 1. */
    aggression?: number;
  };
  /** A standard algorithm. */
  simple?: 'UNSPECIFIED' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'LEAST_CONN';
  /** Consistent hashing (ring hash) with the key taken from the request. */
  consistentHash?: {
    /** Hash the value of this request header. */
    httpHeaderName?: string;
    /** Hash the value of this cookie. */
    httpCookie?: HttpCookie;
    /** Hash the source address (for a client-side mesh: this instance's address). */
    useSourceIp?: boolean;
    /** Hash the value of this query parameter. */
    httpQueryParameterName?: string;
    /** Ring hash settings. */
    ringHash?: {
      /** The ring has at least this many entries. Default 1024. */
      minimumRingSize?: number;
    };
    /** Deprecated by Istio in favour of `ringHash.minimumRingSize`. */
    minimumRingSize?: number;
  };
}
