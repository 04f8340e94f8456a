import type * as z from 'zod';
import type { ConfigDiagnostic } from '../core/errors/index.js';
import { expectation, formatValue, type Issue } from '../core/validate.js';
import type { ValidatedResource } from './config-cache.js';
import { formatConfigPath, type PathPart } from './config-path.js';
import { checkAnnotations } from './istio/common-rules.js';
import { supportWarning, unsupportedFields } from './istio/field-support.js';
import { Findings } from './istio/findings.js';
import { KIND_RULES, type KindRules } from './kind-rules.js';
import { decideKind } from './kinds.js';
import { metadataSchema } from './resource.js';

/** How the loader treats fields that are not in Istio's API (misspelled or unknown). */
export type UnknownFieldsMode = 'warn' | 'error';

/** What validating one resource gave. */
export type ResourceResult =
  | { readonly status: 'valid'; readonly validated: ValidatedResource }
  | { readonly status: 'invalid'; readonly errors: readonly ConfigDiagnostic[]; readonly warnings: readonly ConfigDiagnostic[] }
  | { readonly status: 'skipped'; readonly kind: string; readonly name: string; readonly why: string };

/** The mesh's view while validating: its namespace and how unknown fields count. */
export interface ValidationOptions {
  /** The namespace of resources without `metadata.namespace`. */
  readonly namespace: string;
  /** Unknown fields: a warning (default) or an error (`proxyless check --strict`). */
  readonly unknownFields?: UnknownFieldsMode;
}

/** A resource's own name for messages, safe on anything: `Kind/name (origin)`, or the origin. */
export function resourceName(resource: unknown, origin: string): string {
  try {
    const r = resource as { kind?: unknown; metadata?: { name?: unknown } } | null;
    const clip = (text: string): string => JSON.stringify(text).slice(1, -1).slice(0, 80);
    if (typeof r?.kind === 'string' && typeof r.metadata?.name === 'string') return `${clip(r.kind)}/${clip(r.metadata.name)} (${origin})`;
  } catch {
    // A getter that throws: the origin says enough.
  }
  return origin;
}

/**
 * Validates one resource as a cluster would (the CRD's structure and Istio's validation
 * rules), with every finding naming its field path. Kinds that are not mesh config are
 * skipped; fields proxyless does not apply are warned about; unknown fields are warnings
 * or errors (`options.unknownFields`). The resource is only read: the result holds a
 * validated copy.
 */
export function validateResource(resource: unknown, origin: string, options: ValidationOptions): ResourceResult {
  const errors: ConfigDiagnostic[] = [];
  const warnings: ConfigDiagnostic[] = [];
  const fail = (where: string, path: readonly PathPart[], message: string): ResourceResult => ({
    status: 'invalid',
    errors: [{ severity: 'error', where, path: formatConfigPath(path), message }],
    warnings: [],
  });
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    return fail(origin, [], `${formatValue(resource)} (expected: a resource with apiVersion, kind, metadata and spec)`);
  }
  const { apiVersion, kind } = resource as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string') return fail(origin, ['apiVersion'], `${formatValue(apiVersion)} (expected: an apiVersion such as "networking.istio.io/v1")`);
  if (typeof kind !== 'string') return fail(origin, ['kind'], `${formatValue(kind)} (expected: a kind such as "DestinationRule")`);
  const where = resourceName(resource, origin);
  const decision = decideKind(apiVersion, kind);
  if (decision.action === 'skip') {
    const name = (resource as { metadata?: { name?: unknown } }).metadata?.name;
    return { status: 'skipped', kind, name: typeof name === 'string' ? name : '(unnamed)', why: decision.why };
  }
  if (decision.action === 'reject') {
    return fail(where, [decision.field], `${formatValue(decision.field === 'kind' ? kind : apiVersion)} (expected: ${decision.expected})`);
  }
  const rules: KindRules = KIND_RULES[decision.kind];
  const metadata = metadataSchema.safeParse((resource as { metadata?: unknown }).metadata, { reportInput: true });
  if (!metadata.success) {
    return { status: 'invalid', errors: issuesToDiagnostics(metadata.error.issues, where, ['metadata']), warnings: [] };
  }
  const namespace = metadata.data.namespace ?? options.namespace;
  // `status` is the cluster's, never the user's: it is left out, not reported.
  const { status: _status, ...input } = resource as Record<string, unknown>;
  const parsed = parseReportingUnknown(rules.schema, input, where, options.unknownFields ?? 'warn', errors, warnings);
  if (parsed === undefined) return { status: 'invalid', errors, warnings };

  const findings = new Findings();
  checkAnnotations(metadata.data.annotations, findings, { dryRunAllowed: rules.dryRunAllowed });
  rules.check(parsed, { namespace, labels: metadata.data.labels }, findings);
  unsupportedFields(rules.schema, parsed, (path, entry) => {
    const message = supportWarning(entry);
    if (message !== undefined) findings.warn(path, message);
  });
  for (const f of findings.errors) errors.push({ severity: 'error', where, path: formatConfigPath(f.path), message: f.message });
  for (const f of findings.warnings) warnings.push({ severity: 'warning', where, path: formatConfigPath(f.path), message: f.message });
  warnings.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (errors.length > 0) return { status: 'invalid', errors, warnings };
  return { status: 'valid', validated: { kind: decision.kind, parsed: rules.normalize(parsed) as object, where, namespace, warnings } };
}

