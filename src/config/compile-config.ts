import type { ServiceNamer } from '../discovery/service-name.js';
import { RouteTable } from '../route/route-table.js';
import { InvalidConfigError, InvalidOptionError } from '../core/errors.js';
import { outlierSettings } from '../policy/outlier-detection.js';
import { annotationValue, retryBudgetSettings } from './extensions.js';
import { HEALTH_CHECK_ANNOTATION, healthCheckSettings } from '../policy/health-check.js';
import { breakerSettings, CIRCUIT_BREAKER_ANNOTATION } from '../policy/circuit-breaker.js';
import type { ConfigCache } from './config-cache.js';
import { loadConfig, type ConfigEntry, type MeshConfig } from './load-config.js';

/** A validated config with its routes compiled: what the mesh swaps in atomically. */
export interface CompiledConfig {
  readonly config: MeshConfig;
  readonly routes: RouteTable;
  readonly warnings: readonly string[];
  /** How many resources it was built from. */
  readonly resources: number;
}

/**
 * Validates and compiles config entries. Throws `InvalidConfigError` with every problem;
 * nothing is applied then (the caller keeps its last good config). With a `cache`, only
 * resources that changed since the last compile are validated and compiled again; the
 * caller commits the cache once the result is in force.
 */
export function compileConfig(
  entries: readonly ConfigEntry[],
  namer: ServiceNamer,
  workloadLabels: Readonly<Record<string, string>>,
  cache?: ConfigCache,
): CompiledConfig {
  cache?.begin();
  try {
    const config = loadConfig(entries, namer, cache);
    checkAnnotations(config);
    const routes = new RouteTable(config.virtualServices, namer, workloadLabels, cache);
    const warnings = [...config.warnings, ...routes.warnings, ...undefinedSubsets(config, namer), ...ignoredWarmups(config)];
    return { config, routes, warnings, resources: entries.length };
  } catch (error) {
    if (error instanceof InvalidConfigError) throw error;
    // Validation lets nothing through that compiling refuses; should that ever happen, the
    // caller still gets the one error type config problems have (and keeps its config).
    throw new InvalidConfigError([`config could not be compiled: ${error instanceof Error ? error.message : String(error)}`], { cause: error });
  }
}

/** Validates our extension annotations on DestinationRules, every problem at once. */
function checkAnnotations(config: MeshConfig): void {
  const problems: string[] = [];
  for (const { resource, where } of config.destinationRules.values()) {
    try {
      retryBudgetSettings(resource.metadata.annotations, where);
      const health = annotationValue(resource.metadata.annotations, HEALTH_CHECK_ANNOTATION, where);
      if (health !== undefined) healthCheckSettings(health, where);
      const breaker = annotationValue(resource.metadata.annotations, CIRCUIT_BREAKER_ANNOTATION, where);
      if (breaker !== undefined) breakerSettings(breaker, where);
      const policies = [resource.spec.trafficPolicy, ...(resource.spec.subsets ?? []).map((s) => s.trafficPolicy)];
      for (const policy of policies) {
        outlierSettings(policy?.outlierDetection);
        for (const port of policy?.portLevelSettings ?? []) outlierSettings(port.outlierDetection);
      }
    } catch (error) {
      if (error instanceof InvalidConfigError) problems.push(...error.problems);
      else if (error instanceof InvalidOptionError) problems.push(...error.problems.map((p) => `${where}: outlierDetection.${p}`));
      else throw error;
    }
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);
}

/** `loadBalancer.warmup` where the balancer has no slow start (random, ring hash, passthrough): ignored, as Envoy ignores it. */
function ignoredWarmups(config: MeshConfig): string[] {
  const warnings: string[] = [];
  type Lb = { simple?: string | undefined; consistentHash?: unknown; warmup?: unknown; warmupDurationSecs?: unknown } | undefined;
  const check = (lb: Lb, where: string, path: string): void => {
    if (lb === undefined || (lb.warmup === undefined && lb.warmupDurationSecs === undefined)) return;
    const kind = lb.consistentHash !== undefined ? 'consistentHash' : lb.simple;
    if (kind === 'RANDOM' || kind === 'PASSTHROUGH' || kind === 'consistentHash') {
      warnings.push(`${where}: ${path}.${lb.warmup !== undefined ? 'warmup' : 'warmupDurationSecs'} is ignored with ${kind} (slow start applies to ROUND_ROBIN, LEAST_REQUEST and the default balancer, as in Envoy)`);
    }
  };
  for (const { resource, where } of config.destinationRules.values()) {
    const policies = [
      { policy: resource.spec.trafficPolicy, path: 'spec.trafficPolicy' },
      ...(resource.spec.subsets ?? []).map((s, i) => ({ policy: s.trafficPolicy, path: `spec.subsets[${i}].trafficPolicy` })),
    ];
    for (const { policy, path } of policies) {
      check(policy?.loadBalancer, where, `${path}.loadBalancer`);
      (policy?.portLevelSettings ?? []).forEach((port, i) => check(port.loadBalancer, where, `${path}.portLevelSettings[${i}].loadBalancer`));
    }
  }
  return warnings;
}

/** Routes that name a subset no DestinationRule defines: Istio answers those with 503. */
function undefinedSubsets(config: MeshConfig, namer: ServiceNamer): string[] {
  const warnings: string[] = [];
  // Runs on every reload over every route: no arrays built per route.
  const check = (d: { host: string; subset?: string | undefined }, where: string, namespace: string): void => {
    if (d.subset === undefined) return;
    const fqdn = namer.nameIn(d.host, namespace).fqdn;
    const rule = config.destinationRules.get(fqdn);
    if (!rule?.resource.spec.subsets?.some((s) => s.name === d.subset)) {
      warnings.push(`${where}: route destination ${d.host} subset "${d.subset}" is not defined by any DestinationRule for ${fqdn}; requests to it get no endpoint`);
    }
  };
  for (const { resource, where, namespace } of config.virtualServices) {
    for (const route of resource.spec.http ?? []) {
      for (const r of route.route ?? []) check(r.destination, where, namespace);
      if (route.mirror) check(route.mirror, where, namespace);
      for (const m of route.mirrors ?? []) check(m.destination, where, namespace);
    }
  }
  return warnings;
}
