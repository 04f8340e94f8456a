import type { PolicyTargetsSpec, SecurityFinding, SecurityMetadata, SecurityWorkload, WorkloadSelectorSpec } from './types.js';

/**
 * Which security resources apply to this workload, and in which order, as Istio selects
 * them for a sidecar (istio/istio pilot/pkg/model/policyattachment.go ShouldAttachPolicy,
 * authorization.go ListAuthorizationPolicies, config.go configCompareByCreationTime): the
 * policies of the root namespace and of the workload's namespace whose selector is absent
 * or whose labels are all among the workload's labels. A policy with `targetRef(s)` is
 * for gateways and waypoints and never applies to an in-process workload.
 *
 * @module
 */

/** Istio's default root namespace. */
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';

/** A resource's namespace (absent: the workload's own, as a file read without a cluster). */
export function namespaceOf(metadata: SecurityMetadata, workload: SecurityWorkload): string {
  return metadata.namespace ?? workload.namespace;
}

/** Whether every label of `selector` is on the workload with the same value (no selector: yes). */
export function selectorMatches(selector: WorkloadSelectorSpec | undefined, labels: Readonly<Record<string, string>>): boolean {
  const wanted = selector?.matchLabels;
  if (wanted === undefined) return true;
  for (const key of Object.keys(wanted)) {
    if (!Object.prototype.hasOwnProperty.call(labels, key) || labels[key] !== wanted[key]) return false;
  }
  return true;
}

/** Whether a selector is absent or has no labels (a namespace- or mesh-wide policy). */
export function selectsWholeNamespace(selector: WorkloadSelectorSpec | undefined): boolean {
  return selector?.matchLabels === undefined || Object.keys(selector.matchLabels).length === 0;
}

/** Whether a policy names targets (gateways, waypoints) instead of selecting workloads. */
export function hasTargetRefs(spec: PolicyTargetsSpec): boolean {
  return spec.targetRef !== undefined || (spec.targetRefs?.length ?? 0) > 0;
}

/** The warning for a policy (`where`) that names targets: it is ignored in a process. */
export function targetRefsFinding(spec: PolicyTargetsSpec, where: string): SecurityFinding {
  const path = spec.targetRefs !== undefined ? 'spec.targetRefs' : 'spec.targetRef';
  return { severity: 'warning', where, path, message: 'a policy with targetRefs applies to gateways and waypoints, never to an in-process workload: it is ignored here' };
}

/** Milliseconds since the epoch of a creation timestamp; absent or unreadable is the oldest. */
export function creationTime(metadata: SecurityMetadata): number {
  const value = metadata.creationTimestamp;
  if (value === undefined) return Number.NEGATIVE_INFINITY;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms;
}

/** Istio's order: creation time, then name, then namespace (so the result never depends on file order). */
export function compareByCreation(a: SecurityMetadata, aNamespace: string, b: SecurityMetadata, bNamespace: string): number {
  const ta = creationTime(a);
  const tb = creationTime(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return aNamespace < bNamespace ? -1 : aNamespace > bNamespace ? 1 : 0;
}

/** A resource with its namespace resolved. */
export interface Scoped<T> {
  readonly resource: T;
  readonly namespace: string;
  /** `namespace/name`: how policies are named in decisions and logs. */
  readonly id: string;
}

/**
 * The resources that apply to the workload (root namespace and the workload's namespace,
 * selector subset of the workload's labels, no targetRefs), sorted oldest first; root
 * namespace resources first, as Istio lists them for authorization.
 */
export function applicable<T extends { readonly metadata: SecurityMetadata; readonly spec: PolicyTargetsSpec }>(
  resources: readonly T[],
  workload: SecurityWorkload,
  rootNamespace: string,
): Scoped<T>[] {
  const scoped = resources.map((resource) => {
    const namespace = namespaceOf(resource.metadata, workload);
    return { resource, namespace, id: `${namespace}/${resource.metadata.name}` };
  });
  const order = [rootNamespace, workload.namespace].filter((ns, i, all) => all.indexOf(ns) === i);
  const out: Scoped<T>[] = [];
  for (const ns of order) {
    const here = scoped
      .filter((s) => s.namespace === ns && !hasTargetRefs(s.resource.spec) && selectorMatches(s.resource.spec.selector, workload.labels))
      .sort((a, b) => compareByCreation(a.resource.metadata, a.namespace, b.resource.metadata, b.namespace));
    out.push(...here);
  }
  return out;
}
