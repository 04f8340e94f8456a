import type { LocalityLbSetting } from './types.js';

/**
 * Localities and the priorities Istio gives endpoints relative to a client (istio/istio
 * pilot/pkg/networking/core/loadbalancer/loadbalancer.go: ApplyLocalityLoadBalancer,
 * applyLocalityWeights, applyLocalityFailover, applyFailoverPriorities,
 * applyFailoverPriorityPerLocality; networking/util/util.go: LbPriority, LocalityMatch;
 * semantics.md §11). Pure functions: the balancer (locality-balancer.ts) applies them.
 */

/** `region/zone/subzone`; a part may be empty. */
export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subzone: string;
}

/** Istio's locality label (`region/zone/subzone`, `.` standing for `/`). */
export const LOCALITY_LABEL = 'topology.istio.io/locality';
/** Istio's older locality label. */
export const LEGACY_LOCALITY_LABEL = 'istio-locality';
/** Kubernetes' region label. */
export const REGION_LABEL = 'topology.kubernetes.io/region';
/** Kubernetes' zone label. */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** Istio's subzone label. */
export const SUBZONE_LABEL = 'topology.istio.io/subzone';
/** Istio's network label (the first `failoverPriority` label may be it: special rule). */
export const NETWORK_LABEL = 'topology.istio.io/network';
/**
 * A discovery source's own priority for an endpoint (0 most preferred), such as an SRV
 * record's tier (its rank among the record set's priority values): Envoy's endpoint
 * priority, failed over by health like the locality priorities.
 */
export const PRIORITY_LABEL = 'proxyless.dev/priority';

const NO_LOCALITY: Locality = Object.freeze({ region: '', zone: '', subzone: '' });

/** `us-east/zone1/a` (or `us-east.zone1.a`, the label form) as a {@link Locality}. */
export function parseLocality(text: string): Locality {
  // SanitizeLocalityLabel: a value without "/" uses "." for it (labels cannot hold "/").
  const parts = (text.includes('/') ? text : text.replaceAll('.', '/')).split('/');
  return { region: parts[0] ?? '', zone: parts[1] ?? '', subzone: parts.slice(2).join('/') };
}

/** `region/zone/subzone` without empty trailing parts (Istio's LocalityToString). */
export function localityString(l: Locality): string {
  if (l.zone === '') return l.region;
  return l.subzone === '' ? `${l.region}/${l.zone}` : `${l.region}/${l.zone}/${l.subzone}`;
}

/**
 * An endpoint's (or a workload's) locality from its labels, as Istio reads it:
 * `topology.istio.io/locality`, else `istio-locality`, else the Kubernetes topology
 * labels `topology.kubernetes.io/region`, `topology.kubernetes.io/zone` and
 * `topology.istio.io/subzone`. None: the empty locality.
 */
export function localityOfLabels(labels: Readonly<Record<string, string>>): Locality {
  const written = labels[LOCALITY_LABEL] ?? labels[LEGACY_LOCALITY_LABEL];
  if (written !== undefined) return parseLocality(written);
  const region = labels[REGION_LABEL];
  const zone = labels[ZONE_LABEL];
  const subzone = labels[SUBZONE_LABEL];
  if (region === undefined && zone === undefined && subzone === undefined) return NO_LOCALITY;
  return { region: region ?? '', zone: zone ?? '', subzone: subzone ?? '' };
}

/** A label's value for failoverPriority: the label itself, or for the topology labels the locality's part. */
function labelValue(labels: Readonly<Record<string, string>>, locality: Locality, name: string): string | undefined {
  const own = labels[name];
  if (own !== undefined) return own;
  // Istio adds the topology labels to endpoints and proxies from their locality.
  if (name === REGION_LABEL) return locality.region || undefined;
  if (name === ZONE_LABEL) return locality.zone || undefined;
  if (name === SUBZONE_LABEL) return locality.subzone || undefined;
  return undefined;
}

