import type * as z from 'zod';
import { InvalidConfigError, renderDiagnostic, type ConfigDiagnostic } from '../core/errors/index.js';
import { ConfigCache, type ValidatedResource } from './config-cache.js';
import type { ServiceNamer } from '../discovery/service-name.js';
import type { destinationRuleSchema } from './istio/destination-rule.js';
import type { NormalizedServiceEntry, NormalizedVirtualService } from './istio/normalize.js';
import { shapeProblem } from './limits.js';
import { resourceName, validateResource, type UnknownFieldsMode } from './validate-resource.js';
import type { LocalRateLimitResource } from './proxyless/local-rate-limit.js';
import type { AuthorizationPolicyResource, PeerAuthenticationResource, RequestAuthenticationResource } from '../security/types.js';

/** A validated DestinationRule. */
export type DestinationRuleResource = z.output<typeof destinationRuleSchema>;
/** A validated VirtualService, as the mesh applies it. */
export type VirtualServiceResource = NormalizedVirtualService;
/** A validated ServiceEntry, as the mesh applies it. */
export type ServiceEntryResource = NormalizedServiceEntry;

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

/** A resource that is not mesh config (a Deployment, an Istio Gateway), skipped with a note. */
export interface SkippedResource {
  /** Its kind (`Deployment`). */
  readonly kind: string;
  /** Its `metadata.name`, or `(unnamed)`. */
  readonly name: string;
  /** Where it came from (`mesh.yaml#3`). */
  readonly origin: string;
  /** Why it is skipped, in words. */
  readonly why: string;
}

/** Config resources the mesh applies, indexed for lookup. */
export interface MeshConfig {
  /** DestinationRules in load order (see DestinationRuleIndex for which applies). */
  readonly destinationRules: readonly Located<DestinationRuleResource>[];
  /** VirtualServices in order. */
  readonly virtualServices: readonly Located<VirtualServiceResource>[];
  /** ServiceEntries in order. */
  readonly serviceEntries: readonly Located<ServiceEntryResource>[];
  /** proxyless's `LocalRateLimit` resources in order (the inbound side selects its own). */
  readonly localRateLimits: readonly Located<LocalRateLimitResource>[];
  /** PeerAuthentications in load order (compiled for this workload by the mesh's security state). */
  readonly peerAuthentications: readonly Located<PeerAuthenticationResource>[];
  /** AuthorizationPolicies in load order. */
  readonly authorizationPolicies: readonly Located<AuthorizationPolicyResource>[];
  /** RequestAuthentications in load order. */
  readonly requestAuthentications: readonly Located<RequestAuthenticationResource>[];
  /** Warnings, one line each: fields not applied, unknown fields, conflicting resources. */
  readonly warnings: readonly string[];
  /** The warnings and notes with their field paths apart (see {@link ConfigDiagnostic}). */
  readonly diagnostics: readonly ConfigDiagnostic[];
  /** Resources that are not mesh config, skipped (one note per kind in {@link MeshConfig.diagnostics}). */
  readonly skipped: readonly SkippedResource[];
}

/** How the loader reads config. */
export interface LoadOptions {
  /** Unknown fields: warnings (default) or errors (`proxyless check --strict`). */
  readonly unknownFields?: UnknownFieldsMode;
}

/**
 * Validates Istio resources and indexes them. Every problem of every resource is
 * reported at once in one {@link InvalidConfigError}, each naming the document, the
 * field path, the value and what was expected, together with the warnings of the same
 * config; fields proxyless does not apply load with a warning naming the field and what
 * Istio does with it. Resources that are not mesh config are skipped with a note.
 *
 * A short host in a resource resolves in the resource's own `metadata.namespace` (or the
 * mesh's namespace), as Istio does.
 *
 * With a `cache`, a resource validated before (same origin, same content) is not
 * validated again; the caller calls `cache.begin()` before and `cache.commit()` once the
 * config is in force.
 */
