/**
 * The names a routed call reports: the VirtualService, the route within it, and the
 * `<virtual service>.<route>` label of the metrics and the access log. Made once per
 * compiled route (kept in a WeakMap, dropped with the config that made the route).
 */

/** What a compiled route offers (CompiledRoute's shape). */
export interface NamedRoute {
  /** `VirtualService/name (origin)`. */
  readonly where: string;
  /** The route's `name`, or `http[i]`. */
  readonly name: string;
}

/** A route's names. */
export interface RouteLabels {
  /** The VirtualService's name. */
  readonly virtualService: string;
  /** The route's name (or `http[i]`). */
  readonly route: string;
  /** `<virtual service>.<route>`. */
  readonly label: string;
}

const cache = new WeakMap<NamedRoute, RouteLabels>();

/** The names of `route`, computed once. */
export function routeLabels(route: NamedRoute): RouteLabels {
  let labels = cache.get(route);
  if (labels === undefined) {
    const where = route.where;
    const cut = where.indexOf(' (');
    const resource = cut === -1 ? where : where.slice(0, cut);
    const slash = resource.indexOf('/');
    const virtualService = slash === -1 ? resource : resource.slice(slash + 1);
    labels = { virtualService, route: route.name, label: `${virtualService}.${route.name}` };
    cache.set(route, labels);
  }
  return labels;
}
