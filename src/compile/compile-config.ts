import type { ServiceNamer } from '../discovery/service-name.js';
import type { ServiceName } from '../discovery/types.js';
import { byCreation } from '../config/creation-order.js';
import { RouteTable } from '../route/route-table.js';
import { InvalidConfigError, InvalidOptionError, type ConfigDiagnostic } from '../core/errors/index.js';
import { outlierSettings } from '../config/settings/outlier.js';
import { annotationValue, retryBudgetSettings } from '../config/extensions.js';
import { HEALTH_CHECK_ANNOTATION, healthCheckSettings } from '../config/settings/health-check.js';
import { breakerSettings, CIRCUIT_BREAKER_ANNOTATION } from '../config/settings/breaker.js';
import type { ConfigCache } from '../config/config-cache.js';
import { DestinationRuleIndex } from '../config/destination-rule-index.js';
import { loadConfig, type ConfigEntry, type LoadOptions, type Located, type MeshConfig, type ServiceEntryResource } from '../config/load-config.js';
import { selectVirtualServices } from '../config/virtual-service-selection.js';
import { describeExportTo, exportSet, visibleTo } from '../config/visibility.js';
import { serviceEntryFor } from './service-entry-source.js';

/** A validated config with its routes compiled: what the mesh swaps in atomically. */
export interface CompiledConfig {
  readonly config: MeshConfig;
  readonly routes: RouteTable;
  /** Which DestinationRule applies to a service, for this mesh. */
  readonly destinationRules: DestinationRuleIndex;
  /** The ServiceEntries exported to this mesh's namespace, oldest first. */
  readonly serviceEntries: readonly Located<ServiceEntryResource>[];
  readonly warnings: readonly string[];
  /** The loader's warnings and notes with their field paths apart (see `ConfigDiagnostic`). */
  readonly diagnostics: readonly ConfigDiagnostic[];
  /** How many resources it was built from. */
  readonly resources: number;
}

/** The mesh as the client of its config: what decides which resources apply to it. */
export interface ConfigClient {
  /** This workload's labels (`sourceLabels`, `workloadSelector`). Default none. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Istio's root namespace (MeshConfig `rootNamespace`). Default `istio-system`. */
  readonly rootNamespace?: string;
}

/** Istio's default MeshConfig `rootNamespace`. */
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';

/**
 * Validates and compiles config entries. Throws `InvalidConfigError` with every problem;
 * nothing is applied then (the caller keeps its last good config). With a `cache`, only
 * resources that changed since the last compile are validated and compiled again; the
 * caller commits the cache once the result is in force.
 */
export function compileConfig(
  entries: readonly ConfigEntry[],
  namer: ServiceNamer,
  client: ConfigClient = {},
  cache?: ConfigCache,
  options: LoadOptions = {},
): CompiledConfig {
  cache?.begin();
  let loaded: MeshConfig | undefined;
  try {
    const config = (loaded = loadConfig(entries, namer, cache, options));
    checkAnnotations(config);
    const labels = client.labels ?? {};
    const selectionWarnings: string[] = [];
    const selected = selectVirtualServices(config.virtualServices, { namespace: namer.namespace }, selectionWarnings);
    const routes = new RouteTable(selected, namer, labels, cache);
    const destinationRules = new DestinationRuleIndex(config.destinationRules, namer, { namespace: namer.namespace, rootNamespace: client.rootNamespace ?? DEFAULT_ROOT_NAMESPACE, labels });
    const serviceEntries = visibleServiceEntries(config.serviceEntries, namer.namespace, selectionWarnings);
    const later = [
      ...selectionWarnings,
      ...routes.warnings,
      ...destinationRules.warnings,
      ...undefinedSubsets(config, namer, destinationRules, serviceEntries),
      ...ignoredWarmups(config),
    ];
    const warnings = [...config.warnings, ...later];
    const diagnostics = [...config.diagnostics, ...later.map(warningFromLine)];
    return { config, routes, destinationRules, serviceEntries, warnings, diagnostics, resources: entries.length };
  } catch (error) {
    // The loader's warnings stay with the errors found after it (the reader sees both).
    if (error instanceof InvalidConfigError && loaded !== undefined) throw new InvalidConfigError(error.diagnostics.filter((d) => d.severity === 'error'), { warnings: loaded.diagnostics, cause: error.cause });
    if (error instanceof InvalidConfigError) throw error;
    // Validation lets nothing through that compiling refuses; should that ever happen, the
    // caller still gets the one error type config problems have (and keeps its config).
    throw new InvalidConfigError([`config could not be compiled: ${error instanceof Error ? error.message : String(error)}`], { cause: error, warnings: loaded?.diagnostics ?? [] });
  }
}

