import type { Dispatcher } from 'undici';
import { cancellationOf, type Cancellation, type CancelListener } from '../core/cancellation.js';
import { InvalidRequestError } from '../core/errors/index.js';
import { failDispatch } from '../core/forwarding-handler.js';
import { rewriteBudgetMs } from '../config/re2.js';
import { getHeader } from '../core/headers.js';
import { isStaticBody, replayableOf } from '../core/replayable-body.js';
import { applyHeaderOps, flattenPairs, headerPairs, ResponseHeadersHandler, type HeaderOps } from './header-ops.js';
import { UriKind } from './compile-match.js';
import { NO_RETRIES } from '../policy/retry/index.js';
import { kRoutePolicy, type RoutePolicy } from '../policy/route-policy.js';
import type { RequestView } from './request-view.js';
import type { CompiledDestination, CompiledRoute, CompiledVirtualService } from './route-table.js';
import { respond } from './synthetic-response.js';
import { callHooksOf as callTelemetryOf } from '../core/call-hooks.js';
import { routeLabels } from '../core/route-labels.js';

/** What the router needs from the mesh. */
export interface RouterContext {
  /**
   * Sends a request to a destination service (host, port, subset), through its service
   * stack, waiting for discovery when needed.
   */
  sendTo(destination: CompiledDestination, port: number, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  /**
   * Sends a mirrored copy to a destination, fire and forget: a call of its own (the
   * caller's abort does not end it; closing the mesh does), whose response is dropped.
   */
  mirror(destination: CompiledDestination, port: number, opts: Dispatcher.DispatchOptions): void;
  /** Uniform random in [0, 1): weighted splits, fault and mirror percentages. */
  random(): number;
}

/**
 * The first route whose matches hold (a route without matches matches everything). The
 * URI is tested inline from the path computed once: with many routes, most are ruled out
 * by it without a call.
 */
export function findRoute(vs: CompiledVirtualService, request: RequestView): { route: CompiledRoute; uriPrefix: string | undefined } | undefined {
  const path = request.path;
  let lowerPath: string | undefined;
  const routes = vs.routes;
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    const matches = route.matches;
    if (matches.length === 0) return { route, uriPrefix: undefined };
    for (let j = 0; j < matches.length; j++) {
      const match = matches[j]!;
      if (match.uriKind !== UriKind.Any) {
        const subject = match.uriIgnoreCase ? (lowerPath ??= path.toLowerCase()) : path;
        if (match.uriKind === UriKind.Prefix) {
          if (!subject.startsWith(match.uriValue)) continue;
        } else if (match.uriKind === UriKind.Exact) {
          if (subject !== match.uriValue) continue;
        } else if (!match.uriRegex!.test(path)) {
          continue;
        }
      }
      if (match.rest === undefined || match.rest(request)) return { route, uriPrefix: match.uriPrefix };
    }
  }
  return undefined;
}

/**
 * Routes one request by a VirtualService: first matching route wins; then fault
 * injection (delay, then abort, as Envoy's fault filter), redirect, direct response, or
 * a weighted destination with rewrites, header operations and mirrors. No matching
 * route answers 404, as Envoy does.
 */
export function routeRequest(vs: CompiledVirtualService, request: RequestView, handler: Dispatcher.DispatchHandler, ctx: RouterContext): boolean {
  const found = findRoute(vs, request);
  if (!found) {
    callTelemetryOf(request.opts)?.noRoute();
    return respond(handler, 404, { 'x-proxyless-route': 'none' }, `no route of ${vs.where} matched ${request.method} ${request.path}\n`);
  }
  const { route, uriPrefix } = found;
  const fault = route.fault;
  if (fault !== undefined && fault.delayPercent > 0 && ctx.random() * 100 < fault.delayPercent) {
    callTelemetryOf(request.opts)?.fault('delay');
    new FaultDelay(route, uriPrefix, request, handler, ctx, cancellationOf(request.opts)).start(fault.delayMs);
    return true;
  }
  return afterDelay(route, uriPrefix, request, handler, ctx);
}

/**
 * A request held by a fault `delay`. The caller's abort (or the mesh closing) ends the
 * delay at once and answers the caller; the request is then never sent. An error
 * routing it after the delay goes to the caller (from a timer, a throw would otherwise
 * be an uncaught exception).
 */
