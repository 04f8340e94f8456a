/**
 * Who this workload is, for Istio's `source_*` (client) and `destination_*` (server)
 * metric labels, and who a peer endpoint is, from its discovery labels.
 *
 * Where each value comes from, first found wins:
 *
 * | value | options | environment | labels | default |
 * | --- | --- | --- | --- | --- |
 * | workload name | `telemetry.workload.name` | `ISTIO_META_WORKLOAD_NAME`; `OTEL_RESOURCE_ATTRIBUTES` `k8s.deployment.name`, `k8s.statefulset.name`, `k8s.daemonset.name`, `k8s.job.name`, `k8s.cronjob.name`; `POD_NAME` (a Deployment's pod name loses its two generated suffixes) | | `unknown` |
 * | namespace | `telemetry.workload.namespace` | `POD_NAMESPACE`; `OTEL_RESOURCE_ATTRIBUTES` `k8s.namespace.name` | | the mesh's `namespace` |
 * | app | | | `app`, `app.kubernetes.io/name` | `unknown` |
 * | version | | | `version`, `app.kubernetes.io/version` | `unknown` |
 * | canonical service | | | `service.istio.io/canonical-name`, `app.kubernetes.io/name`, `app` | the workload name |
 * | canonical revision | | | `service.istio.io/canonical-revision`, `app.kubernetes.io/version`, `version` | `latest` |
 * | cluster | `telemetry.workload.cluster` | `ISTIO_META_CLUSTER_ID` | | `unknown` |
 *
 * `POD_NAME` and `POD_NAMESPACE` are the names Istio's injected sidecar and most Helm
 * charts give the Kubernetes downward API's `metadata.name` and `metadata.namespace`;
 * `ISTIO_META_WORKLOAD_NAME` is set by Istio's injector to the owning workload's name;
 * `OTEL_RESOURCE_ATTRIBUTES` is where the OpenTelemetry Operator and SDK conventions put
 * the `k8s.*` resource attributes. Labels are the mesh's own `labels` option (this
 * workload) or an endpoint's discovery labels (a peer), with Istio's canonical-service
 * rules.
 */

/** This workload's identity, as `telemetry.workload` sets it (every field optional). */
export interface WorkloadOptions {
  /** The workload's name (a Deployment's name, not a pod's). */
  name?: string;
  /** Its Kubernetes namespace. */
  namespace?: string;
  /** Istio's cluster id. */
  cluster?: string;
}

/** A workload's identity for metric labels; unknown parts are `unknown`. */
export interface WorkloadIdentity {
  /** Workload name. */
  readonly name: string;
  /** Namespace. */
  readonly namespace: string;
  /** The `app` label. */
  readonly app: string;
  /** The `version` label. */
  readonly version: string;
  /** Istio's canonical service. */
  readonly canonicalService: string;
  /** Istio's canonical revision. */
  readonly canonicalRevision: string;
  /** Istio's cluster id. */
  readonly cluster: string;
  /** The SPIFFE principal (without `spiffe://`), `unknown` until identities are wired. */
  readonly principal: string;
}

/** The value Istio writes for a label it does not know. */
export const UNKNOWN = 'unknown';
/** The most characters kept of any identity value (a Kubernetes name is at most 253). */
const MAX_VALUE = 253;
/** The most characters of `OTEL_RESOURCE_ATTRIBUTES` read. */
const MAX_RESOURCE_ATTRIBUTES = 8192;

const clean = (value: unknown): string | undefined => {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed.slice(0, MAX_VALUE);
};

/**
 * Parses `OTEL_RESOURCE_ATTRIBUTES` (`key=value,key=value`, values percent-encoded, as
 * the OpenTelemetry SDK specification says). Malformed pairs are skipped; the input is
 * read up to 8 KiB.
 */
