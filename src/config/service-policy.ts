import type { LoadBalancerSettings } from '../balance/types.js';
import type { DestinationRuleResource, Located } from './load-config.js';

/** The DestinationRule settings that decide how one service (port, subset) is balanced. */
export interface ResolvedPolicy {
  /** The load balancer settings in force (subset over rule, port level over both). */
  readonly loadBalancer: LoadBalancerSettings | undefined;
  /** The subset's labels, when a subset is asked for and defined. */
  readonly subsetLabels: Readonly<Record<string, string>> | undefined;
  /** False when a subset is asked for that the rule does not define. */
  readonly subsetDefined: boolean;
}

type TrafficPolicy = NonNullable<DestinationRuleResource['spec']['trafficPolicy']>;

function loadBalancerAt(policy: TrafficPolicy | undefined, port: number): LoadBalancerSettings | undefined {
  if (!policy) return undefined;
  const portLevel = policy.portLevelSettings?.find((p) => p.port.number === port);
  return (portLevel?.loadBalancer ?? policy.loadBalancer) as LoadBalancerSettings | undefined;
}

/**
 * Istio's precedence for one destination: the subset's `trafficPolicy` overrides the
 * rule's; within each, `portLevelSettings` for the port override the policy's own.
 */
export function resolvePolicy(rule: Located<DestinationRuleResource> | undefined, port: number, subset: string | undefined): ResolvedPolicy {
  const spec = rule?.resource.spec;
  const subsetSpec = subset === undefined ? undefined : spec?.subsets?.find((s) => s.name === subset);
  return {
    loadBalancer: loadBalancerAt(subsetSpec?.trafficPolicy, port) ?? loadBalancerAt(spec?.trafficPolicy, port),
    subsetLabels: subsetSpec ? (subsetSpec.labels ?? {}) : undefined,
    subsetDefined: subset === undefined || subsetSpec !== undefined,
  };
}
