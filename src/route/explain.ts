import type { Dispatcher } from 'undici';
import { InvalidRequestError } from '../core/errors/index.js';
import { DEFAULT_RETRY_POLICY } from '../policy/retry/index.js';
import type { ServiceName } from '../discovery/types.js';
import type { EndpointLoadView } from '../core/target.js';
import { normalizePath, type PathSteps } from './normalize-path.js';
import { RequestView } from './request-view.js';
import type { CompiledDestination, CompiledRoute, CompiledVirtualService } from './route-table.js';

/** One route considered, in order, and why it did or did not match. */
export interface RouteVerdict {
  /** The route's name (`http[2]` when unnamed). */
  readonly route: string;
  /** True for the route that matched (the last one listed). */
  readonly matched: boolean;
  /** The first condition that failed in each match block, or the match that held. */
  readonly reason: string;
}

/** One endpoint as explain shows it. */
export interface ExplainedEndpoint {
  /** `address:port`. */
  readonly key: string;
  /** Discovery labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** False while draining or ejected. */
  readonly available: boolean;
  /** Requests in flight on it. */
  readonly pending: number;
  /** Peak EWMA cost in ms. */
  readonly cost: number;
}

/** One destination a request may go to, with its share and what applies there. */
export interface ExplainedDestination {
  /** `fqdn:port/subset`. */
  readonly destination: string;
  /** Share of requests, 0..100. */
  readonly percent: number;
  /** What discovery knows: `known`, `missing` (unknown host), `pending`. */
  readonly status: string;
  /** The balancer, or `passthrough`. */
  readonly balancer: string;
  /** The DestinationRule that applies, if any. */
  readonly destinationRule: string | undefined;
  /** The candidate endpoints, with their load. */
  readonly endpoints: readonly ExplainedEndpoint[];
}

/** What the mesh would do with one request, and why. */
export interface Explanation {
  /** The URL explained. */
  readonly url: string;
  /** The method explained. */
  readonly method: string;
  /** The service the host names (FQDN) and port. */
  readonly service: string;
  /** The port the caller used. */
  readonly port: number;
  /** The VirtualService bound to the host, if any. */
  readonly virtualService: string | undefined;
  /** Routes considered in order, up to the one that matched (at most 10). */
  readonly routes: readonly RouteVerdict[];
  /** What happens: `route`, `redirect`, `direct-response`, `no-route` (404), or `default` (no VirtualService). */
  readonly action: 'route' | 'redirect' | 'direct-response' | 'no-route' | 'default';
  /** Where requests go, with their shares. */
  readonly destinations: readonly ExplainedDestination[];
  /** Policies of the matched route: rewrite, headers, fault, mirrors, timeout, retries. */
  readonly policies: readonly string[];
}

/** What explain reads of a service (the mesh's services are such; route does not import the mesh). */
export interface ExplainableService {
  /** Whether discovery knows the service yet. */
  readonly status: 'pending' | 'known' | 'missing';
  /** The balancer's name. */
  readonly balancerName: string;
  /** True once the service is closed (evicted, or the mesh closed). */
  readonly closed: boolean;
  /** The service's endpoints, with their availability and load. */
  endpoints(): readonly { readonly key: string; readonly labels: Readonly<Record<string, string>>; readonly available: boolean; readonly load: EndpointLoadView }[];
  /** Resolves true once `condition` holds, false after `timeoutMs`. */
  waitUntil(timeoutMs: number, condition: () => boolean): Promise<boolean>;
}

/** What explain needs from the mesh. */
export interface ExplainContext {
  name(host: string): ServiceName;
  virtualService(name: ServiceName, port: number): CompiledVirtualService | undefined;
  service(name: ServiceName, port: number, secure: boolean, subset?: string): ExplainableService;
  /** The DestinationRule(s) in force for a service, for messages. */
  destinationRuleFor(name: ServiceName): string | undefined;
  readonly discoveryTimeout: number;
  /** The mesh's path normalisation: explain matches the path the router would see. */
  readonly pathSteps?: PathSteps;
}

const MAX_VERDICTS = 10;

