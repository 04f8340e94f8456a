import { InvalidConfigError } from '../core/errors.js';
import { formatIssues } from '../core/validate.js';
import type { ServiceNamer } from '../discovery/service-name.js';
import { destinationRuleSchema } from './destination-rule.js';
import type { DestinationRule } from './types.js';
import { envelopeSchema, NETWORKING_API_VERSIONS } from './resource.js';

/** Config resources the mesh applies, indexed for lookup by service FQDN. */
export interface MeshConfig {
  /** DestinationRules by the FQDN of their `spec.host`. */
  readonly destinationRules: ReadonlyMap<string, DestinationRule>;
  /** Warnings: fields read but not supported yet, duplicate rules. */
  readonly warnings: readonly string[];
}

/** The kinds the mesh will read once their issues land; reported, never ignored silently. */
const PLANNED_KINDS = new Set(['VirtualService', 'ServiceEntry', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication', 'Gateway', 'Sidecar', 'WorkloadEntry']);

/**
 * Validates Istio resources given as objects and indexes them. Every problem of every
 * resource is reported at once in one {@link InvalidConfigError}; fields we do not
 * support yet are dropped with a warning naming the field and the resource.
 *
 * A DestinationRule's short `host` is resolved in its own `metadata.namespace` (or the
 * mesh's namespace), as Istio does.
 */
export function loadConfig(resources: readonly unknown[], namer: ServiceNamer): MeshConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const destinationRules = new Map<string, DestinationRule>();

  resources.forEach((resource, index) => {
    const envelope = envelopeSchema.safeParse(resource, { reportInput: true });
    if (!envelope.success) {
      problems.push(...formatIssues(envelope.error.issues).map((line) => `config[${index}]: ${line}`));
      return;
    }
    const { kind, apiVersion, metadata } = envelope.data;
    const where = `${kind}/${metadata.name} (config[${index}])`;
    if (kind !== 'DestinationRule') {
      problems.push(
        PLANNED_KINDS.has(kind)
          ? `${where}: kind ${kind} is not supported yet (supported: DestinationRule)`
          : `${where}: kind: ${JSON.stringify(kind)} (expected: one of "DestinationRule")`,
      );
      return;
    }
    if (!(NETWORKING_API_VERSIONS as readonly string[]).includes(apiVersion)) {
      problems.push(`${where}: apiVersion: ${JSON.stringify(apiVersion)} (expected: one of ${NETWORKING_API_VERSIONS.map((v) => `"${v}"`).join(', ')})`);
      return;
    }
    const parsed = parseDroppingUnknown(resource, where, problems, warnings);
    if (!parsed) return;
    const fqdn = namer.nameIn(parsed.spec.host, parsed.metadata.namespace).fqdn;
    if (destinationRules.has(fqdn)) {
      const first = destinationRules.get(fqdn)!;
      warnings.push(`${where}: another DestinationRule (${first.metadata.name}) already applies to host ${fqdn}; this one is ignored`);
      return;
    }
    destinationRules.set(fqdn, parsed);
  });

  if (problems.length > 0) throw new InvalidConfigError(problems);
  return { destinationRules, warnings };
}

/**
 * Parses with the strict schema. Unknown fields become warnings and are removed from a
 * copy, which is parsed again; any other issue is a problem.
 */
function parseDroppingUnknown(resource: unknown, where: string, problems: string[], warnings: string[]): DestinationRule | undefined {
  let candidate = resource;
  for (let round = 0; round < 2; round++) {
    const result = destinationRuleSchema.safeParse(candidate, { reportInput: true });
    if (result.success) return result.data;
    const unknown = result.error.issues.filter((i) => i.code === 'unrecognized_keys');
    const other = result.error.issues.filter((i) => i.code !== 'unrecognized_keys');
    if (other.length > 0) {
      problems.push(...formatIssues(other).map((line) => `${where}: ${line}`));
      return undefined;
    }
    candidate = structuredClone(candidate);
    const dropped: string[] = [];
    for (const issue of unknown) {
      if (issue.code !== 'unrecognized_keys') continue;
      let target = candidate as Record<PropertyKey, unknown>;
      for (const part of issue.path) target = target[part] as Record<PropertyKey, unknown>;
      for (const key of issue.keys) {
        dropped.push(`${where}: ${[...issue.path, key].join('.')} is not supported yet and is ignored`);
        delete target[key];
      }
    }
    warnings.push(...dropped.sort());
  }
  return undefined;
}