class FaultDelay implements CancelListener {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly route: CompiledRoute,
    readonly uriPrefix: string | undefined,
    readonly request: RequestView,
    readonly handler: Dispatcher.DispatchHandler,
    readonly ctx: RouterContext,
    readonly cancellation: Cancellation | undefined,
  ) {}

  start(delayMs: number): void {
    this.#timer = setTimeout(() => this.#fire(), delayMs);
    this.cancellation?.listen(this);
  }

  onCancel(reason: Error): void {
    clearTimeout(this.#timer);
    failDispatch(this.handler, reason);
  }

  #fire(): void {
    this.cancellation?.unlisten(this);
    if (this.cancellation?.cancelled) return;
    try {
      afterDelay(this.route, this.uriPrefix, this.request, this.handler, this.ctx);
    } catch (error) {
      failDispatch(this.handler, error as Error);
    }
  }
}

function afterDelay(route: CompiledRoute, uriPrefix: string | undefined, request: RequestView, handler: Dispatcher.DispatchHandler, ctx: RouterContext): boolean {
  const telemetry = callTelemetryOf(request.opts);
  if (telemetry !== undefined) {
    const labels = routeLabels(route);
    telemetry.routed(labels.virtualService, labels.route, labels.label);
  }
  const fault = route.fault;
  if (fault !== undefined && fault.abortPercent > 0 && ctx.random() * 100 < fault.abortPercent) {
    telemetry?.fault('abort');
    if (fault.abortGrpcStatus !== undefined) {
      // A gRPC trailers-only response, as Envoy's fault filter answers a grpc_status abort.
      return respond(handler, 200, { 'content-type': 'application/grpc', 'grpc-status': String(fault.abortGrpcStatus), 'grpc-message': 'fault filter abort', 'x-proxyless-fault': 'abort' }, '');
    }
    return respond(handler, fault.abortStatus, { 'x-proxyless-fault': 'abort' }, 'fault filter abort\n');
  }
  const action = route.action;
  if (action.kind === 'direct') return respond(handler, action.status, {}, action.body);
  if (action.kind === 'redirect') return respond(handler, action.status, { location: redirectLocation(action, request) }, '');

  const destination = pickDestination(action.destinations, action.cumulative, action.total, ctx.random());
  if (destination === undefined) {
    return respond(handler, 503, { 'x-proxyless-route': 'no-weight' }, `every destination of ${route.where} ${route.name} has weight 0\n`);
  }
  const path = rewritePath(route, uriPrefix, request.opts.path);
  const authority = route.rewrite?.authority ?? getHeader(request.opts.headers, 'host') ?? request.authority;
  const headers = buildHeaders(request.opts.headers, authority, route.requestHeaders, destination.requestHeaders);
  const opts: Dispatcher.DispatchOptions = { ...request.opts, path, headers, [kRoutePolicy]: route.policy } as Dispatcher.DispatchOptions;

  for (const mirror of route.mirrors) {
    if (mirror.percent > 0 && ctx.random() * 100 < mirror.percent) sendMirror(mirror.destination, request, opts, authority, route.policy, ctx);
  }
  const responseOps = [route.responseHeaders, destination.responseHeaders].filter((o): o is HeaderOps => o !== undefined);
  const wrapped = responseOps.length > 0 ? new ResponseHeadersHandler(handler, responseOps) : handler;
  return ctx.sendTo(destination, destination.port ?? request.port, opts, wrapped);
}

/** Weighted choice by cumulative weights; undefined when every weight is 0. */
export function pickDestination<D>(destinations: readonly D[], cumulative: Float64Array, total: number, u: number): D | undefined {
  if (total <= 0) return undefined;
  const target = u * total;
  for (let i = 0; i < destinations.length; i++) if (target < cumulative[i]!) return destinations[i];
  return destinations[destinations.length - 1];
}