export function parseResourceAttributes(text: string | undefined): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  if (typeof text !== 'string') return out;
  for (const pair of text.slice(0, MAX_RESOURCE_ATTRIBUTES).split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const key = pair.slice(0, eq).trim();
    let value: string;
    try {
      value = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      continue;
    }
    if (key !== '' && !out.has(key)) out.set(key, value);
  }
  return out;
}

// Kubernetes names generated suffixes from this alphabet (no vowels, no 0, 1, 3).
const DEPLOYMENT_POD = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/;

/** The workload name a pod name stands for: a Deployment's pod loses its ReplicaSet hash and random suffix. */
export function workloadFromPodName(pod: string): string {
  return DEPLOYMENT_POD.exec(pod)?.[1] ?? pod;
}

const first = (...values: Array<string | undefined>): string | undefined => values.find((v) => v !== undefined);

/**
 * This workload's identity from options, the environment and its labels (see the
 * module's table).
 *
 * @param options `telemetry.workload`
 * @param labels the mesh's `labels` option
 * @param meshNamespace the mesh's `namespace` option, the last resort for the namespace
 * @param env the environment (default `process.env`)
 */
export function resolveWorkload(
  options: WorkloadOptions | undefined,
  labels: Readonly<Record<string, string>>,
  meshNamespace: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): WorkloadIdentity {
  const resource = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES);
  const pod = clean(env.POD_NAME);
  const name =
    first(
      clean(options?.name),
      clean(env.ISTIO_META_WORKLOAD_NAME),
      ...['k8s.deployment.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.job.name', 'k8s.cronjob.name'].map((k) => clean(resource.get(k))),
      pod === undefined ? undefined : workloadFromPodName(pod),
    ) ?? UNKNOWN;
  const namespace = first(clean(options?.namespace), clean(env.POD_NAMESPACE), clean(resource.get('k8s.namespace.name')), clean(meshNamespace)) ?? UNKNOWN;
  const cluster = first(clean(options?.cluster), clean(env.ISTIO_META_CLUSTER_ID)) ?? UNKNOWN;
  return { ...identityFromLabels(labels, name), name, namespace, cluster };
}

/**
 * A peer's identity from its discovery labels: `workload` names it (the label
 * @proxyless/etcd's `register` and static endpoints can set), `namespace` its
 * namespace, and the app, version and canonical labels as for this workload.
 *
 * @param labels the endpoint's labels
 * @param serviceNamespace the namespace of the service it belongs to, when its labels do not say
 */
export function peerFromLabels(labels: Readonly<Record<string, string>>, serviceNamespace: string | undefined): WorkloadIdentity {
  const name = clean(labels.workload) ?? UNKNOWN;
  return {
    ...identityFromLabels(labels, name),
    name,
    namespace: first(clean(labels.namespace), clean(serviceNamespace)) ?? UNKNOWN,
    cluster: UNKNOWN,
  };
}

function identityFromLabels(labels: Readonly<Record<string, string>>, workload: string): Omit<WorkloadIdentity, 'name' | 'namespace' | 'cluster'> {
  const app = first(clean(labels.app), clean(labels['app.kubernetes.io/name']));
  const version = first(clean(labels.version), clean(labels['app.kubernetes.io/version']));
  return {
    app: app ?? UNKNOWN,
    version: version ?? UNKNOWN,
    canonicalService: first(clean(labels['service.istio.io/canonical-name']), clean(labels['app.kubernetes.io/name']), clean(labels.app)) ?? workload,
    canonicalRevision: first(clean(labels['service.istio.io/canonical-revision']), clean(labels['app.kubernetes.io/version']), clean(labels.version)) ?? 'latest',
    principal: UNKNOWN,
  };
}

/** The namespace in a Kubernetes service FQDN (`reviews.bookinfo.svc.cluster.local` → `bookinfo`), if it is one. */
export function namespaceOfService(fqdn: string): string | undefined {
  const parts = fqdn.split('.');
  return parts.length >= 3 && parts[2] === 'svc' ? parts[1] : undefined;
}