/** Istio's LocalityMatch: does `locality` match the pattern (`region/zone/subzone`, `*` or a missing part for any)? */
export function localityMatches(locality: Locality, pattern: string): boolean {
  const [region = '', zone = '', subzone = ''] = pattern.split('/');
  return (region === '*' || locality.region === region) && (zone === '*' || zone === '' || locality.zone === zone) && (subzone === '*' || subzone === '' || locality.subzone === subzone);
}

/** Istio's LbPriority: 0 same region, zone and subzone; 1 same zone; 2 same region; 3 another region. */
export function localityPriority(client: Locality, endpoint: Locality): number {
  if (client.region !== endpoint.region) return 3;
  if (client.zone !== endpoint.zone) return 2;
  return client.subzone === endpoint.subzone ? 0 : 1;
}

/** The client as locality load balancing sees it. */
export interface LocalityClient {
  readonly locality: Locality;
  readonly labels: Readonly<Record<string, string>>;
}

/** What {@link planLocality} needs of an endpoint. */
export interface LocalityEndpoint {
  readonly labels: Readonly<Record<string, string>>;
  readonly weight: number;
}

/**
 * Where each endpoint goes: its priority (0 first; no gaps) and its group (a locality
 * whose share `distribute` sets, within its priority); `-1` for an endpoint that gets no
 * traffic (a locality `distribute` does not name).
 */
export interface LocalityPlan {
  readonly priorityOf: Int32Array;
  readonly groupOf: Int32Array;
  /** Per group: its priority, its weight (for choosing among the groups of a priority), its key. */
  readonly groups: ReadonlyArray<{ readonly priority: number; readonly weight: number; readonly key: string }>;
  readonly priorities: number;
}

/**
 * Plans priorities and groups for `endpoints` as Istio plans them for a client:
 *
 * - `setting` undefined: locality load balancing is off (`enabled: false`); only the
 *   discovery priority ({@link PRIORITY_LABEL}) orders endpoints.
 * - `distribute`: the first entry whose `from` matches the client sets each destination
 *   locality's weight (`ceil(localityWeight × patternWeight / sum of matched weights)`);
 *   localities no pattern names get no traffic. No failover then.
 * - otherwise, with `failover` enabled (outlier detection is set): `failoverPriority`
 *   labels first (the first of n labels to differ at position j gives n - j; a network
 *   label first only adds n), then the locality priorities (0 same subzone ... 3 other
 *   region; with a `failover` entry for the client's region, 3 for its `to` region and 4
 *   for the others), composed as priority × 5 + locality priority.
 *
 * The discovery priority stays the most significant. Priorities are renumbered from 0.
 */
export function planLocality(endpoints: readonly LocalityEndpoint[], client: LocalityClient, setting: LocalityLbSetting | undefined, failover: boolean): LocalityPlan {
  const n = endpoints.length;
  const localities = endpoints.map((e) => localityOfLabels(e.labels));
  const raw = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const base = Number(endpoints[i]!.labels[PRIORITY_LABEL] ?? 0);
    raw[i] = Number.isInteger(base) && base >= 0 && base < 1000 ? base : 0;
  }
  const groupKey: string[] = new Array<string>(n).fill('');
  const groupWeight = new Map<string, number>();
  let excluded: boolean[] | undefined;
  const distribute = setting?.distribute?.find((d) => localityMatches(client.locality, d.from ?? ''));
  if (setting !== undefined && distribute !== undefined) {
    excluded = applyDistribute(endpoints, localities, distribute.to ?? {}, groupKey, groupWeight);
  } else if (setting !== undefined && failover) {
    const labels = setting.failoverPriority ?? [];
    const byLabels = labels.length > 0 && Object.keys(client.labels).length > 0 ? failoverPriorities(endpoints, localities, client, labels) : undefined;
    const explicitFailover = setting.failover ?? [];
    // failoverPriority alone orders the endpoints; with `failover` too (or without
    // failoverPriority) the locality priorities apply within it (Istio's × 5).
    const withLocality = labels.length === 0 || explicitFailover.length > 0;
    for (let i = 0; i < n; i++) {
      const first = byLabels === undefined ? 0 : byLabels[i]!;
      const second = withLocality ? failoverLocalityPriority(client.locality, localities[i]!, explicitFailover) : 0;
      raw[i] = raw[i]! * 1_000_000 + first * 5 + second;
    }
  }
  return renumber(raw, groupKey, groupWeight, excluded);
}

