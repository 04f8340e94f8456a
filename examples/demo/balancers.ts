// The load balancers the demo compares, each chosen the way a user would choose it: with
// an Istio DestinationRule for the service (or none, for the mesh's default).
import type { DestinationRule } from 'proxyless';
import type { LoadBalancerSettings } from 'proxyless/balance';

/** The logical service the demo calls; discovery maps it to the replicas. */
export const SERVICE = 'reviews';

/** The request header the ring hash balancer hashes (a user id, say). */
export const HASH_HEADER = 'x-user';

/** One phase of the demo: a name for the tables and the config that selects the balancer. */
export interface BalancerChoice {
  /** What the DestinationRule says, e.g. `simple: ROUND_ROBIN`. */
  readonly label: string;
  /** The rule to load, or `undefined` for no rule (the default balancer). */
  readonly rule: DestinationRule | undefined;
}

/** A DestinationRule for {@link SERVICE} with the given `trafficPolicy.loadBalancer`. */
function ruleWith(loadBalancer: LoadBalancerSettings): DestinationRule {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: SERVICE },
    spec: { host: SERVICE, trafficPolicy: { loadBalancer } },
  };
}

/** The phases in the order they run; the default comes last, as the punch line. */
export const BALANCERS: readonly BalancerChoice[] = [
  { label: 'simple: ROUND_ROBIN', rule: ruleWith({ simple: 'ROUND_ROBIN' }) },
  { label: 'simple: RANDOM', rule: ruleWith({ simple: 'RANDOM' }) },
  { label: 'simple: LEAST_REQUEST', rule: ruleWith({ simple: 'LEAST_REQUEST' }) },
  { label: `consistentHash: ${HASH_HEADER}`, rule: ruleWith({ consistentHash: { httpHeaderName: HASH_HEADER } }) },
  { label: 'no rule (default)', rule: undefined },
];
