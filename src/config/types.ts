/** Kubernetes object metadata, as the mesh reads it. */
export interface ResourceMetadata {
  /** The resource's name (DNS-1123). */
  name: string;
  /** Its namespace; short hosts in the resource resolve in it. Default: the mesh's namespace. */
  namespace?: string;
  /** Other metadata (labels, annotations) is accepted and not used. */
  [key: string]: unknown;
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
