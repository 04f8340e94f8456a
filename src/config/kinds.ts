/**
 * Which resources of a manifest are mesh config. A folder of ordinary manifests holds
 * Deployments, Services and Istio's proxy resources beside the kinds the mesh applies:
 * those are skipped with a note (`proxyless check` can be pointed at the folder), while
 * a kind of an Istio API group that does not exist (`VirtualSevice`) is an error, as a
 * cluster would refuse it.
 *
 * @module
 */

/** Kinds whose resources the mesh validates (and applies, or reports as not applied yet). */
export const APPLIED_KINDS = ['VirtualService', 'DestinationRule', 'ServiceEntry', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication', 'LocalRateLimit'] as const;

/** One of {@link APPLIED_KINDS}. */
export type AppliedKind = (typeof APPLIED_KINDS)[number];

/** The API versions each applied kind is served at. */
export const KIND_VERSIONS: Readonly<Record<AppliedKind, readonly string[]>> = {
  VirtualService: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  DestinationRule: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  ServiceEntry: ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'],
  PeerAuthentication: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  AuthorizationPolicy: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  RequestAuthentication: ['security.istio.io/v1', 'security.istio.io/v1beta1'],
  // proxyless's own kind: local rate limiting, which Istio has no resource for.
  LocalRateLimit: ['proxyless.dev/v1alpha1'],
};

/** Istio kinds that configure Istio's own proxies and gateways: nothing for an in-process mesh to apply. */
const PROXY_KINDS: Readonly<Record<string, string>> = {
  Gateway: 'networking.istio.io',
  Sidecar: 'networking.istio.io',
  WorkloadEntry: 'networking.istio.io',
  WorkloadGroup: 'networking.istio.io',
  EnvoyFilter: 'networking.istio.io',
  ProxyConfig: 'networking.istio.io',
  Telemetry: 'telemetry.istio.io',
  WasmPlugin: 'extensions.istio.io',
  TrafficExtension: 'extensions.istio.io',
};

/** What to do with a resource of this apiVersion and kind. */
export type KindDecision =
  | { readonly action: 'validate'; readonly kind: AppliedKind }
  | { readonly action: 'skip'; readonly why: string }
  | { readonly action: 'reject'; readonly field: 'kind' | 'apiVersion'; readonly expected: string };

/** The API group of an apiVersion (`networking.istio.io/v1` → `networking.istio.io`; `v1` → ''). */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Decides what the loader does with a resource of `apiVersion` and `kind`. */
export function decideKind(apiVersion: string, kind: string): KindDecision {
  const group = groupOf(apiVersion);
  const applied = (APPLIED_KINDS as readonly string[]).includes(kind) ? (kind as AppliedKind) : undefined;
  if (applied !== undefined) {
    // The kind is unmistakably Istio's: a wrong group or version is a mistake to report.
    if (!KIND_VERSIONS[applied].includes(apiVersion)) {
      const versions = KIND_VERSIONS[applied].map((v) => `"${v}"`);
      return { action: 'reject', field: 'apiVersion', expected: versions.length === 1 ? versions[0]! : `one of ${versions.join(', ')}` };
    }
    return { action: 'validate', kind: applied };
  }
  if (PROXY_KINDS[kind] === group) return { action: 'skip', why: 'an Istio kind that configures proxies or gateways, not an in-process mesh' };
  if (group === 'networking.istio.io' || group === 'security.istio.io' || group === 'telemetry.istio.io' || group === 'extensions.istio.io' || group === 'proxyless.dev') {
    const known = [...APPLIED_KINDS.filter((k) => KIND_VERSIONS[k][0]!.startsWith(`${group}/`)), ...Object.keys(PROXY_KINDS).filter((k) => PROXY_KINDS[k] === group)];
    return { action: 'reject', field: 'kind', expected: `a kind of ${group}: ${known.join(', ')}` };
  }
  if (group === 'gateway.networking.k8s.io') return { action: 'skip', why: 'a Kubernetes Gateway API kind, not mesh config (proxyless reads VirtualServices)' };
  return { action: 'skip', why: group === '' || group.endsWith('.k8s.io') || !group.includes('.') ? 'a Kubernetes kind, not mesh config' : 'not an Istio kind' };
}