export function loadConfig(entries: readonly ConfigEntry[], namer: ServiceNamer, cache?: ConfigCache, options: LoadOptions = {}): MeshConfig {
  const problems: ConfigDiagnostic[] = [];
  const warnings: ConfigDiagnostic[] = [];
  const skipped: SkippedResource[] = [];
  const destinationRules: Located<DestinationRuleResource>[] = [];
  const virtualServices: Located<VirtualServiceResource>[] = [];
  const serviceEntries: Located<ServiceEntryResource>[] = [];
  const validationOptions = { namespace: namer.namespace, unknownFields: options.unknownFields ?? 'warn' } as const;
  const localRateLimits: Located<LocalRateLimitResource>[] = [];
  const peerAuthentications: Located<PeerAuthenticationResource>[] = [];
  const authorizationPolicies: Located<AuthorizationPolicyResource>[] = [];
  const requestAuthentications: Located<RequestAuthenticationResource>[] = [];

  for (const entry of entries) {
    let json: string | undefined;
    let validated: ValidatedResource | undefined;
    let fresh = false;
    try {
      // Bounded first: what follows (JSON.stringify, zod, structuredClone) recurses.
      const shape = shapeProblem(entry.resource);
      if (shape !== undefined) {
        problems.push({ severity: 'error', where: resourceName(entry.resource, entry.origin), path: '', message: shape });
        continue;
      }
      json = cache === undefined ? undefined : ConfigCache.contentOf(entry.resource);
      validated = json === undefined ? undefined : cache!.lookup(entry.origin, json);
      if (validated === undefined) {
        const result = validateResource(entry.resource, entry.origin, validationOptions);
        if (result.status === 'skipped') {
          skipped.push({ kind: result.kind, name: result.name, origin: entry.origin, why: result.why });
          continue;
        }
        if (result.status === 'invalid') {
          problems.push(...result.errors);
          warnings.push(...result.warnings);
          continue;
        }
        validated = result.validated;
        fresh = true;
      }
    } catch (error) {
      // A resource object from code can throw from a getter or a Proxy trap.
      problems.push({ severity: 'error', where: resourceName(entry.resource, entry.origin), path: '', message: `cannot be read: ${error instanceof Error ? error.message : String(error)}` });
      continue;
    }
    if (fresh && json !== undefined) cache!.store(entry.origin, json, validated);
    const { kind, parsed, where, namespace } = validated;
    warnings.push(...validated.warnings);
    if (kind === 'DestinationRule') {
      // Several rules for one host merge as Istio merges them (DestinationRuleIndex).
      destinationRules.push({ resource: parsed as DestinationRuleResource, where, namespace });
    } else if (kind === 'VirtualService') {
      virtualServices.push({ resource: parsed as VirtualServiceResource, where, namespace });
    } else if (kind === 'LocalRateLimit') {
      localRateLimits.push({ resource: parsed as LocalRateLimitResource, where, namespace });
    } else if (kind === 'ServiceEntry') {
      serviceEntries.push({ resource: parsed as ServiceEntryResource, where, namespace });
    } else if (kind === 'PeerAuthentication') {
      peerAuthentications.push({ resource: parsed as PeerAuthenticationResource, where, namespace });
    } else if (kind === 'AuthorizationPolicy') {
      authorizationPolicies.push({ resource: parsed as AuthorizationPolicyResource, where, namespace });
    } else if (kind === 'RequestAuthentication') {
      requestAuthentications.push({ resource: parsed as RequestAuthenticationResource, where, namespace });
    }
  }

  const diagnostics = [...warnings, ...skipNotes(skipped)];
  if (problems.length > 0) throw new InvalidConfigError(problems, { warnings: diagnostics });
  return { destinationRules, virtualServices, serviceEntries, localRateLimits, peerAuthentications, authorizationPolicies, requestAuthentications, warnings: warnings.map(renderDiagnostic), diagnostics, skipped };
}

/** One note per skipped kind, naming its resources. */
function skipNotes(skipped: readonly SkippedResource[]): ConfigDiagnostic[] {
  const byKind = new Map<string, SkippedResource[]>();
  for (const s of skipped) {
    const list = byKind.get(s.kind);
    if (list) list.push(s);
    else byKind.set(s.kind, [s]);
  }
  return [...byKind.values()].map((list) => ({
    severity: 'note',
    where: '',
    path: '',
    message: `skipped ${list.length} ${list[0]!.kind} (${list[0]!.why}): ${list.map((s) => `${s.name} (${s.origin})`).join(', ')}`,
  }));
}
