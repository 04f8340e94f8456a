import type * as z from 'zod';
import { InvalidConfigError } from '../core/errors.js';
import { formatIssues } from '../core/validate.js';
import { ConfigCache, type ValidatedResource } from './config-cache.js';
import type { ServiceNamer } from '../discovery/service-name.js';
import { destinationRuleSchema } from './istio/destination-rule.js';
import { serviceEntrySchema } from './istio/service-entry.js';
import { virtualServiceSchema } from './istio/virtual-service.js';
import { envelopeSchema, NETWORKING_API_VERSIONS } from './resource.js';
import { shapeProblem } from './limits.js';
import { localRateLimitSchema, PROXYLESS_API_VERSION, type LocalRateLimitResource } from './proxyless/local-rate-limit.js';

/** A validated DestinationRule. */
export type DestinationRuleResource = z.infer<typeof destinationRuleSchema>;
/** A validated VirtualService. */
export type VirtualServiceResource = z.infer<typeof virtualServiceSchema>;
/** A validated ServiceEntry. */
export type ServiceEntryResource = z.infer<typeof serviceEntrySchema>;

/** A resource and where it came from (`mesh.yaml#2`, `config[0]`), for messages. */
export interface ConfigEntry {
  readonly resource: unknown;
  readonly origin: string;
}

/** A validated resource with the name messages use for it: `VirtualService/reviews (mesh.yaml#2)`. */
export interface Located<T> {
  readonly resource: T;
  readonly where: string;
  /** The namespace short hosts in it resolve in. */
  readonly namespace: string;
}

/** Config resources the mesh applies, indexed for lookup. */
export interface MeshConfig {
  /** DestinationRules by the FQDN of their `spec.host` (the first one wins, as in Istio). */
  readonly destinationRules: ReadonlyMap<string, Located<DestinationRuleResource>>;
  /** VirtualServices in order. */
  readonly virtualServices: readonly Located<VirtualServiceResource>[];
  /** ServiceEntries in order. */
  readonly serviceEntries: readonly Located<ServiceEntryResource>[];
  /** proxyless's `LocalRateLimit` resources in order (the inbound side selects its own). */
  readonly localRateLimits: readonly Located<LocalRateLimitResource>[];
  /** Warnings: fields not supported or not enforced yet, conflicting resources. */
  readonly warnings: readonly string[];
}

/** The kinds the mesh will read once their issues land; reported, never ignored silently. */
const PLANNED_KINDS = new Set(['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication']);
const OTHER_ISTIO_KINDS = new Set(['Gateway', 'Sidecar', 'WorkloadEntry', 'WorkloadGroup', 'EnvoyFilter', 'Telemetry', 'ProxyConfig']);
const SCHEMAS = {
  DestinationRule: destinationRuleSchema,
  VirtualService: virtualServiceSchema,
  ServiceEntry: serviceEntrySchema,
} as const;
/** proxyless's own kinds (`proxyless.dev/v1alpha1`): extensions Istio has no resource for. */
const PROXYLESS_SCHEMAS = {
  LocalRateLimit: localRateLimitSchema,
} as const;

/** Fields that load and validate but whose behaviour arrives with a later layer. */
const NOT_ENFORCED_YET: Record<string, readonly string[]> = {
  DestinationRule: [
    'spec.trafficPolicy.tls',
    'spec.trafficPolicy.connectionPool.http.maxConcurrentStreams',
    'spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration',
    'spec.exportTo',
  ],
  VirtualService: ['spec.exportTo'],
  ServiceEntry: ['spec.addresses', 'spec.exportTo'],
};

/**
 * Validates Istio resources and indexes them. Every problem of every resource is
 * reported at once in one {@link InvalidConfigError}, each naming the document, the
 * field path, the value and what was expected; fields we do not support are dropped
 * with a warning naming the field and the resource.
 *
 * A short host in a resource resolves in the resource's own `metadata.namespace` (or the
 * mesh's namespace), as Istio does.
 *
 * With a `cache`, a resource validated before (same origin, same content) is not
 * validated again; the caller calls `cache.begin()` before and `cache.commit()` once the
 * config is in force.
 */
