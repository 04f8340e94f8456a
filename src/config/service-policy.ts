import type { LoadBalancerSettings } from '../balance/types.js';
import type { IstioConnectionPool } from './settings/connection-pool.js';
import type { EffectiveDestinationRule } from './destination-rule-index.js';
import type { DestinationRuleResource } from './load-config.js';

type TrafficPolicy = NonNullable<DestinationRuleResource['spec']['trafficPolicy']>;

/** The DestinationRule settings that decide how one service (port, subset) is balanced. */
export interface ResolvedPolicy {
  /** The load balancer settings in force. */
  readonly loadBalancer: LoadBalancerSettings | undefined;
  /** The subset's labels, when a subset is asked for and defined. */
  readonly subsetLabels: Readonly<Record<string, string>> | undefined;
  /** False when a subset is asked for that the rule does not define. */
  readonly subsetDefined: boolean;
  /** The `connectionPool` settings in force. */
  readonly connectionPool: IstioConnectionPool | undefined;
  /** The `outlierDetection` settings in force. */
  readonly outlierDetection: NonNullable<TrafficPolicy['outlierDetection']> | undefined;
  /** The whole traffic policy in force for this port and subset (no `portLevelSettings`). */
  readonly trafficPolicy: Omit<TrafficPolicy, 'portLevelSettings'> | undefined;
}

/** The fields a port-level entry carries; it replaces them all (istio/istio util.go: shadowCopyPortTrafficPolicy). */
const PORT_LEVEL_FIELDS = ['connectionPool', 'loadBalancer', 'outlierDetection', 'tls'] as const;

/**
 * Istio's GetPortLevelTrafficPolicy: a `portLevelSettings` entry for the port replaces
 * the policy wholesale; what the entry omits falls back to defaults, not to the
 * top-level settings.
 */
function atPort(policy: TrafficPolicy | undefined, port: number): { policy: Omit<TrafficPolicy, 'portLevelSettings'> | undefined; portLevel: boolean } {
  const entry = policy?.portLevelSettings?.find((p) => p.port.number === port);
  if (entry === undefined) return { policy, portLevel: false };
  const out: Record<string, unknown> = {};
  for (const key of PORT_LEVEL_FIELDS) if (entry[key as keyof typeof entry] !== undefined) out[key] = entry[key as keyof typeof entry];
  return { policy: out as Omit<TrafficPolicy, 'portLevelSettings'>, portLevel: true };
}

/**
 * The traffic policy for one port and subset, as Istio computes it (istio/istio
 * pilot/pkg/networking/util/util.go: MergeSubsetTrafficPolicy; model/destination_rule.go:
 * MergeTrafficPolicy; semantics.md §5): the rule's policy at the port, then the subset's
 * policy at the port overriding it field by field; where the subset has a port-level
 * entry for the port, its four port-level fields replace the rule's even when unset.
 */
export function mergeSubsetTrafficPolicy(rule: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): Omit<TrafficPolicy, 'portLevelSettings'> | undefined {
  const original = atPort(rule, port).policy;
  if (subset === undefined) return withoutPortLevel(original);
  const { policy: subsetPolicy, portLevel } = atPort(subset, port);
  if (original === undefined) return withoutPortLevel(subsetPolicy);
  const merged: Record<string, unknown> = { ...withoutPortLevel(original) };
  const from = subsetPolicy as Record<string, unknown>;
  for (const [key, value] of Object.entries(from)) {
    if (key === 'portLevelSettings') continue;
    if (value !== undefined) merged[key] = value;
  }
  if (portLevel) for (const key of PORT_LEVEL_FIELDS) merged[key] = from[key];
  return merged as Omit<TrafficPolicy, 'portLevelSettings'>;
}

function withoutPortLevel(policy: Omit<TrafficPolicy, 'portLevelSettings'> | TrafficPolicy | undefined): Omit<TrafficPolicy, 'portLevelSettings'> | undefined {
  if (policy === undefined || !('portLevelSettings' in policy)) return policy;
  const { portLevelSettings: _dropped, ...rest } = policy as TrafficPolicy;
  return rest;
}

/** The settings in force for one destination (service port, subset) under `rule`. */
export function resolvePolicy(rule: EffectiveDestinationRule | undefined, port: number, subset: string | undefined): ResolvedPolicy {
  const subsetSpec = subset === undefined ? undefined : rule?.subsets.find((s) => s.name === subset);
  const policy = mergeSubsetTrafficPolicy(rule?.trafficPolicy, subsetSpec?.trafficPolicy, port);
  return {
    loadBalancer: policy?.loadBalancer as LoadBalancerSettings | undefined,
    connectionPool: policy?.connectionPool,
    outlierDetection: policy?.outlierDetection,
    trafficPolicy: policy,
    subsetLabels: subsetSpec ? (subsetSpec.labels ?? {}) : undefined,
    subsetDefined: subset === undefined || subsetSpec !== undefined,
  };
}