/** Zod issues as diagnostics of `where`, their paths under `prefix`. */
function issuesToDiagnostics(issues: readonly z.core.$ZodIssue[], where: string, prefix: readonly PathPart[] = []): ConfigDiagnostic[] {
  const out: ConfigDiagnostic[] = [];
  for (const raw of issues) {
    const issue = raw as Issue;
    const path = [...prefix, ...(issue.path as PathPart[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ severity: 'error', where, path: formatConfigPath([...path, key]), message: 'unknown field' });
    } else {
      out.push({ severity: 'error', where, path: formatConfigPath(path), message: `${formatValue(issue.input)} (expected: ${expectation(issue)})` });
    }
  }
  return out;
}

/**
 * Parses with the kind's strict schema. Unknown fields are warnings (removed from a copy,
 * which is parsed again) or, with `mode: 'error'`, errors; any other issue is an error.
 * Warnings are kept even when there are errors.
 */
function parseReportingUnknown(schema: z.ZodType, resource: unknown, where: string, mode: UnknownFieldsMode, errors: ConfigDiagnostic[], warnings: ConfigDiagnostic[]): unknown {
  let candidate = resource;
  for (let round = 0; round < 2; round++) {
    const result = schema.safeParse(candidate, { reportInput: true });
    if (result.success) return result.data;
    const unknown = result.error.issues.filter((i): i is z.core.$ZodIssueUnrecognizedKeys => i.code === 'unrecognized_keys');
    const other = result.error.issues.filter((i) => i.code !== 'unrecognized_keys');
    const unknownPaths: PathPart[][] = [];
    for (const issue of unknown) for (const key of issue.keys) unknownPaths.push([...(issue.path as PathPart[]), key]);
    const unknownFindings = unknownPaths.map((path): ConfigDiagnostic => ({
      severity: mode === 'error' ? 'error' : 'warning',
      where,
      path: formatConfigPath(path),
      message: mode === 'error' ? 'unknown field (not in Istio\'s API; check its spelling)' : 'unknown field, ignored (not in Istio\'s API; check its spelling)',
    }));
    if (mode === 'error') errors.push(...unknownFindings);
    else warnings.push(...unknownFindings);
    if (other.length > 0) {
      errors.push(...issuesToDiagnostics(other, where));
      return undefined;
    }
    if (mode === 'error') return undefined;
    candidate = structuredClone(candidate);
    for (const path of unknownPaths) {
      let target = candidate as Record<PropertyKey, unknown>;
      for (const part of path.slice(0, -1)) target = target[part] as Record<PropertyKey, unknown>;
      delete target[path[path.length - 1]!];
    }
  }
  return undefined;
}