export function loadConfig(entries: readonly ConfigEntry[], namer: ServiceNamer, cache?: ConfigCache): MeshConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const destinationRules = new Map<string, Located<DestinationRuleResource>>();
  const virtualServices: Located<VirtualServiceResource>[] = [];
  const serviceEntries: Located<ServiceEntryResource>[] = [];
  const localRateLimits: Located<LocalRateLimitResource>[] = [];

  for (const entry of entries) {
    let json: string | undefined;
    let validated: ValidatedResource | undefined;
    let fresh = false;
    try {
      // Bounded first: what follows (JSON.stringify, zod, structuredClone) recurses.
      const shape = shapeProblem(entry.resource);
      if (shape !== undefined) {
        problems.push(`${nameOf(entry)}: ${shape}`);
        continue;
      }
      json = cache === undefined ? undefined : ConfigCache.contentOf(entry.resource);
      validated = json === undefined ? undefined : cache!.lookup(entry.origin, json);
      if (validated === undefined) {
        validated = validateEntry(entry, namer, problems, warnings);
        fresh = true;
      }
    } catch (error) {
      // A resource object from code can throw from a getter or a Proxy trap.
      problems.push(`${nameOf(entry)}: cannot be read: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (validated === undefined) continue;
    if (fresh && json !== undefined) cache!.store(entry.origin, json, validated);
    const { kind, parsed, where, namespace } = validated;
    warnings.push(...validated.warnings);
    if (kind === 'DestinationRule') {
      const rule = parsed as DestinationRuleResource;
      const fqdn = namer.nameIn(rule.spec.host, namespace).fqdn;
      const first = destinationRules.get(fqdn);
      if (first) {
        warnings.push(`${where}: ${first.where} already applies to host ${fqdn}; this one is ignored (Istio uses the oldest)`);
        continue;
      }
      destinationRules.set(fqdn, { resource: rule, where, namespace });
    } else if (kind === 'VirtualService') {
      virtualServices.push({ resource: parsed as VirtualServiceResource, where, namespace });
    } else if (kind === 'LocalRateLimit') {
      localRateLimits.push({ resource: parsed as LocalRateLimitResource, where, namespace });
    } else {
      serviceEntries.push({ resource: parsed as ServiceEntryResource, where, namespace });
    }
  }

  if (problems.length > 0) throw new InvalidConfigError(problems);
  return { destinationRules, virtualServices, serviceEntries, localRateLimits, warnings };
}

/** `Kind/name (origin)` when the resource says its kind and name, else its origin; never throws. */
function nameOf({ resource, origin }: ConfigEntry): string {
  try {
    const r = resource as { kind?: unknown; metadata?: { name?: unknown } } | null;
    const kind = r?.kind;
    const name = r?.metadata?.name;
    // Escaped and cut short: these are not validated yet.
    const clip = (text: string): string => JSON.stringify(text).slice(1, -1).slice(0, 80);
    if (typeof kind === 'string' && typeof name === 'string') return `${clip(kind)}/${clip(name)} (${origin})`;
  } catch {
    // A getter that throws: the origin says enough.
  }
  return origin;
}

/**
 * Validates one resource on its own. Returns it with its own warnings when it is a kind
 * the mesh applies and valid; otherwise adds to `problems` (invalid) or `warnings` (a
 * kind that is reported and ignored) and returns `undefined`.
 */
function validateEntry({ resource, origin }: ConfigEntry, namer: ServiceNamer, problems: string[], warnings: string[]): ValidatedResource | undefined {
  const envelope = envelopeSchema.safeParse(resource, { reportInput: true });
  if (!envelope.success) {
    problems.push(...formatIssues(envelope.error.issues).map((line) => `${origin}: ${line}`));
    return undefined;
  }
  const { kind, apiVersion, metadata } = envelope.data;
  const where = `${kind}/${metadata.name} (${origin})`;
  const namespace = metadata.namespace ?? namer.namespace;
  if (kind in PROXYLESS_SCHEMAS) {
    if (apiVersion !== PROXYLESS_API_VERSION) {
      problems.push(`${where}: apiVersion: ${JSON.stringify(apiVersion)} (expected: "${PROXYLESS_API_VERSION}")`);
      return undefined;
    }
    const result = PROXYLESS_SCHEMAS[kind as keyof typeof PROXYLESS_SCHEMAS].safeParse(resource, { reportInput: true });
    if (!result.success) {
      problems.push(...formatIssues(result.error.issues).map((line) => `${where}: ${line}`));
      return undefined;
    }
    return { kind: kind as 'LocalRateLimit', parsed: result.data, where, namespace, warnings: [] };
  }
  if (!(kind in SCHEMAS)) {
    // Loud, not fatal: a platform team's files mix security and traffic resources.
    if (PLANNED_KINDS.has(kind)) warnings.push(`${where}: kind ${kind} is not supported yet; this resource is ignored (supported: ${Object.keys(SCHEMAS).join(', ')})`);
    else if (OTHER_ISTIO_KINDS.has(kind)) warnings.push(`${where}: kind ${kind} configures Istio's gateways or proxies and does not apply to an in-process mesh; ignored`);
    else problems.push(`${where}: kind: ${JSON.stringify(kind)} (expected: one of ${[...Object.keys(SCHEMAS), ...Object.keys(PROXYLESS_SCHEMAS)].map((k) => `"${k}"`).join(', ')})`);
    return undefined;
  }
  if (!(NETWORKING_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    problems.push(`${where}: apiVersion: ${JSON.stringify(apiVersion)} (expected: one of ${NETWORKING_API_VERSIONS.map((v) => `"${v}"`).join(', ')})`);
    return undefined;
  }
  const typedKind = kind as keyof typeof SCHEMAS;
  const own: string[] = [];
  const parsed: unknown = parseDroppingUnknown(SCHEMAS[typedKind] as z.ZodType<unknown>, resource, where, problems, own);
  if (parsed === undefined) return undefined;
  for (const path of NOT_ENFORCED_YET[typedKind] ?? []) {
    if (getPath(parsed, path) !== undefined) own.push(`${where}: ${path} is validated but not enforced yet`);
  }
  return { kind: typedKind, parsed: parsed as object, where, namespace, warnings: own };
}

/**
 * Parses with the strict schema. Unknown fields become warnings and are removed from a
 * copy, which is parsed again; any other issue is a problem.
 */
function parseDroppingUnknown<T>(schema: z.ZodType<T>, resource: unknown, where: string, problems: string[], warnings: string[]): T | undefined {
  let candidate = resource;
  for (let round = 0; round < 2; round++) {
    const result = schema.safeParse(candidate, { reportInput: true });
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
        dropped.push(`${where}: ${[...issue.path, key].join('.')} is not supported and is ignored`);
        delete target[key];
      }
    }
    warnings.push(...dropped.sort());
  }
  return undefined;
}

function getPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}
