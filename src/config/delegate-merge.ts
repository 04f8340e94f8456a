import type { VirtualServiceResource } from './load-config.js';

/** An `http` route of a VirtualService. */
export type HttpRoute = NonNullable<VirtualServiceResource['spec']['http']>[number];
/** A `match` entry of an `http` route. */
export type HttpMatch = NonNullable<HttpRoute['match']>[number];
type StringMatch = NonNullable<HttpMatch['uri']>;

/** A merged route, and which of its mirror fields came from the root route. */
export interface MergedRoute {
  readonly route: HttpRoute;
  /** `mirror` is the root's (its host resolves in the root's namespace). */
  readonly rootMirror: boolean;
  /** `mirrors` are the root's. */
  readonly rootMirrors: boolean;
}

/**
 * Merges a root route with its delegate's routes, as Istio does (istio/istio
 * pilot/pkg/model/virtualservice.go: MergeHTTPRoutes, mergeHTTPRoute,
 * mergeHTTPMatchRequests, mergeHTTPMatchRequest, hasConflict, stringMatchConflict;
 * semantics.md §7). Each delegate route, in order, becomes one route whose matches are
 * its own narrowed by the root's, and which inherits what it leaves unset from the root
 * route. A delegate route whose matches conflict with the root's is dropped; `dropped`
 * hears each one.
 */
export function mergeHttpRoutes(root: HttpRoute, delegate: readonly HttpRoute[], dropped: (route: HttpRoute, index: number) => void): Array<MergedRoute> {
  const out: Array<MergedRoute> = [];
  delegate.forEach((sub, index) => {
    const merged = mergeHttpRoute(root, sub);
    if (merged === undefined) dropped(sub, index);
    else out.push(merged);
  });
  return out;
}

function mergeHttpRoute(root: HttpRoute, delegate: HttpRoute): MergedRoute | undefined {
  const match = mergeMatches(root.match, delegate.match);
  if (match === 'conflict') return undefined;
  const name = delegate.name === undefined || delegate.name === '' ? root.name : root.name ? `${root.name}-${delegate.name}` : delegate.name;
  const route: HttpRoute = { ...delegate, match, name };
  delete route.delegate;
  if (route.match === undefined) delete route.match;
  if (route.name === undefined) delete route.name;
  // What the delegate leaves unset comes from the root route (mergeHTTPRoute's list).
  const inherit = ['rewrite', 'directResponse', 'timeout', 'retries', 'fault', 'mirror', 'mirrorPercent', 'mirrorPercentage', 'corsPolicy', 'mirrors', 'headers'] as const;
  const target = route as Record<string, unknown>;
  const from = root as Record<string, unknown>;
  for (const key of inherit) if (target[key] === undefined && from[key] !== undefined) target[key] = from[key];
  return { route, rootMirror: delegate.mirror === undefined && root.mirror !== undefined, rootMirrors: delegate.mirrors === undefined && root.mirrors !== undefined };
}

/**
 * The merged match list, or 'conflict'. With no root matches the delegate's apply, with
 * no delegate matches the root's; otherwise every delegate match must be compatible with
 * at least one root match, and each compatible pair gives one merged match.
 */
function mergeMatches(root: readonly HttpMatch[] | undefined, delegate: readonly HttpMatch[] | undefined): HttpMatch[] | undefined | 'conflict' {
  if (root === undefined || root.length === 0) return delegate === undefined ? undefined : [...delegate];
  if (delegate === undefined || delegate.length === 0) return [...root];
  const out: HttpMatch[] = [];
  for (const sub of delegate) {
    let found = false;
    for (const top of root) {
      if (hasConflict(top, sub)) continue;
      out.push(mergeMatch(top, sub));
      found = true;
    }
    if (!found) return 'conflict';
  }
  return out.length === 0 ? 'conflict' : out;
}

function mergeMatch(root: HttpMatch, delegate: HttpMatch): HttpMatch {
  const out: HttpMatch = { ...delegate };
  const name = delegate.name === undefined || delegate.name === '' ? root.name : root.name ? `${root.name}-${delegate.name}` : delegate.name;
  if (name !== undefined) out.name = name;
  for (const key of ['uri', 'scheme', 'method', 'authority', 'port', 'sourceNamespace'] as const) {
    if (out[key] === undefined && root[key] !== undefined) (out as Record<string, unknown>)[key] = root[key];
  }
  // Maps are joined, the delegate's entries winning.
  for (const key of ['headers', 'withoutHeaders', 'queryParams', 'sourceLabels'] as const) {
    if (root[key] !== undefined || delegate[key] !== undefined) (out as Record<string, unknown>)[key] = { ...root[key], ...delegate[key] };
  }
  if ((out.gateways === undefined || out.gateways.length === 0) && root.gateways !== undefined) out.gateways = root.gateways;
  const statPrefix = (root as { statPrefix?: string }).statPrefix;
  if (!(out as { statPrefix?: string }).statPrefix && statPrefix) (out as { statPrefix?: string }).statPrefix = statPrefix;
  return out;
}

function hasConflict(root: HttpMatch, leaf: HttpMatch): boolean {
  for (const key of ['uri', 'scheme', 'method', 'authority'] as const) if (stringMatchConflict(root[key], leaf[key])) return true;
  for (const key of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    for (const [name, value] of Object.entries(leaf[key] ?? {})) if (stringMatchConflict(root[key]?.[name], value)) return true;
  }
  if ((root.ignoreUriCase ?? false) !== (leaf.ignoreUriCase ?? false)) return true;
  if (root.port !== undefined && leaf.port !== undefined && root.port !== leaf.port) return true;
  if (root.sourceNamespace && leaf.sourceNamespace !== root.sourceNamespace) return true;
  for (const [key, value] of Object.entries(leaf.sourceLabels ?? {})) {
    const rootValue = root.sourceLabels?.[key];
    if (rootValue !== undefined && rootValue !== value) return true;
  }
  const rootGateways = root.gateways ?? [];
  const leafGateways = leaf.gateways ?? [];
  if (rootGateways.length > 0 && leafGateways.length > 0) {
    if (rootGateways.length < leafGateways.length) return true;
    if (leafGateways.some((g) => !rootGateways.includes(g))) return true;
  }
  return false;
}

/** Protobuf reads an empty string as unset: `exact: ""` is no exact match here. */
const set = (value: string | undefined): value is string => value !== undefined && value !== '';

function stringMatchConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (root === undefined || leaf === undefined) return false;
  // A regex on either side conflicts with any matcher on the other (even the same regex).
  if (set(root.regex) && (set(leaf.regex) || set(leaf.prefix) || set(leaf.exact))) return true;
  if (set(leaf.regex) && (set(root.regex) || set(root.prefix) || set(root.exact))) return true;
  if (set(root.exact)) return set(leaf.prefix) || leaf.exact !== root.exact;
  if (set(root.prefix)) {
    if (set(leaf.prefix)) return !leaf.prefix.startsWith(root.prefix);
    if (set(leaf.exact)) return !leaf.exact.startsWith(root.prefix);
  }
  // A root matcher without a value conflicts with anything the delegate sets.
  return true;
}
