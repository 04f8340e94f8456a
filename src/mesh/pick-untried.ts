import type { Dispatcher } from 'undici';
import { LocalityBalancer } from '../balance/locality-balancer.js';
import type { Balancer } from '../balance/types.js';
import { HOST_SELECTION_RETRY_MAX_ATTEMPTS } from '../policy/retry/index.js';
import type { TriedEndpoints } from '../policy/route-policy.js';
import type { EndpointState } from './endpoint-state.js';

/**
 * The endpoint for a try of a call that records its tries (a retry, a hedge): Envoy's
 * host selection with Istio's retry settings. Unless the call allows the endpoints tried
 * before (`retryIgnorePreviousHosts: false`, consistent hashing), up to 5 re-picks look
 * for one not tried yet (host_selection_retry_max_attempts), then whatever the balancer
 * gives. Under `retryRemoteLocalities` the locality priorities already tried are avoided
 * ({@link triedPriorities}). The endpoint picked is recorded.
 */
export function pickUntried(balancer: Balancer<EndpointState>, opts: Dispatcher.DispatchOptions, tried: TriedEndpoints): EndpointState | undefined {
  const excluded = tried.remotePriorities === true && balancer instanceof LocalityBalancer ? triedPriorities(balancer, tried) : 0;
  const pick = (attempt: number): EndpointState | undefined => (excluded === 0 ? balancer.pick(opts, attempt) : (balancer as LocalityBalancer<EndpointState>).pick(opts, attempt, excluded));
  let endpoint = pick(0);
  if (tried.avoidHosts !== false) {
    for (let i = 1; i <= HOST_SELECTION_RETRY_MAX_ATTEMPTS && endpoint !== undefined && tried.has(endpoint); i++) endpoint = pick(i);
  }
  if (endpoint !== undefined) tried.add(endpoint);
  return endpoint;
}

/**
 * The locality priorities a retry avoids under `retryRemoteLocalities` (Envoy's
 * previous_priorities with update frequency 2, as Istio sets it): those of the tries
 * made, counted two at a time, so the first retry may stay in the priority of the first
 * try and the second goes elsewhere. A bit set: bit p for priority p.
 */
export function triedPriorities(balancer: LocalityBalancer<EndpointState>, tried: TriedEndpoints): number {
  let count = 0;
  tried.forEachTried?.(() => count++);
  const counted = count - (count % 2);
  let mask = 0;
  tried.forEachTried?.((endpoint, index) => {
    if (index >= counted) return;
    const priority = balancer.priorityOf(endpoint as EndpointState);
    if (priority !== undefined) mask |= 1 << priority;
  });
  return mask;
}
