/**
 * Istio's `exportTo` (istio/istio pkg/config/visibility/visibility.go; Pilot
 * model/push_context.go: initVirtualServices, setDestinationRules, IsServiceVisible;
 * semantics.md §4). A resource is exported to a set of namespaces: `*` (every
 * namespace), `.` (its own), named namespaces, or `~` (none). An empty or absent list
 * takes the mesh default, `*` (MeshConfig `defaultVirtualServiceExportTo`,
 * `defaultDestinationRuleExportTo`, `defaultServiceExportTo`, all `["*"]` unless set).
 *
 * For proxyless the client is the mesh itself: a resource applies when it is exported to
 * the mesh's own namespace (`createMesh({ namespace })`).
 */

/** Where a resource is exported to, `.` already replaced by the resource's namespace. */
export interface ExportSet {
  /** Exported to every namespace (`*`). */
  readonly public: boolean;
  /** Exported to no namespace (`~`). */
  readonly none: boolean;
  /** Named namespaces (the resource's own for `.`). */
  readonly namespaces: ReadonlySet<string>;
  /** The list was empty or absent: the mesh default (`*`) applies. */
  readonly defaulted: boolean;
}

const PUBLIC: ExportSet = Object.freeze({ public: true, none: false, namespaces: new Set<string>(), defaulted: true });

/** The export set of a resource in `namespace` whose `spec.exportTo` is `exportTo`. */
export function exportSet(exportTo: readonly string[] | undefined, namespace: string): ExportSet {
  if (exportTo === undefined || exportTo.length === 0) return PUBLIC;
  const namespaces = new Set<string>();
  let isPublic = false;
  let none = false;
  for (const entry of exportTo) {
    if (entry === '*') isPublic = true;
    else if (entry === '~') none = true;
    else namespaces.add(entry === '.' ? namespace : entry);
  }
  return { public: isPublic, none: none && !isPublic, namespaces, defaulted: false };
}

/**
 * True when a resource exported as `set` is visible to a client in `client`: `*`, or
 * the client's namespace named (directly or as `.` in that namespace). Naming other
 * namespaces does not include the resource's own.
 */
export function visibleTo(set: ExportSet, client: string): boolean {
  if (set.public) return true;
  if (set.none) return false;
  return set.namespaces.has(client);
}

/** `exportTo` as written, for messages: `[., frontend]`, or `(default *)`. */
export function describeExportTo(exportTo: readonly string[] | undefined): string {
  return exportTo === undefined || exportTo.length === 0 ? '(unset: the default "*")' : `[${exportTo.join(', ')}]`;
}