function failoverLocalityPriority(client: Locality, endpoint: Locality, failover: ReadonlyArray<{ from?: string | undefined; to?: string | undefined }>): number {
  const priority = localityPriority(client, endpoint);
  if (priority !== 3) return priority;
  const entry = failover.find((f) => f.from === client.region);
  return entry !== undefined && endpoint.region !== entry.to ? 4 : 3;
}

/** Istio's applyFailoverPriorityPerLocality, one endpoint at a time. */
function failoverPriorities(endpoints: readonly LocalityEndpoint[], localities: readonly Locality[], client: LocalityClient, priorities: readonly string[]): number[] {
  const n = priorities.length;
  const names = priorities.map((p) => p.split('=')[0]!);
  const forced = priorities.map((p) => (p.includes('=') ? p.slice(p.indexOf('=') + 1) : undefined));
  const includesNetwork = names[0] === NETWORK_LABEL;
  return endpoints.map((endpoint, e) => {
    let priority = 0;
    let adjust = 0;
    for (let j = 0; j < n; j++) {
      const wanted = forced[j] ?? labelValue(client.labels, client.locality, names[j]!);
      if (wanted !== labelValue(endpoint.labels, localities[e]!, names[j]!)) {
        if (j === 0 && includesNetwork) {
          adjust = n;
          continue;
        }
        priority = n - j;
        break;
      }
    }
    return priority + adjust;
  });
}

/** Istio's applyLocalityWeights for the matching `from`: groups by locality; returns which endpoints get no traffic. */
function applyDistribute(
  endpoints: readonly LocalityEndpoint[],
  localities: readonly Locality[],
  to: Readonly<Record<string, number>>,
  groupKey: string[],
  groupWeight: Map<string, number>,
): boolean[] {
  // A locality's own weight is the sum of its endpoints' weights.
  const own = new Map<string, { locality: Locality; weight: number }>();
  endpoints.forEach((e, i) => {
    const key = localityString(localities[i]!);
    groupKey[i] = key;
    const entry = own.get(key);
    if (entry === undefined) own.set(key, { locality: localities[i]!, weight: e.weight });
    else entry.weight += e.weight;
  });
  const unmatched = new Set(own.keys());
  for (const [pattern, weight] of Object.entries(to)) {
    const matched = [...unmatched].filter((key) => localityMatches(own.get(key)!.locality, pattern));
    const total = matched.reduce((sum, key) => sum + own.get(key)!.weight, 0);
    for (const key of matched) {
      unmatched.delete(key);
      const share = (own.get(key)!.weight * weight) / total;
      // Istio keeps the locality's own weight when the share rounds to nothing.
      groupWeight.set(key, share > 0 ? Math.ceil(share) : own.get(key)!.weight);
    }
  }
  return groupKey.map((key) => unmatched.has(key));
}

function renumber(raw: Float64Array, groupKey: readonly string[], groupWeight: ReadonlyMap<string, number>, excluded: readonly boolean[] | undefined): LocalityPlan {
  const n = raw.length;
  const distinct = [...new Set(Array.from(raw).filter((_, i) => !excluded?.[i]))].sort((a, b) => a - b);
  const rank = new Map(distinct.map((value, i) => [value, i]));
  const priorityOf = new Int32Array(n);
  const groupOf = new Int32Array(n);
  const groups: Array<{ priority: number; weight: number; key: string }> = [];
  const groupIndex = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    if (excluded?.[i]) {
      priorityOf[i] = -1;
      groupOf[i] = -1;
      continue;
    }
    const priority = rank.get(raw[i]!)!;
    priorityOf[i] = priority;
    const key = `${priority}|${groupKey[i]}`;
    let g = groupIndex.get(key);
    if (g === undefined) {
      g = groups.push({ priority, weight: groupWeight.get(groupKey[i]!) ?? 1, key }) - 1;
      groupIndex.set(key, g);
    }
    groupOf[i] = g;
  }
  return { priorityOf, groupOf, groups, priorities: distinct.length };
}
