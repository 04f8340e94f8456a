import type { DestinationRuleResource, Located, MeshConfig, VirtualServiceResource } from './load-config.js';

type TrafficPolicy = NonNullable<DestinationRuleResource['spec']['trafficPolicy']>;
type HttpRoute = NonNullable<VirtualServiceResource['spec']['http']>[number];

/**
 * Deprecated Istio fields that are still in the wild, each handled as current Istio
 * handles it, with a warning that says what Istio does with it and what to write
 * instead (semantics.md §13):
 *
 * | field | Istio today | proxyless |
 * | --- | --- | --- |
 * | `outlierDetection.consecutiveErrors` | warns; ignored since 1.7 (`cluster_traffic_policy.go: applyOutlierDetection` never reads it): Envoy's defaults apply | ignored, warning |
 * | `http[].mirrorPercent` | used when `mirrorPercentage` is unset (`route.go: MirrorPercent`) | the same, warning |
 * | `fault.delay.percent` | used when `percentage` is unset (`route.go: TranslateFault`) | the same, warning |
 * | `consistentHash.minimumRingSize` | the ring size when `ringHash` is unset | the same, warning |
 * | `loadBalancer.simple: LEAST_CONN` | the same as `LEAST_REQUEST` | the same, warning |
 * | `loadBalancer.warmupDurationSecs` | the slow-start window when `warmup` is unset | the same, warning |
 *
 * Paths are in the corpus's format (`spec.subsets[1].trafficPolicy...`).
 */
export function deprecatedFieldWarnings(config: MeshConfig): string[] {
  const warnings: string[] = [];
  for (const rule of config.destinationRules) destinationRuleWarnings(rule, warnings);
  for (const vs of config.virtualServices) virtualServiceWarnings(vs, warnings);
  return warnings;
}

function destinationRuleWarnings({ resource, where }: Located<DestinationRuleResource>, warnings: string[]): void {
  const spec = resource.spec;
  const policies: Array<[TrafficPolicy | undefined, string]> = [[spec.trafficPolicy, 'spec.trafficPolicy']];
  (spec.subsets ?? []).forEach((s, i) => policies.push([s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`]));
  for (const [policy, path] of policies) {
    if (policy === undefined) continue;
    const levels: Array<[Omit<TrafficPolicy, 'portLevelSettings'>, string]> = [[policy, path]];
    (policy.portLevelSettings ?? []).forEach((p, i) => levels.push([p, `${path}.portLevelSettings[${i}]`]));
    for (const [level, at] of levels) {
      const outlier = level.outlierDetection;
      if (outlier?.consecutiveErrors !== undefined && outlier.consecutiveErrors !== 0) {
        const n = outlier.consecutiveErrors;
        const instead = outlier.consecutive5xxErrors === undefined && outlier.consecutiveGatewayErrors === undefined;
        warnings.push(
          `${where}: ${at}.outlierDetection.consecutiveErrors is deprecated and ignored, as Istio ignores it since 1.7: ` +
            `${instead ? "Envoy's defaults apply (ejection after 5 consecutive 5xx responses, gateway errors not counted on their own)" : 'the consecutive5xxErrors/consecutiveGatewayErrors written beside it apply'}. ` +
            `To eject after ${n} consecutive gateway errors (502, 503, 504, connection failures) write consecutiveGatewayErrors: ${n}; after ${n} consecutive 5xx of any kind, consecutive5xxErrors: ${n}` +
            ' (Istio 1.1 to 1.6 read consecutiveErrors as consecutiveGatewayErrors)',
        );
      }
      const lb = level.loadBalancer;
      if (lb?.simple === 'LEAST_CONN') {
        warnings.push(`${where}: ${at}.loadBalancer.simple: LEAST_CONN is deprecated; Istio treats it as LEAST_REQUEST, and so does proxyless: write LEAST_REQUEST`);
      }
      if (lb?.warmupDurationSecs !== undefined) {
        warnings.push(
          `${where}: ${at}.loadBalancer.warmupDurationSecs is deprecated; ` +
            (lb.warmup === undefined
              ? `Istio still uses it as the slow-start window when warmup is unset, and so does proxyless: write warmup: { duration: ${lb.warmupDurationSecs} }`
              : 'warmup is set too and wins, as in Istio'),
        );
      }
      const hash = lb?.consistentHash;
      if (hash?.minimumRingSize !== undefined) {
        warnings.push(
          `${where}: ${at}.loadBalancer.consistentHash.minimumRingSize is deprecated; ` +
            (hash.ringHash === undefined ? 'Istio still uses it as the ring size when ringHash is unset, and so does proxyless: write ringHash: { minimumRingSize: ' + hash.minimumRingSize + ' }' : 'ringHash.minimumRingSize is set too and wins, as in Istio'),
        );
      }
    }
  }
}

function virtualServiceWarnings({ resource, where }: Located<VirtualServiceResource>, warnings: string[]): void {
  (resource.spec.http ?? []).forEach((route: HttpRoute, i) => {
    if (route.mirrorPercent !== undefined) {
      warnings.push(
        `${where}: spec.http[${i}].mirrorPercent is deprecated; ` +
          (route.mirrorPercentage === undefined
            ? `Istio still mirrors that share when mirrorPercentage is unset, and so does proxyless: write mirrorPercentage: { value: ${route.mirrorPercent} }`
            : 'mirrorPercentage is set too and wins, as in Istio'),
      );
    }
    const delay = route.fault?.delay;
    if (delay?.percent !== undefined) {
      warnings.push(
        `${where}: spec.http[${i}].fault.delay.percent is deprecated; ` +
          (delay.percentage === undefined
            ? `Istio still delays that share when percentage is unset, and so does proxyless: write percentage: { value: ${delay.percent} }`
            : 'percentage is set too and wins, as in Istio'),
      );
    }
  });
}