/**
 * A warning of the route table or the subset check (one line, `Kind/name (origin): [path: ]message`)
 * as a diagnostic with its parts apart, the path in the one format every message uses.
 */
function warningFromLine(line: string): ConfigDiagnostic {
  const end = line.indexOf('): ');
  if (!/^[A-Za-z]+\//.test(line) || end < 0) return { severity: 'warning', where: '', path: '', message: line };
  const where = line.slice(0, end + 1);
  const rest = line.slice(end + 3);
  const path = /^(spec[^\s:]*)(?::\s|\s)/.exec(rest);
  return path === null ? { severity: 'warning', where, path: '', message: rest } : { severity: 'warning', where, path: path[1]!, message: rest.slice(path[0].length) };
}

/** Validates our extension annotations on DestinationRules, every problem at once. */
function checkAnnotations(config: MeshConfig): void {
  const problems: string[] = [];
  for (const { resource, where } of config.destinationRules) {
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

/**
 * ServiceEntries exported to the mesh's namespace (`exportTo`: `*`, `.`, namespaces,
 * `~` for none; Pilot model/push_context.go: IsServiceVisible), oldest first. Istio
 * prefers the oldest of several entries for one host.
 */
function visibleServiceEntries(entries: readonly Located<ServiceEntryResource>[], client: string, warnings: string[]): Located<ServiceEntryResource>[] {
  const out: Located<ServiceEntryResource>[] = [];
  for (const entry of byCreation(entries)) {
    const exportTo = entry.resource.spec.exportTo;
    if (visibleTo(exportSet(exportTo, entry.namespace), client)) out.push(entry);
    else warnings.push(`${entry.where}: spec.exportTo ${describeExportTo(exportTo)} does not export it to this mesh's namespace "${client}": its hosts are unknown here`);
  }
  return out;
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
function undefinedSubsets(config: MeshConfig, namer: ServiceNamer, rules: DestinationRuleIndex, serviceEntries: readonly Located<ServiceEntryResource>[]): string[] {
  const warnings: string[] = [];
  // Runs on every reload over every route: no arrays built per route.
  const check = (d: { host: string; subset?: string | undefined }, where: string, namespace: string): void => {
    if (d.subset === undefined) return;
    const name = namer.nameIn(d.host, namespace);
    const rule = rules.lookup(name.fqdn, name.host, serviceNamespaceOf(name, namer, serviceEntries));
    if (!rule?.subsets.some((s) => s.name === d.subset)) {
      warnings.push(`${where}: route destination ${d.host} subset "${d.subset}" is not defined by any DestinationRule for ${name.fqdn}; requests to it get no endpoint`);
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

/**
 * The namespace a service lives in, as Istio knows it: a Kubernetes name's
 * (`reviews.bookinfo.svc.cluster.local`), else the namespace of the ServiceEntry that
 * declares it; undefined for a name neither says.
 */
export function serviceNamespaceOf(name: ServiceName, namer: ServiceNamer, serviceEntries: readonly Located<ServiceEntryResource>[]): string | undefined {
  const entry = serviceEntryFor(serviceEntries, namer, name);
  if (entry !== undefined) return entry.namespace;
  const suffix = `.svc.${namer.clusterDomain}`;
  if (!name.fqdn.endsWith(suffix)) return undefined;
  const parts = name.fqdn.slice(0, -suffix.length).split('.');
  return parts.length === 2 ? parts[1] : undefined;
}