function rewritePath(route: CompiledRoute, uriPrefix: string | undefined, fullPath: string): string {
  const rewrite = route.rewrite;
  if (!rewrite || (rewrite.uri === undefined && rewrite.regex === undefined)) return fullPath;
  const q = fullPath.indexOf('?');
  const path = q < 0 ? fullPath : fullPath.slice(0, q);
  const query = q < 0 ? '' : fullPath.slice(q);
  if (rewrite.regex) {
    const rewritten = rewrite.regex.rewrite(path);
    if (rewritten === undefined) {
      throw new InvalidRequestError(
        `request path of ${path.length} characters: the uriRegexRewrite ${JSON.stringify(rewrite.regex.source)} of ${route.where} route ${route.name} ` +
          `took more than ${Math.round(rewriteBudgetMs(path.length))} ms (its matches are too many, each read on to the end of the path); ` +
          'the request was not sent. Such a path is likely hostile; if not, anchor the pattern (^...$) or make it match less often.',
      );
    }
    return rewritten + query;
  }
  // A prefix match has its prefix replaced; any other match has the whole path replaced.
  if (uriPrefix !== undefined) return rewrite.uri! + path.slice(uriPrefix.length) + query;
  return rewrite.uri! + query;
}

function buildHeaders(
  original: Dispatcher.DispatchOptions['headers'],
  authority: string,
  routeOps: HeaderOps | undefined,
  destinationOps: HeaderOps | undefined,
): string[] {
  let pairs = headerPairs(original).filter(([k]) => k !== 'host');
  pairs.push(['host', authority]);
  if (routeOps) pairs = applyHeaderOps(pairs, routeOps);
  if (destinationOps) pairs = applyHeaderOps(pairs, destinationOps);
  return flattenPairs(pairs);
}

function redirectLocation(
  action: { uri: string | undefined; authority: string | undefined; port: number | undefined; derivePort: string | undefined; scheme: string | undefined },
  request: RequestView,
): string {
  const scheme = action.scheme ?? request.scheme;
  const requestHost = getHeader(request.opts.headers, 'host') ?? request.authority;
  let host = action.authority ?? requestHost.replace(/:\d+$/, '');
  const port =
    action.port ?? (action.derivePort === 'FROM_REQUEST_PORT' ? request.port : action.authority === undefined && /:\d+$/.test(requestHost) ? request.port : undefined);
  const defaultPort = scheme === 'https' ? 443 : 80;
  if (port !== undefined && port !== defaultPort) host = `${host}:${port}`;
  const q = request.opts.path.indexOf('?');
  const path = action.uri ?? (q < 0 ? request.opts.path : request.opts.path.slice(0, q));
  const query = q < 0 ? '' : request.opts.path.slice(q);
  return `${scheme}://${host}${path}${query}`;
}

/** A mirror's policy, made once per route policy. */
const mirrorPolicies = new WeakMap<RoutePolicy, RoutePolicy>();

/**
 * Envoy's shadowing is fire and forget: no retries, no hedging, and a timeout of its own
 * (the route's timeout, or {@link MIRROR_TIMEOUT_MS} when the route has none, so a copy
 * to a shadow that never answers cannot stay in flight for ever).
 */
function mirrorPolicyOf(policy: RoutePolicy): RoutePolicy {
  let mirror = mirrorPolicies.get(policy);
  if (mirror === undefined) {
    mirror = Object.freeze({ timeoutMs: policy.timeoutMs ?? MIRROR_TIMEOUT_MS, retry: NO_RETRIES, where: `${policy.where} (mirror)`, mirror: true });
    mirrorPolicies.set(policy, mirror);
  }
  return mirror;
}

/** The timeout of a mirrored copy when its route sets none: Envoy's default route timeout. */
export const MIRROR_TIMEOUT_MS = 15_000;

/**
 * Fire and forget: a copy of the request to the mirror, with `-shadow` appended to the
 * authority (as Envoy does). A body that can be sent again (none, a string, bytes) is
 * copied at once; a streamed body (every `fetch` body) is copied once the request has
 * read it to its end, when it fit in `requestBufferLimit` (a mirror never reads the
 * caller's stream itself); a larger one is not mirrored.
 */
function sendMirror(destination: CompiledDestination, request: RequestView, opts: Dispatcher.DispatchOptions, authority: string, policy: RoutePolicy, ctx: RouterContext): void {
  const shadowAuthority = authority.replace(/^([^:]+)/, '$1-shadow');
  const headers = buildHeaders(opts.headers, shadowAuthority, undefined, undefined);
  const port = destination.port ?? request.port;
  const copy = { ...opts, headers, [kRoutePolicy]: mirrorPolicyOf(policy) } as Dispatcher.DispatchOptions;
  if (isStaticBody(opts.body)) return ctx.mirror(destination, port, copy);
  const streamed = replayableOf(opts.body);
  streamed?.whenComplete((body) => {
    if (body !== undefined) ctx.mirror(destination, port, { ...copy, body });
  });
}
