import type { Stack } from '../core/layer.js';
import type { EndpointTarget, ServiceTarget } from '../core/target.js';
import type { DiscoverySource } from '../discovery/types.js';
import type { EndpointTlsOptions } from './endpoint-tls.js';
import type { TelemetryOptions } from '../telemetry/options.js';
import type { IdentitySource } from '../tls/identity-source.js';
import type { AuthorizationOptions } from '../security/authz-providers.js';

export type { ServiceTarget, EndpointTarget } from '../core/target.js';

/** Istio MeshConfig's `outboundTrafficPolicy`: what to do with hosts the mesh does not know. */
export interface OutboundTrafficPolicy {
  /** `ALLOW_ANY` (default) passes unknown hosts through untouched; `REGISTRY_ONLY` refuses them. */
  mode: 'ALLOW_ANY' | 'REGISTRY_ONLY';
}

/** Settings of the undici Pool the mesh keeps per endpoint. */
export interface EndpointPoolOptions {
  /** Most connections per endpoint. Default 100. Requests beyond it wait in the pool's queue. */
  connections?: number;
  /** How long an idle keep-alive connection is kept, in ms. Default 4000 (undici's). */
  keepAliveTimeout?: number;
  /** How long connecting (TCP and TLS) may take, in ms. Default 10000. */
  connectTimeout?: number;
  /**
   * TLS to the endpoints of services called with `https://` URLs (trust, client
   * certificate, SNI override, verification); the active health checks use it too.
   * Default: Node's trust store (plus `NODE_EXTRA_CA_CERTS`), no client certificate,
   * SNI and verification against the URL's host.
   */
  tls?: EndpointTlsOptions;
}

/** Edits to the default stacks, by role name. See {@link Stack}. */
export interface StackEdits {
  /** Edits the service stack (roles outermost first: `balance`). */
  service?: (stack: Stack<ServiceTarget>) => void;
  /** Edits the endpoint stack (roles outermost first: `load`, `pool`). */
  endpoint?: (stack: Stack<EndpointTarget>) => void;
}

