import type { z } from 'zod';
import type { PathPart } from '../config-path.js';
import type { Findings } from './findings.js';
import type { loadBalancerSchema } from './traffic-policy.js';

/**
 * Istio's rules for `LoadBalancerSettings` (istio/istio pkg/config/validation:
 * validation.go validateLoadBalancer; agent/validation.go ValidateLocalityLbSetting,
 * ValidateZoneAwareLbSetting, validateLocalities), in our own code.
 *
 * @module
 */

type LoadBalancer = z.output<typeof loadBalancerSchema>;
type Locality = NonNullable<LoadBalancer['localityLbSetting']>;

/** Envoy's primality test for Maglev table sizes (what Istio checks against). */
function isPrime(n: number): boolean {
  if (n !== 0 && n < 4) return true;
  if (n % 2 === 0) return false;
  for (let f = 3; f * f <= n; f += 2) if (n % f === 0) return false;
  return true;
}

const TOPOLOGY_LABELS = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);

/** Checks a load balancer; `outlier`: whether the same policy has outlier detection (failover needs it). */
export function checkLoadBalancer(lb: LoadBalancer | undefined, outlier: boolean, at: PathPart[], findings: Findings): void {
  if (lb === undefined) return;
  const kinds = (['simple', 'consistentHash', 'backendUtilization'] as const).filter((k) => lb[k] !== undefined);
  if (kinds.length > 1) findings.errorText(at, `one of simple, consistentHash, backendUtilization (this one sets ${kinds.join(' and ')})`);
  if (lb.simple === 'LEAST_CONN') findings.warn([...at, 'simple'], 'deprecated: LEAST_CONN is LEAST_REQUEST for Istio, as for proxyless; write LEAST_REQUEST');
  const hash = lb.consistentHash;
  if (hash !== undefined) {
    const here = [...at, 'consistentHash'];
    const keys = (['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const).filter((k) => hash[k] !== undefined);
    if (keys.length > 1) findings.errorText(here, `one hash key of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName (this one sets ${keys.join(' and ')})`);
    if (hash.ringHash !== undefined && hash.maglev !== undefined) findings.errorText(here, 'either ringHash or maglev, not both');
    const cookie = hash.httpCookie;
    if (cookie !== undefined) {
      if (cookie.name === '') findings.errorText([...here, 'httpCookie', 'name'], 'a cookie name (required)');
      const names = new Set<string>();
      (cookie.attributes ?? []).forEach((attribute, i) => {
        if (attribute.name === '') findings.errorText([...here, 'httpCookie', 'attributes', i, 'name'], 'a cookie attribute name (required)');
        else if (names.has(attribute.name)) findings.error([...here, 'httpCookie', 'attributes', i, 'name'], attribute.name, 'cookie attribute names unique');
        names.add(attribute.name);
      });
    }
    if (hash.minimumRingSize !== undefined && hash.minimumRingSize !== 0 && (hash.ringHash !== undefined || hash.maglev !== undefined)) {
      findings.errorText(here, 'either the deprecated minimumRingSize or ringHash/maglev, not both');
    }
    const maglev = hash.maglev;
    if (maglev !== undefined) {
      const size = maglev.tableSize ?? 0;
      if (size === 0) findings.errorText([...here, 'maglev', 'tableSize'], 'a table size for maglev (required), a prime below 5000011 such as 65537');
      else if (size >= 5000011) findings.error([...here, 'maglev', 'tableSize'], size, 'a prime below 5000011');
      else if (!isPrime(size)) findings.error([...here, 'maglev', 'tableSize'], size, 'a prime number, such as 65537');
    }
  }
  if (lb.localityLbSetting !== undefined && lb.zoneAwareLbSetting !== undefined) findings.errorText(at, 'either localityLbSetting or zoneAwareLbSetting, not both');
  if (lb.localityLbSetting !== undefined) checkLocality(lb.localityLbSetting, outlier, [...at, 'localityLbSetting'], findings);
  if (lb.zoneAwareLbSetting !== undefined) checkZoneAware(lb.zoneAwareLbSetting, outlier, [...at, 'zoneAwareLbSetting'], findings);
  const warmup = lb.warmup;
  if (warmup !== undefined) {
    if (warmup.aggression !== undefined && warmup.aggression <= 0) findings.error([...at, 'warmup', 'aggression'], warmup.aggression, 'a number > 0 (1 ramps linearly)');
  }
}

function checkLocality(setting: Locality, outlier: boolean, at: PathPart[], findings: Findings): void {
  const distribute = setting.distribute ?? [];
  const failover = setting.failover ?? [];
  const priority = setting.failoverPriority ?? [];
  if (distribute.length > 0 && failover.length > 0) {
    findings.errorText(at, 'either distribute or failover, not both');
    return;
  }
  if (failover.length > 0) {
    const topology = priority.find((label) => TOPOLOGY_LABELS.has(label));
    if (topology !== undefined) {
      findings.errorText([...at, 'failoverPriority'], `no topology label (${topology}) in failoverPriority together with failover`);
      return;
    }
  }
  for (let i = 0; i < distribute.length; i++) {
    const to = distribute[i]!.to ?? {};
    const weights = Object.values(to);
    if (weights.some((w) => w <= 0 || w > 100)) {
      findings.errorText([...at, 'distribute', i, 'to'], 'locality weights from 1 to 100');
      return;
    }
    const total = weights.reduce((a, b) => a + b, 0);
    if (total !== 100) {
      findings.errorText([...at, 'distribute', i, 'to'], `locality weights that sum to 100 (these sum to ${total})`);
      return;
    }
    checkLocalities(Object.keys(to), (j) => [...at, 'distribute', i, 'to', Object.keys(to)[j]!], [...at, 'distribute', i, 'to'], findings);
  }
  checkLocalities(distribute.map((d) => d.from ?? ''), (j) => [...at, 'distribute', j, 'from'], [...at, 'distribute'], findings);
  if ((failover.length > 0 || priority.length > 0) && !outlier) {
    findings.warn([...at, failover.length > 0 ? 'failover' : 'failoverPriority'], 'failover needs outlier detection in the same traffic policy: without it, endpoints are never found unhealthy and traffic never fails over');
  }
  checkFailovers(failover, [...at, 'failover'], 'locality', findings);
}

function checkZoneAware(setting: NonNullable<LoadBalancer['zoneAwareLbSetting']>, outlier: boolean, at: PathPart[], findings: Findings): void {
  const failover = setting.failover ?? [];
  const priority = setting.failoverPriority ?? [];
  priority.forEach((label, i) => {
    if (TOPOLOGY_LABELS.has(label)) findings.error([...at, 'failoverPriority', i], label, 'a label other than the topology labels: zone-aware balancing handles region, zone and subzone itself');
  });
  if ((failover.length > 0 || priority.length > 0) && !outlier) {
    findings.warn([...at, failover.length > 0 ? 'failover' : 'failoverPriority'], 'failover needs outlier detection in the same traffic policy');
  }
  checkFailovers(failover, [...at, 'failover'], 'zone-aware', findings);
}

function checkFailovers(failover: ReadonlyArray<{ from?: string | undefined; to?: string | undefined }>, at: PathPart[], kind: string, findings: Findings): void {
  failover.forEach((f, i) => {
    const from = f.from ?? '';
    const to = f.to ?? '';
    if (from === to) findings.errorText([...at, i], `a ${kind} failover between two different regions (from and to are both "${from}")`);
    for (const [key, value] of [['from', from], ['to', to]] as const) {
      if (value.includes('/')) findings.error([...at, i, key], value, `a region alone: ${kind} failover names regions, not zones`);
      if (value.includes('*')) findings.error([...at, i, key], value, 'a region without "*"');
    }
  });
}

/**
 * Localities (`region[/zone[/subzone]]`, a single trailing `*` allowed) that do not
 * overlap (validateLocalities). The first problem is reported: at the locality for
 * its own syntax, at `listAt` for an overlap.
 */
function checkLocalities(localities: readonly string[], itemAt: (i: number) => PathPart[], listAt: PathPart[], findings: Findings): void {
  const tree = new Map<string, Map<string, Set<string>>>();
  for (let i = 0; i < localities.length; i++) {
    const locality = localities[i]!;
    const stars = locality.split('*').length - 1;
    if (stars > 1 || (stars === 1 && !locality.endsWith('*'))) {
      findings.error(itemAt(i), locality, 'a locality region/zone/subzone with at most one "*", at its end');
      return;
    }
    if (tree.has('*')) {
      findings.errorText(listAt, `localities that do not overlap: "${locality}" overlaps an earlier one`);
      return;
    }
    const parts = locality.split('/');
    if (parts.length > 3) parts.splice(2, parts.length - 2, parts.slice(2).join('/'));
    if (parts.some((p) => p === '')) {
      findings.error(itemAt(i), locality, 'a locality region/zone/subzone without empty parts');
      return;
    }
    const [region, zone, subzone] = parts as [string, string | undefined, string | undefined];
    const overlap = (): void => findings.errorText(listAt, `localities that do not overlap: "${locality}" overlaps an earlier one`);
    const zones = tree.get(region);
    if (zone === undefined) {
      if (zones !== undefined) return overlap();
      tree.set(region, new Map([['*', new Set(['*'])]]));
    } else if (subzone === undefined) {
      if (zones !== undefined && (zones.has('*') || zones.has(zone))) return overlap();
      if (zones === undefined) tree.set(region, new Map([[zone, new Set(['*'])]]));
      else zones.set(zone, new Set(['*']));
    } else {
      if (zones === undefined) tree.set(region, new Map([[zone, new Set([subzone])]]));
      else {
        if (zones.has('*')) return overlap();
        const subzones = zones.get(zone);
        if (subzones === undefined) zones.set(zone, new Set([subzone]));
        else if (subzones.has('*') || subzones.has(subzone)) return overlap();
        else subzones.add(subzone);
      }
    }
  }
}
