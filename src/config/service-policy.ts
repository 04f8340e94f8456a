import type { LoadBalancerSettings } from '../balance/types.js';
import type { IstioConnectionPool } from '../policy/connection-pool.js';
import type { DestinationRuleResource, Located } from './load-config.js';

/** The DestinationRule settings that decide how one service (port, subset) is balanced. */
export interface ResolvedPolicy {
  /** The load balancer settings in force (subset over rule, port level over both). */
  readonly loadBalancer: LoadBalancerSettings | undefined;
  /** The subset's labels, when a subset is asked for and defined. */
  readonly subsetLabels: Readonly<Record<string, string>> | undefined;
  /** False when a subset is asked for that the rule does not define. */
  readonly subsetDefined: boolean;
  /** The `connectionPool` settings in force (same precedence as the load balancer). */
  readonly connectionPool: IstioConnectionPool | undefined;
  /** The `outlierDetection` settings in force (same precedence as the load balancer). */
  readonly outlierDetection: NonNullable<TrafficPolicy['outlierDetection']> | undefined;
}

type TrafficPolicy = NonNullable<DestinationRuleResource['spec']['trafficPolicy']>;

function settingAt<K extends 'loadBalancer' | 'connectionPool' | 'outlierDetection'>(policy: TrafficPolicy | undefined, port: number, key: K): TrafficPolicy[K] | undefined {
  if (!policy) return undefined;
  const portLevel = policy.portLevelSettings?.find((p) => p.port.number === port);
  return (portLevel?.[key] ?? policy[key]) as TrafficPolicy[K] | undefined;
}

/**
 * Istio's precedence for one destination, field by field (loadBalancer, connectionPool,
 * outlierDetection): the subset's `trafficPolicy` overrides the rule's; within each,
 * `portLevelSettings` for the port override the policy's own.
 */
export function resolvePolicy(rule: Located<DestinationRuleResource> | undefined, port: number, subset: string | undefined): ResolvedPolicy {
  const spec = rule?.resource.spec;
  const subsetSpec = subset === undefined ? undefined : spec?.subsets?.find((s) => s.name === subset);
  return {
    loadBalancer: (settingAt(subsetSpec?.trafficPolicy, port, 'loadBalancer') ?? settingAt(spec?.trafficPolicy, port, 'loadBalancer')) as LoadBalancerSettings | undefined,
    connectionPool: settingAt(subsetSpec?.trafficPolicy, port, 'connectionPool') ?? settingAt(spec?.trafficPolicy, port, 'connectionPool'),
    outlierDetection: settingAt(subsetSpec?.trafficPolicy, port, 'outlierDetection') ?? settingAt(spec?.trafficPolicy, port, 'outlierDetection'),
    subsetLabels: subsetSpec ? (subsetSpec.labels ?? {}) : undefined,
    subsetDefined: subset === undefined || subsetSpec !== undefined,
  };
}
