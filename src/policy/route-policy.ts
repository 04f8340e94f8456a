import type { Dispatcher } from 'undici';
import type { HedgingSettings } from './hedge/settings.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry/settings.js';

/**
 * The matched route's policies, carried on the request options from the router to the
 * destination's service stack (a symbol key: invisible to undici and to users' layers
 * that copy options with spread, which keeps it).
 */
export const kRoutePolicy = Symbol.for('proxyless.routePolicy');

/** Endpoints already tried by this request's earlier attempts (set by the balance layer). */
export const kTriedEndpoints = Symbol.for('proxyless.triedEndpoints');

/** What a route asks of the resilience layers. */
export interface RoutePolicy {
  /** The route timeout over all tries, in ms (VirtualService `timeout`), or undefined. */
  readonly timeoutMs: number | undefined;
  /** Retries (VirtualService `retries`, or Istio's default). */
  readonly retry: RetryPolicy;
  /** Where the policy came from, for errors: `VirtualService/reviews route canary`. */
  readonly where: string;
  /** Hedged requests (our extension, from the VirtualService's annotation), if any. */
  readonly hedge?: HedgingSettings | undefined;
  /**
   * True for a mirrored copy: fire and forget, so no retries or hedging, a timeout of its
   * own, and no deadline inherited from the request being served.
   */
  readonly mirror?: boolean | undefined;
}

/** The policy of requests no VirtualService routes: Istio's default retries, no timeout. */
export const DEFAULT_ROUTE_POLICY: RoutePolicy = Object.freeze({ timeoutMs: undefined, retry: DEFAULT_RETRY_POLICY, where: 'default route' });

/** The endpoints a call has tried: the balance layer adds each pick and avoids them. */
export interface TriedEndpoints {
  /** True when `endpoint` was tried already. */
  has(endpoint: unknown): boolean;
  /** Records a try's endpoint. */
  add(endpoint: unknown): void;
  /** False when retries may land on an endpoint tried before (`retryIgnorePreviousHosts: false`). Default true. */
  readonly avoidHosts?: boolean;
  /** Retries avoid locality priorities already tried (`retryRemoteLocalities`). */
  readonly remotePriorities?: boolean;
  /** Calls `fn` with each endpoint tried, in order (for `remotePriorities`). */
  forEachTried?(fn: (endpoint: unknown, index: number) => void): void;
}

/** Options with a route policy attached (internal). */
export type PolicyOptions = Dispatcher.DispatchOptions & { [kRoutePolicy]?: RoutePolicy; [kTriedEndpoints]?: TriedEndpoints };

/** The route policy of a request. */
export function routePolicyOf(opts: Dispatcher.DispatchOptions): RoutePolicy {
  return (opts as PolicyOptions)[kRoutePolicy] ?? DEFAULT_ROUTE_POLICY;
}
