import type { LoadBalancerSettings } from '../balance/types.js';

/** Kubernetes object metadata, as the mesh reads it. */
export interface ResourceMetadata {
  /** The resource's name (DNS-1123). */
  name: string;
  /** Its namespace; short hosts in the resource resolve in it. Default: the mesh's namespace. */
  namespace?: string;
  /** Other metadata (labels, annotations) is accepted and not used. */
  [key: string]: unknown;
}

/**
 * Istio `TrafficPolicy`: typed here for the load balancer; `connectionPool`,
 * `outlierDetection`, `portLevelSettings` and `tls` are accepted as Istio documents them
 * (see the README's DestinationRule table).
 */
export interface TrafficPolicy {
  /** How requests are spread over the endpoints. Unset: P2C Peak EWMA. */
  loadBalancer?: LoadBalancerSettings;
}

/**
 * An Istio DestinationRule (`networking.istio.io/v1`, `v1beta1` or `v1alpha3`): what
 * happens to traffic for a service after routing.
 */
export interface DestinationRule {
  /** `networking.istio.io/v1`, `v1beta1` or `v1alpha3`. */
  apiVersion: 'networking.istio.io/v1' | 'networking.istio.io/v1beta1' | 'networking.istio.io/v1alpha3';
  /** Always `DestinationRule`. */
  kind: 'DestinationRule';
  /** Name and namespace. */
  metadata: ResourceMetadata;
  /** The rule. */
  spec: {
    /** The service it applies to: `reviews`, `reviews.bookinfo`, or an FQDN. */
    host: string;
    /** Policies for all its traffic. */
    trafficPolicy?: TrafficPolicy;
  };
}

/** A running watch of a {@link ConfigSource}. */
export interface ConfigWatch {
  /** Stops delivering changes. */
  close(): void;
}

/**
 * A source of mesh config that changes at run time (a watched file, an etcd key). It
 * delivers the whole current set of resources each time it changes; the mesh validates
 * them together with its other config and applies them atomically, or keeps the last
 * good config and reports the error (event `configError`).
 */
export interface ConfigSource {
  /** Name used in errors, e.g. `etcd(/mesh/config)`, `file(mesh.yaml)`. */
  readonly name: string;
  /**
   * Starts delivering resources (the first call to `listener` comes once they are
   * loaded). Resources are plain objects as parsed, not yet validated.
   */
  watch(listener: (resources: readonly unknown[]) => void): ConfigWatch;
  /** Resolves once the first set was delivered. */
  ready(): Promise<void>;
  /** Errors of the source itself (unreachable store, unparsable text). */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Unsubscribes from errors. */
  off(event: 'error', listener: (error: Error) => void): unknown;
  /** Stops watching. */
  close(): Promise<void>;
}
