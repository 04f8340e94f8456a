import { InvalidConfigError } from '../core/errors/index.js';
import { mergeHttpRoutes, type HttpRoute } from './delegate-merge.js';
import { byCreation } from './creation-order.js';
import type { Located, VirtualServiceResource } from './load-config.js';
import { describeExportTo, exportSet, visibleTo } from './visibility.js';

/** One `http` route as the route table compiles it, with where its hosts resolve. */
export interface RouteSource {
  readonly spec: HttpRoute;
  /** The namespace its destinations' short hosts resolve in (the delegate's, for a delegated route). */
  readonly namespace: string;
  /** The namespace its `mirror` host resolves in (the root's, when inherited from it). */
  readonly mirrorNamespace: string;
  /** The namespace its `mirrors` hosts resolve in. */
  readonly mirrorsNamespace: string;
  /** The delegate it came from, for messages: `VirtualService/reviews-v2 (mesh.yaml#3)`. */
  readonly delegate: string | undefined;
}

/** A VirtualService that applies to this mesh, its delegates merged in. */
export interface SelectedVirtualService {
  readonly located: Located<VirtualServiceResource>;
  /** Its routes in order, delegated routes in place of the root routes that delegate. */
  readonly routes: readonly RouteSource[];
  /** True when no route came from a delegate (its compile can be cached by the resource alone). */
  readonly plain: boolean;
}

/** The mesh as a client of VirtualServices. */
export interface VirtualServiceClient {
  /** The mesh's own namespace. */
  readonly namespace: string;
}

/** The gateway name that means sidecars, i.e. in-process (mesh) traffic. */
export const MESH_GATEWAY = 'mesh';

/**
 * The VirtualServices that apply to in-process traffic, in the order Istio gives a
 * sidecar (Pilot model/push_context.go: initVirtualServices, VirtualServicesForGateway;
 * model/virtualservice_controller.go: mergeVirtualServices; semantics.md §4, §6, §7):
 *
 * - only VirtualServices bound to the `mesh` gateway (no `gateways`, or a list naming
 *   `mesh`); one bound only to gateways loads, and is reported;
 * - only those exported to the mesh's namespace (`exportTo`, default `*`);
 * - first those of the mesh's own namespace exported to it alone, then those of other
 *   namespaces exported to it by name, then the public ones; oldest first in each;
 * - a VirtualService without hosts is a delegate: it applies only where a root route
 *   names it, and is merged into that root (a missing or invisible delegate drops only
 *   that root route, with a warning).
 */
export function selectVirtualServices(all: readonly Located<VirtualServiceResource>[], client: VirtualServiceClient, warnings: string[]): SelectedVirtualService[] {
  const delegates = new Map<string, Located<VirtualServiceResource>>();
  const roots: Array<Located<VirtualServiceResource>> = [];
  for (const located of all) {
    if ((located.resource.spec.hosts ?? []).length === 0) delegates.set(`${located.namespace}/${located.resource.metadata.name}`, located);
    else roots.push(located);
  }
  const own: SelectedVirtualService[] = [];
  const named: SelectedVirtualService[] = [];
  const open: SelectedVirtualService[] = [];
  for (const located of byCreation(roots)) {
    const spec = located.resource.spec;
    const gateways = spec.gateways ?? [];
    if (gateways.length > 0 && !gateways.includes(MESH_GATEWAY)) {
      warnings.push(`${located.where}: spec.gateways ${JSON.stringify(gateways)} does not include "mesh": it applies to those gateways only, not to in-process traffic (as in Istio, where it configures no sidecar)`);
      continue;
    }
    const set = exportSet(spec.exportTo, located.namespace);
    if (!visibleTo(set, client.namespace)) {
      warnings.push(`${located.where}: spec.exportTo ${describeExportTo(spec.exportTo)} does not export it to this mesh's namespace "${client.namespace}": it does not apply here`);
      continue;
    }
    const selected = withDelegates(located, delegates, warnings);
    if (set.public) open.push(selected);
    else if (located.namespace === client.namespace) own.push(selected);
    else named.push(selected);
  }
  return [...own, ...named, ...open];
}

/**
 * The most match pairs merging delegates into one root may compare: each root route
 * compares its matches with every match of its delegate, so a root delegating many
 * routes to a delegate with many routes multiplies two sizes that are each bounded only
 * by the config limits.
 */
export const MAX_DELEGATE_MERGE_PAIRS = 1_000_000;

function withDelegates(root: Located<VirtualServiceResource>, delegates: ReadonlyMap<string, Located<VirtualServiceResource>>, warnings: string[]): SelectedVirtualService {
  const routes: RouteSource[] = [];
  let plain = true;
  let pairs = 0;
  (root.resource.spec.http ?? []).forEach((http, index) => {
    if (http.delegate === undefined) {
      routes.push({ spec: http, namespace: root.namespace, mirrorNamespace: root.namespace, mirrorsNamespace: root.namespace, delegate: undefined });
      return;
    }
    plain = false;
    const namespace = http.delegate.namespace ?? root.namespace;
    const where = `${root.where}: spec.http[${index}].delegate`;
    const delegate = delegates.get(`${namespace}/${http.delegate.name}`);
    if (delegate === undefined) {
      warnings.push(`${where}: no VirtualService ${namespace}/${http.delegate.name} without hosts was loaded; this route is left out (as Istio does), the others apply`);
      return;
    }
    const set = exportSet(delegate.resource.spec.exportTo, delegate.namespace);
    if (!visibleTo(set, root.namespace)) {
      warnings.push(`${where}: ${delegate.where} is not exported to the root's namespace "${root.namespace}" (exportTo ${describeExportTo(delegate.resource.spec.exportTo)}); this route is left out`);
      return;
    }
    const delegated = delegate.resource.spec.http ?? [];
    for (const sub of delegated) pairs += Math.max(1, http.match?.length ?? 0) * Math.max(1, sub.match?.length ?? 0);
    if (pairs > MAX_DELEGATE_MERGE_PAIRS) {
      throw new InvalidConfigError([`${where}: merging its delegates compares more than ${MAX_DELEGATE_MERGE_PAIRS} pairs of matches (the limit): delegate fewer routes, or give them fewer matches`]);
    }
    // One level only (Istio refuses a delegate route that delegates again).
    const nested = delegated.findIndex((r) => r.delegate !== undefined);
    if (nested >= 0) {
      warnings.push(`${delegate.where}: spec.http[${nested}].delegate: a delegate's route cannot delegate again (one level only, as in Istio); ${where} is left out`);
      return;
    }
    const merged = mergeHttpRoutes(http, delegated, (_route, i) => {
      warnings.push(`${delegate.where}: spec.http[${i}].match conflicts with the matches of ${root.where} spec.http[${index}] (each delegate match must narrow a root match); this delegate route is left out, as in Istio`);
    });
    for (const { route, rootMirror, rootMirrors } of merged) {
      const inherited = (fromRoot: boolean): string => (fromRoot ? root.namespace : delegate.namespace);
      routes.push({ spec: route, namespace: delegate.namespace, mirrorNamespace: inherited(rootMirror), mirrorsNamespace: inherited(rootMirrors), delegate: delegate.where });
    }
  });
  return { located: root, routes, plain };
}