/** Options of {@link createMesh}. Every field is validated; errors name the field. */
export interface MeshOptions {
  /** Discovery sources, asked in order: the first that knows a service serves it. */
  discovery?: readonly DiscoverySource[];
  /**
   * Mesh config in Istio's own resources (VirtualService, DestinationRule, ServiceEntry):
   * a path to a YAML/JSON file or a directory of them (watched and hot-reloaded), YAML
   * text, resource objects, config sources (e.g. etcd), or an array of these.
   */
  config?: string | object | readonly (string | object)[];
  /**
   * This workload's own labels (`{ app: 'reviews', version: 'v1' }`), matched by
   * VirtualService `sourceLabels`.
   */
  labels?: Readonly<Record<string, string>>;
  /**
   * Config fields that are not in Istio's API (misspelled, or from another version):
   * `'warn'` (the default) loads the rest and warns, naming each; `'error'` refuses the
   * config, as `istioctl validate` and `proxyless check --strict` do.
   */
  unknownFields?: 'warn' | 'error';
  /**
   * The namespace this workload runs in: short service names resolve in it (`reviews` →
   * `reviews.<namespace>.svc...`), and config resources apply to it as Istio applies
   * them to a sidecar in that namespace (`exportTo`, DestinationRule lookup,
   * `sourceNamespace`). Default `default`.
   */
  namespace?: string;
  /**
   * Istio's root namespace (MeshConfig `rootNamespace`): DestinationRules there are the
   * last ones looked for (after the mesh's own namespace and the service's). Default
   * `istio-system`.
   */
  rootNamespace?: string;
  /**
   * This workload's locality, `region/zone/subzone` (`us-east1/us-east1-b`), for
   * locality-aware load balancing (DestinationRule `localityLbSetting`). Default: from
   * its `labels` (`topology.istio.io/locality`, `istio-locality`, or
   * `topology.kubernetes.io/region` and `/zone` with `topology.istio.io/subzone`), else none.
   */
  locality?: string;
  /** The Kubernetes cluster domain. Default `cluster.local`. */
  clusterDomain?: string;
  /** What happens to hosts no source knows. Default `{ mode: 'ALLOW_ANY' }`. */
  outboundTrafficPolicy?: OutboundTrafficPolicy;
  /**
   * How several discovery sources combine for one service: `first` (default) takes the
   * endpoints of the first source, in order, that knows the service; `merge` takes the
   * union of every source that knows it (the earlier source's record wins for the same
   * address and port).
   */
  discoveryStrategy?: 'first' | 'merge';
  /** How long a request waits for discovery to answer or for a first endpoint, in ms. Default 5000. */
  discoveryTimeout?: number;
  /** How long `close()` lets in-flight requests finish, in ms. Default 10000. */
  closeGracePeriod?: number;
  /**
   * The most services (one per scheme, host, port and subset called) the mesh keeps, each
   * with its pools and discovery watches. Past it, the least recently used services with
   * nothing in flight are evicted (`servicesEvicted` event, `mesh.serviceStats()`); a
   * later request to one builds it again. Bounds memory when hosts come from an open set
   * (a wildcard ServiceEntry, DNS with ALLOW_ANY). From 1 to 1000000; default 1000.
   */
  maxServices?: number;
  /**
   * How many bytes of a streamed request body (a Node stream, an async iterable, and
   * every body `fetch` sends, strings included) the mesh keeps while sending it, so a
   * retry, a hedged backup or a mirror can send it again (Envoy's per-request buffer
   * limit). Default 65536 (64 KiB); 0 keeps nothing; at most 64 MiB. A larger body is
   * sent once: it is retried only when nothing of it was read yet (a connection failure),
   * and not hedged or mirrored.
   */
  requestBufferLimit?: number;
  /** Per-endpoint connection pool settings. */
  endpointPool?: EndpointPoolOptions;
  /** Edits to the default layer stacks (insert, replace or remove layers by role). */
  stacks?: StackEdits;
  /**
   * How request paths are normalised before route matching (and sent upstream), as
   * Istio's MeshConfig `pathNormalization`. Default `{ normalization: 'BASE' }`.
   */
  pathNormalization?: PathNormalizationOption;
  /**
   * Tracing, metrics and the access log: `{ tracing, metrics, accessLog, metricNames,
   * workload }`. Tracing and metrics default on, the access log off. See docs/telemetry.md.
   * (Validated now; the layers report through it once telemetry is wired in.)
   */
  telemetry?: TelemetryOptions;
  /**
   * This workload's identity: where its X.509-SVID comes from (`identityFromFiles({ dir })`,
   * `devIdentity({ caDir, spiffeId })`, or any {@link IdentitySource}). With one, the mesh
   * speaks mutual TLS: `mesh.createServer` serves with it (PeerAuthentication decides per
   * port), and calls to endpoints labelled `security.istio.io/tlsMode: istio` (or whose
   * DestinationRule says `ISTIO_MUTUAL`) present it. A rotation reaches new connections;
   * open ones finish on the old certificate. The mesh closes the source when it closes.
   * See docs/identity.md.
   */
  identity?: IdentitySource;
  /**
   * AuthorizationPolicy `CUSTOM` providers, by the name policies give in `provider.name`:
   * `{ providers: { 'ext-authz': async (check) => ({ allowed: true }) } }`. A CUSTOM policy
   * naming a provider not here is a config error. See docs/security.md.
   */
  authorization?: AuthorizationOptions;
}

/** Istio MeshConfig `pathNormalization`: how request paths are normalised before routing. */
export interface PathNormalizationOption {
  /**
   * `BASE` (default): RFC 3986 dot segments and unreserved percent-escapes, backslashes to
   * slashes; `MERGE_SLASHES`: also `//` → `/`; `DECODE_AND_MERGE_SLASHES`: also `%2F` and
   * `%5C` decoded first; `NONE`: untouched. `DEFAULT` is `BASE`, as in Istio.
   */
  normalization: 'DEFAULT' | 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';
}

/** A source's name and the state it reports, for dashboards. */
export type { DiscoverySource };