/** Explains the routing decision for one request without sending it. */
export async function explainRequest(ctx: ExplainContext, url: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Explanation> {
  if (typeof url !== 'string' || !URL.canParse(url)) {
    throw new InvalidRequestError(`explain: ${JSON.stringify(url)} is not a URL (expected: e.g. http://reviews/api/1)`);
  }
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidRequestError(`explain: ${parsed.protocol} URLs are not supported (expected: http: or https:)`);
  }
  const secure = parsed.protocol === 'https:';
  const port = parsed.port ? Number(parsed.port) : secure ? 443 : 80;
  const hostname = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const name = ctx.name(hostname);
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const raw = `${parsed.pathname}${parsed.search}`;
  const path = ctx.pathSteps === undefined ? raw : normalizePath(raw, ctx.pathSteps);
  const opts: Dispatcher.DispatchOptions = { origin: parsed.origin, path, method: method as 'GET', headers };
  const request = new RequestView(opts, secure ? 'https' : 'http', parsed.host, port);
  const vs = ctx.virtualService(name, port);
  const base = { url, method, service: name.fqdn, port, virtualService: vs?.where };

  if (!vs) {
    const destination = await describeDestination(ctx, name, port, secure, undefined, 100);
    return { ...base, routes: [], action: 'default', destinations: [destination], policies: [`retries: ${DEFAULT_RETRY_POLICY.source}`] };
  }
  const routes: RouteVerdict[] = [];
  let matched: CompiledRoute | undefined;
  for (const route of vs.routes) {
    const verdict = judge(route, request);
    if (routes.length < MAX_VERDICTS || verdict.matched) routes.push(verdict);
    if (verdict.matched) {
      matched = route;
      break;
    }
  }
  if (!matched) return { ...base, routes, action: 'no-route', destinations: [], policies: ['404 from the mesh: no route matched'] };
  const policies = describePolicies(matched);
  const action = matched.action;
  if (action.kind === 'redirect') return { ...base, routes, action: 'redirect', destinations: [], policies: [`redirect ${action.status} to ${action.scheme ?? 'same scheme'}://${action.authority ?? 'same host'}${action.uri ?? ' same path'}`, ...policies] };
  if (action.kind === 'direct') return { ...base, routes, action: 'direct-response', destinations: [], policies: [`direct response ${action.status}`, ...policies] };
  const destinations = await Promise.all(
    action.destinations.map((d: CompiledDestination) => describeDestination(ctx, d.name, d.port ?? port, secure, d.subset, action.total > 0 ? (d.weight / action.total) * 100 : 0)),
  );
  return { ...base, routes, action: 'route', destinations, policies };
}

function judge(route: CompiledRoute, request: RequestView): RouteVerdict {
  if (route.matches.length === 0) return { route: route.name, matched: true, reason: 'no match conditions: matches every request' };
  const misses: string[] = [];
  for (const match of route.matches) {
    const miss = match.explainMiss(request);
    if (miss === undefined) return { route: route.name, matched: true, reason: `${match.name} holds` };
    misses.push(`${match.name}: ${miss} does not hold`);
  }
  return { route: route.name, matched: false, reason: misses.join('; ') };
}

function describePolicies(route: CompiledRoute): string[] {
  const out: string[] = [];
  if (route.rewrite?.uri !== undefined) out.push(`rewrite uri to ${route.rewrite.uri}`);
  if (route.rewrite?.regex) out.push(`rewrite uri by regex ${route.rewrite.regex.source}`);
  if (route.rewrite?.authority !== undefined) out.push(`rewrite authority to ${route.rewrite.authority}`);
  if (route.requestHeaders) out.push('request header operations');
  if (route.responseHeaders) out.push('response header operations');
  if (route.fault?.delayPercent) out.push(`fault delay ${route.fault.delayMs} ms on ${route.fault.delayPercent} %`);
  if (route.fault?.abortPercent) out.push(`fault abort ${route.fault.abortGrpcStatus !== undefined ? `grpc-status ${route.fault.abortGrpcStatus}` : route.fault.abortStatus} on ${route.fault.abortPercent} %`);
  for (const m of route.mirrors) out.push(`mirror ${m.percent} % to ${m.destination.label}`);
  if (route.policy.timeoutMs !== undefined) out.push(`timeout ${route.policy.timeoutMs} ms over all tries`);
  out.push(`retries: ${route.policy.retry.source}`);
  return out;
}

async function describeDestination(ctx: ExplainContext, name: ServiceName, port: number, secure: boolean, subset: string | undefined, percent: number): Promise<ExplainedDestination> {
  const service = ctx.service(name, port, secure, subset);
  // A service evicted meanwhile (the table full) hears nothing more: stop waiting then.
  await service.waitUntil(ctx.discoveryTimeout, () => service.closed || service.status !== 'pending');
  const now = performance.now();
  return {
    destination: `${name.fqdn}:${port}${subset ? `/${subset}` : ''}`,
    percent: Math.round(percent * 100) / 100,
    status: service.status,
    balancer: service.balancerName,
    destinationRule: ctx.destinationRuleFor(name),
    endpoints: service.endpoints().map((e) => ({ key: e.key, labels: e.labels, available: e.available, pending: e.load.pending, cost: Math.round(e.load.cost(now) * 100) / 100 })),
  };
}

/** Renders an explanation as text, for the CLI. */
export function formatExplanation(e: Explanation): string {
  const lines = [`${e.method} ${e.url}`, `  service: ${e.service} port ${e.port}`];
  if (!e.virtualService) lines.push('  no VirtualService binds this host: requests go to the service itself');
  else {
    lines.push(`  virtual service: ${e.virtualService}`);
    for (const r of e.routes) lines.push(`    ${r.matched ? '✓' : '✗'} ${r.route}: ${r.reason}`);
  }
  lines.push(`  action: ${e.action}`);
  for (const p of e.policies) lines.push(`  policy: ${p}`);
  for (const d of e.destinations) {
    lines.push(`  → ${d.destination}  ${d.percent} %  (${d.status}, balancer ${d.balancer}${d.destinationRule ? `, ${d.destinationRule}` : ''})`);
    if (d.status === 'missing') lines.push('      no discovery source or ServiceEntry knows this host');
    for (const ep of d.endpoints) {
      const labels = Object.entries(ep.labels).map(([k, v]) => `${k}=${v}`).join(',');
      lines.push(`      ${ep.available ? 'up  ' : 'down'} ${ep.key}${labels ? ` [${labels}]` : ''}  pending ${ep.pending}  cost ${ep.cost} ms`);
    }
  }
  return lines.join('\n');
}
