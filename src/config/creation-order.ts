/**
 * The order Istio gives resources when several claim the same thing (two
 * VirtualServices for one host, two DestinationRules to merge): oldest first by
 * `metadata.creationTimestamp`, then by name, then by namespace (istio/istio
 * pilot/pkg/model/config.go: configCompareByCreationTime).
 *
 * Files have no creation time: a resource without a valid `creationTimestamp` counts
 * as created when loaded, after every resource that has one, in load order (the order
 * `kubectl apply` would create them in, one by one).
 */

/** A resource with what ordering needs. */
export interface Orderable {
  readonly resource: { readonly metadata: { readonly name: string; readonly namespace?: string | undefined; readonly [key: string]: unknown } };
  /** The namespace the resource is in (its own, or the mesh's). */
  readonly namespace: string;
}

/** The creation time in ms, or undefined when the resource has none (or an unreadable one). */
export function creationTime(resource: Orderable['resource']): number | undefined {
  const raw = resource.metadata['creationTimestamp'];
  if (typeof raw !== 'string' && !(raw instanceof Date)) return undefined;
  const ms = raw instanceof Date ? raw.getTime() : Date.parse(raw);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Sorts `items` (given in load order) oldest first, as Istio does; stable, so resources
 * without a creation time keep their load order. Returns a new array.
 */
export function byCreation<T extends Orderable>(items: readonly T[]): T[] {
  const keyed = items.map((item, index) => ({ item, index, time: creationTime(item.resource) }));
  keyed.sort((a, b) => {
    if (a.time === undefined || b.time === undefined) {
      if (a.time !== b.time) return a.time === undefined ? 1 : -1;
      return a.index - b.index;
    }
    if (a.time !== b.time) return a.time - b.time;
    const byName = compare(a.item.resource.metadata.name, b.item.resource.metadata.name);
    return byName !== 0 ? byName : compare(a.item.namespace, b.item.namespace);
  });
  return keyed.map((k) => k.item);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
