/**
 * Per-service policy resolution: which DestinationRule applies to a service (Istio's
 * lookup), and what it makes of it for one port and subset — the balancer (with
 * locality), the subset's labels, connection-pool limits, outlier detection, and our
 * annotations (retry budget, health checks, circuit breaker).
 *
 * @module
 */
import { balancerFromSettings } from '../balance/from-load-balancer-settings.js';
import { localityBalancer } from '../balance/locality-balancer.js';
import { localityOfLabels, parseLocality, type LocalityClient } from '../balance/locality.js';
import { serviceNamespaceOf, type CompiledConfig } from '../compile/compile-config.js';
import type { ServiceEntrySource } from '../compile/service-entry-source.js';
import type { EffectiveDestinationRule } from '../config/destination-rule-index.js';
import { annotationValue, retryBudgetSettings } from '../config/extensions.js';
import { resolvePolicy } from '../config/service-policy.js';
import { breakerSettings, CIRCUIT_BREAKER_ANNOTATION, connectionPoolLimits, HEALTH_CHECK_ANNOTATION, healthCheckSettings, outlierSettings } from '../config/settings/index.js';
import type { ServiceNamer } from '../discovery/service-name.js';
import type { ServiceName } from '../discovery/types.js';
import type { EndpointState } from './endpoint-state.js';
import type { ResolvedMeshOptions } from './options.js';
import type { ServicePolicy } from './service-context.js';

/** See the module comment. */
export class ServicePolicies {
  readonly #namer: ServiceNamer;
  readonly #config: { readonly compiled: CompiledConfig };
  readonly #serviceEntries: ServiceEntrySource;
  /** This workload's locality (the `locality` option, else its own labels) and labels, for locality load balancing. */
  readonly #locality: LocalityClient;

  /**
   * @param config the config in force (read at each resolution: a reload applies)
   * @param serviceEntries the ServiceEntries in force, as discovery answers them
   */
  constructor(namer: ServiceNamer, config: { readonly compiled: CompiledConfig }, serviceEntries: ServiceEntrySource, options: Pick<ResolvedMeshOptions, 'locality' | 'labels'>) {
    this.#namer = namer;
    this.#config = config;
    this.#serviceEntries = serviceEntries;
    this.#locality = { locality: options.locality === undefined ? localityOfLabels(options.labels) : parseLocality(options.locality), labels: options.labels };
  }

  /** The DestinationRule in force for a service, by Istio's lookup (namespaces, wildcards, merging). */
  ruleFor(name: Pick<ServiceName, 'host' | 'fqdn'>): EffectiveDestinationRule | undefined {
    const compiled = this.#config.compiled;
    return compiled.destinationRules.lookup(name.fqdn, name.host, serviceNamespaceOf(name as ServiceName, this.#namer, compiled.serviceEntries));
  }

  /** The balancer, subset filter and policies a service gets from the config in force. */
  policyFor(name: ServiceName, port: number, subset: string | undefined): ServicePolicy {
    const query = { ...name, port };
    const entry = this.#serviceEntries.answer(query);
    if (entry?.passthrough) return { balancer: undefined, balancerKey: 'passthrough', subsetLabels: undefined };
    const meshExternal = entry?.meshExternal === true;
    const rule = this.ruleFor(name);
    const resolved = resolvePolicy(rule, port, subset);
    const settings = resolved.loadBalancer;
    const subsetLabels = resolved.subsetDefined ? resolved.subsetLabels : { 'proxyless.dev/undefined-subset': subset! };
    const limits = connectionPoolLimits(resolved.connectionPool);
    const retryBudget = rule ? retryBudgetSettings(rule.annotations, rule.where) : undefined;
    const healthSpec = rule ? annotationValue(rule.annotations, HEALTH_CHECK_ANNOTATION, rule.where) : undefined;
    const healthCheck = healthSpec === undefined ? undefined : healthCheckSettings(healthSpec, rule!.where);
    const breakerSpec = rule ? annotationValue(rule.annotations, CIRCUIT_BREAKER_ANNOTATION, rule.where) : undefined;
    const breaker = breakerSpec === undefined ? undefined : breakerSettings(breakerSpec, rule!.where);
    const common = { subsetLabels, limits, retryBudget, outlier: outlierSettings(resolved.outlierDetection), healthCheck, breaker, meshExternal, tls: resolved.trafficPolicy?.tls };
    if (settings?.simple === 'PASSTHROUGH') return { balancer: undefined, balancerKey: 'passthrough', ...common };
    // Locality failover needs outlier detection, as in Istio (loadbalancer.go: ApplyToCluster).
    const failover = resolved.outlierDetection !== undefined;
    const balancer = localityBalancer<EndpointState>(settings, failover, this.#locality, () => balancerFromSettings<EndpointState>(settings ?? {}));
    return { balancer, balancerKey: JSON.stringify({ settings: settings ?? {}, failover }), ...common };
  }
}
