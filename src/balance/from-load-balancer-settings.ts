import { leastRequest } from './least-request.js';
import { p2cPeakEwma } from './p2c-peak-ewma.js';
import { random } from './random.js';
import { ringHash } from './ring-hash.js';
import { roundRobin } from './round-robin.js';
import type { Balancer, BalancerEndpoint, BalancerRuntime, ConsistentHashKey, LoadBalancerSettings } from './types.js';
import { durationToMs } from '../core/duration.js';
import { warmupSettings } from './warmup.js';

/**
 * The balancer for an Istio `DestinationRule` `loadBalancer` setting (assumed valid):
 *
 * - unset or `simple: UNSPECIFIED` → {@link p2cPeakEwma}. This is our extension: Istio's
 *   default is `LEAST_REQUEST`; P2C Peak EWMA also reacts to latency, not only to
 *   pending requests.
 * - `ROUND_ROBIN` → {@link roundRobin}, `RANDOM` → {@link random}.
 * - `LEAST_REQUEST` and `LEAST_CONN` (Istio's deprecated alias) → {@link leastRequest}.
 * - `consistentHash` → {@link ringHash} with its key source and `ringHash.minimumRingSize`
 *   (or the deprecated `minimumRingSize`).
 *
 * `warmup` (or the deprecated `warmupDurationSecs`) gives round robin, least request and
 * P2C Peak EWMA a slow start for new endpoints (Envoy supports it on the first two; ours
 * follows the same rule); random and ring hash ignore it, as Envoy does.
 *
 * `PASSTHROUGH` means no balancing at all (the request goes to the address the caller
 * asked for), which the mesh handles before any balancer: asking for it here throws.
 */
export function balancerFromSettings<E extends BalancerEndpoint = BalancerEndpoint>(
  settings: LoadBalancerSettings | undefined,
  runtime?: BalancerRuntime,
): Balancer<E> {
  const hash = settings?.consistentHash;
  if (hash !== undefined) {
    let key: ConsistentHashKey;
    if (hash.httpHeaderName !== undefined) key = { httpHeaderName: hash.httpHeaderName };
    else if (hash.httpCookie !== undefined) key = { httpCookie: hash.httpCookie };
    else if (hash.httpQueryParameterName !== undefined) key = { httpQueryParameterName: hash.httpQueryParameterName };
    else key = { useSourceIp: true };
    const minimumRingSize = hash.ringHash?.minimumRingSize ?? hash.minimumRingSize;
    return ringHash<E>(minimumRingSize === undefined ? { key } : { key, minimumRingSize }, runtime);
  }
  const warmup = warmupSettings(settings, durationToMs);
  switch (settings?.simple) {
    case undefined:
    case 'UNSPECIFIED':
      return p2cPeakEwma<E>(runtime, { warmup });
    case 'ROUND_ROBIN':
      return roundRobin<E>(runtime, { warmup });
    case 'RANDOM':
      return random<E>(runtime);
    case 'LEAST_REQUEST':
    case 'LEAST_CONN':
      return leastRequest<E>({ warmup }, runtime);
    case 'PASSTHROUGH':
      throw new Error(
        'loadBalancer.simple: PASSTHROUGH has no balancer: the mesh sends such requests to the ' +
          'address the caller asked for, without picking an endpoint',
      );
  }
}
