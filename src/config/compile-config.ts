import type { ServiceNamer } from '../discovery/service-name.js';
import { RouteTable } from '../route/route-table.js';
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
 * nothing is applied then (the caller keeps its last good config).
 */
export function compileConfig(entries: readonly ConfigEntry[], namer: ServiceNamer, workloadLabels: Readonly<Record<string, string>>): CompiledConfig {
  const config = loadConfig(entries, namer);
  const routes = new RouteTable(config.virtualServices, namer, workloadLabels);
  const warnings = [...config.warnings, ...routes.warnings, ...undefinedSubsets(config, namer)];
  return { config, routes, warnings, resources: entries.length };
}

/** Routes that name a subset no DestinationRule defines: Istio answers those with 503. */
function undefinedSubsets(config: MeshConfig, namer: ServiceNamer): string[] {
  const warnings: string[] = [];
  for (const { resource, where, namespace } of config.virtualServices) {
    for (const route of resource.spec.http ?? []) {
      const destinations = [...(route.route ?? []).map((r) => r.destination), ...(route.mirror ? [route.mirror] : []), ...(route.mirrors ?? []).map((m) => m.destination)];
      for (const d of destinations) {
        if (d.subset === undefined) continue;
        const fqdn = namer.nameIn(d.host, namespace).fqdn;
        const rule = config.destinationRules.get(fqdn);
        if (!rule?.resource.spec.subsets?.some((s) => s.name === d.subset)) {
          warnings.push(`${where}: route destination ${d.host} subset "${d.subset}" is not defined by any DestinationRule for ${fqdn}; requests to it get no endpoint`);
        }
      }
    }
  }
  return warnings;
}
