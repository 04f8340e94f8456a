import type { PathPart } from '../config-path.js';
import type { Findings } from './findings.js';
import { fqdnProblem, isDns1123Label } from './names.js';

/**
 * Rules Istio applies to several kinds (istio/istio pkg/config/validation/validation.go):
 * `exportTo` (validateExportTo), the metadata annotations users may not set
 * (validateMetadata), gateway names (validateGatewayNames) and selectors without labels.
 *
 * @module
 */

/**
 * `exportTo` of a resource in `namespace`: `.`, `*`, namespace names, and for a
 * ServiceEntry `~` (nobody); no duplicates (`.` counts as the own namespace), `*` and `~`
 * alone. A DestinationRule with a workload selector may only be exported to its own
 * namespace.
 */
export function checkExportTo(
  exportTo: readonly string[] | undefined,
  namespace: string,
  findings: Findings,
  options: { serviceEntry?: boolean; workloadSelector?: boolean } = {},
): void {
  if (exportTo === undefined || exportTo.length === 0) return;
  const at: PathPart[] = ['spec', 'exportTo'];
  const seen = new Set<string>();
  exportTo.forEach((entry, i) => {
    const key = entry === '.' ? namespace : entry;
    if (seen.has(key)) {
      findings.error([...at, i], entry, key !== entry ? `no duplicates: "." is this resource's own namespace, ${namespace}, listed already` : 'no duplicate entries');
      return;
    }
    if (entry === '~' && options.serviceEntry) seen.add(key);
    else if (entry === '~') findings.error([...at, i], entry, '".", "*" or a namespace name ("~", exported to nobody, is for ServiceEntries only)');
    else if (key !== '*' && key !== '.' && !isDns1123Label(key)) findings.error([...at, i], entry, '".", "*" or a namespace name (a DNS-1123 label)');
    else seen.add(key);
  });
  if (options.workloadSelector && seen.size > 0) {
    if (!seen.has(namespace)) findings.errorText(at, `a DestinationRule with a workloadSelector may only be exported to its own namespace, ${namespace} (write ".")`);
    else if (seen.size > 1) findings.errorText(at, `a DestinationRule with a workloadSelector may only be exported to its own namespace, ${namespace}: one entry`);
  }
  if (seen.has('*') && exportTo.length > 1) findings.errorText(at, '"*" (every namespace) alone, without other entries');
  if (seen.has('~') && exportTo.length > 1) findings.errorText(at, '"~" (exported to nobody) alone, without other entries');
}

const INTERNAL_ANNOTATIONS = ['internal.istio.io/parents', 'internal.istio.io/parent-namespace', 'internal.istio.io/webhook-always-reject'];

/**
 * Annotations Istio refuses on networking resources: `istio.io/dry-run` (only
 * AuthorizationPolicy takes it; see the security rules) and Istio's internal ones.
 */
export function checkAnnotations(annotations: Readonly<Record<string, unknown>> | undefined, findings: Findings, options: { dryRunAllowed?: boolean } = {}): void {
  if (annotations === undefined) return;
  if (!options.dryRunAllowed && 'istio.io/dry-run' in annotations) {
    findings.errorText(['metadata', 'annotations', 'istio.io/dry-run'], 'not allowed here: only AuthorizationPolicy takes istio.io/dry-run; remove the annotation');
  }
  for (const name of INTERNAL_ANNOTATIONS) {
    if (name in annotations) findings.errorText(['metadata', 'annotations', name], `${name} is set by Istio itself and may not be set by users; remove the annotation`);
  }
}

/**
 * Gateway names (`validateGatewayNames`): `mesh`, `<namespace>/<name>` with DNS-1123
 * labels, or the legacy `<name>.<namespace>...` form (warned). As in Istio, the check
 * stops after the first name without a `/` (a quirk noted in semantics.md §17.7; we do
 * not refuse what Istio accepts).
 */
export function checkGatewayNames(names: readonly string[] | undefined, at: readonly PathPart[], findings: Findings): void {
  if (names === undefined) return;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const slash = name.indexOf('/');
    if (slash < 0) {
      if (name.includes('.')) {
        const [first, second] = name.split('.');
        findings.warn([...at, i], `the legacy gateway name form "${name}"; write <namespace>/<name>: "${second}/${first}"`);
      }
      const problem = fqdnProblem(name);
      if (problem !== undefined) findings.error([...at, i], name, `"mesh" or a gateway as <namespace>/<name> (${problem})`);
      return;
    }
    const namespace = name.slice(0, slash);
    const gateway = name.slice(slash + 1);
    if (namespace === '' || gateway === '') findings.error([...at, i], name, 'a gateway as <namespace>/<name>, neither part empty');
    else if (!isDns1123Label(namespace)) findings.error([...at, i], name, `a gateway as <namespace>/<name>: "${namespace}" is not a namespace name`);
    else if (!isDns1123Label(gateway)) findings.error([...at, i], name, `a gateway as <namespace>/<name>: "${gateway}" is not a gateway name (a DNS-1123 label)`);
  }
}

/** A selector without labels selects every workload of the namespace: Istio warns. */
export function checkSelectorHasLabels(labels: Readonly<Record<string, string>> | undefined, at: readonly PathPart[], findings: Findings): void {
  if (labels === undefined || Object.keys(labels).length === 0) {
    findings.warn(at, 'a selector without labels selects every workload in the namespace, as if it were absent');
  }
}
