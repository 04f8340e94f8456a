import { durationToMs } from '../core/duration.js';
import { regexRewriter, type RegexRewriter } from '../config/re2.js';
import type { Located, VirtualServiceResource } from '../config/load-config.js';
import type { ServiceNamer } from '../discovery/service-name.js';
import type { ServiceName } from '../discovery/types.js';
import { compileMatch, type CompiledMatch } from './compile-match.js';
import { grpcStatusCode } from './grpc-status.js';
import { compileHeaderOps, type HeaderOps } from './header-ops.js';
import { retryPolicy } from '../config/settings/retry.js';
import { ANNOTATIONS, hedgingSettings, retryNonIdempotentRoutes, type HedgingSettings } from '../config/extensions.js';
import type { ConfigCache } from '../config/config-cache.js';
import type { RoutePolicy } from '../policy/route-policy.js';
import type { RouteSource, SelectedVirtualService } from '../config/virtual-service-selection.js';

/** A route destination, resolved: which service, port and subset, and its weight. */
export interface CompiledDestination {
  /** The destination host, resolved in the VirtualService's namespace. */
  readonly name: ServiceName;
  /** The destination port, or undefined for the request's own port. */
  readonly port: number | undefined;
  /** The DestinationRule subset, if any. */
  readonly subset: string | undefined;
  /** Relative weight. */
  readonly weight: number;
  /** Destination-level header operations. */
  readonly requestHeaders: HeaderOps | undefined;
  readonly responseHeaders: HeaderOps | undefined;
  /** `host[:port]/subset` for explain output. */
  readonly label: string;
}

/** A mirror target and the share of requests copied to it (0..100). */
export interface CompiledMirror {
  readonly destination: CompiledDestination;
  readonly percent: number;
}

/** Fault injection of one route. Percentages 0..100; no percentage means none. */
export interface CompiledFault {
  readonly delayMs: number;
  readonly delayPercent: number;
  /** The HTTP status an abort answers (200 with a `grpcStatus`). */
  readonly abortStatus: number;
  /** The gRPC status code an abort answers in a trailers-only response, or undefined for an HTTP abort. */
  readonly abortGrpcStatus: number | undefined;
  readonly abortPercent: number;
}

/** What a matched route does. */
export type RouteAction =
  | { readonly kind: 'route'; readonly destinations: readonly CompiledDestination[]; readonly cumulative: Float64Array; readonly total: number }
  | { readonly kind: 'redirect'; readonly uri: string | undefined; readonly authority: string | undefined; readonly port: number | undefined; readonly derivePort: string | undefined; readonly scheme: string | undefined; readonly status: number }
  | { readonly kind: 'direct'; readonly status: number; readonly body: string | Buffer };

/** One compiled `http` route of a VirtualService. */
export interface CompiledRoute {
  /** `VirtualService/name (origin)`. */
  readonly where: string;
  /** The route's `name`, or `http[i]`. */
  readonly name: string;
  /** The match blocks (ORed); empty matches every request. */
  readonly matches: readonly CompiledMatch[];
  readonly action: RouteAction;
  readonly rewrite:
    | { readonly uri: string | undefined; readonly authority: string | undefined; readonly regex: RegexRewriter | undefined }
    | undefined;
  readonly requestHeaders: HeaderOps | undefined;
  readonly responseHeaders: HeaderOps | undefined;
  readonly fault: CompiledFault | undefined;
  readonly mirrors: readonly CompiledMirror[];
  /** Timeout and retries compiled for the resilience layers. */
  readonly policy: RoutePolicy;
}

/** The routes of the VirtualService bound to one host. */
export interface CompiledVirtualService {
  readonly where: string;
  readonly routes: readonly CompiledRoute[];
  /**
   * The ports it has routes for, or undefined for every port. Istio builds a
   * VirtualService's routes per destination port and leaves out matches for other ports
   * (and matches that cannot hold for this workload); with none left, the VirtualService
   * does not apply on that port and requests go to the service itself.
   */
  readonly ports: ReadonlySet<number> | undefined;
}

/**
 * VirtualServices compiled for lookup: by the FQDN of each host, plus wildcard hosts
 * (`*.example.com`, `*`). When several VirtualServices claim one host, the first in
 * Istio's order (see selectVirtualServices) that has routes for the request's port is
 * used, and the overlap is reported; an exact host comes before any wildcard, and a
 * more specific wildcard before a broader one.
 */
export class RouteTable {
  readonly #exact = new Map<string, CompiledVirtualService[]>();
  readonly #wildcards: Array<{ pattern: string; suffix: string; list: CompiledVirtualService[] }> = [];
  /** Conflicts found while compiling. */
  readonly warnings: string[] = [];

  /**
   * @param virtualServices the VirtualServices that apply to this mesh, in Istio's order
   * @param namer resolves short hosts in each VirtualService's namespace
   * @param workloadLabels this process's labels, for `sourceLabels` matches
   * @param cache compiles each validated VirtualService once (see {@link ConfigCache})
   */
  constructor(
    virtualServices: readonly SelectedVirtualService[],
    namer: ServiceNamer,
    workloadLabels: Readonly<Record<string, string>>,
    cache?: ConfigCache,
  ) {
    const wildcards = new Map<string, { pattern: string; suffix: string; list: CompiledVirtualService[] }>();
    for (const selected of virtualServices) {
      const { located } = selected;
      const compile = (): CompiledWithWarnings => {
        const warnings: string[] = [];
        return { compiled: compileVirtualService(selected, namer, workloadLabels, warnings), warnings };
      };
      // A root with delegates depends on other resources too: compiled afresh each time.
      const { compiled, warnings } = cache === undefined || !selected.plain ? compile() : cache.compiled(located.resource, compile);
      this.warnings.push(...warnings);
      if (compiled.ports !== undefined && compiled.ports.size === 0) {
        this.warnings.push(`${located.where}: no route of it can match in-process traffic from this workload (every match names gateways without "mesh", or sourceLabels/sourceNamespace of other workloads): requests to its hosts go to the services themselves, as from an Istio sidecar`);
        continue;
      }
      for (const rawHost of located.resource.spec.hosts ?? []) {
        const host = rawHost.toLowerCase();
        if (host.startsWith('*')) {
          let entry = wildcards.get(host);
          if (entry === undefined) wildcards.set(host, (entry = { pattern: host, suffix: host.slice(1), list: [] }));
          this.#claim(entry.list, compiled, host);
          continue;
        }
        const fqdn = namer.nameIn(host, located.namespace).fqdn;
        let list = this.#exact.get(fqdn);
        if (list === undefined) this.#exact.set(fqdn, (list = []));
        this.#claim(list, compiled, fqdn);
      }
    }
    // The most specific wildcard first (istio/istio pkg/config/host: MoreSpecific).
    this.#wildcards.push(...wildcards.values());
    this.#wildcards.sort((a, b) => b.pattern.length - a.pattern.length || (a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0));
  }

  #claim(list: CompiledVirtualService[], compiled: CompiledVirtualService, host: string): void {
    const first = list[0];
    if (first !== undefined && overlaps(first.ports, compiled.ports)) {
      this.warnings.push(`${compiled.where}: host ${host} is already bound by ${first.where}; Istio uses the first (oldest, own namespace first), so this one applies to ${host} only on ports the first has no routes for`);
    }
    list.push(compiled);
  }

  /** The VirtualService bound to a host for requests on `port` (any port when omitted), if any. */
  lookup(name: ServiceName, port?: number): CompiledVirtualService | undefined {
    const exact = firstFor(this.#exact.get(name.fqdn), port);
    if (exact) return exact;
    for (const { suffix, list } of this.#wildcards) {
      if (suffix === '' || name.host.endsWith(suffix) || name.fqdn.endsWith(suffix)) {
        const found = firstFor(list, port);
        if (found) return found;
      }
    }
    return undefined;
  }

  /**
   * Every host bound (FQDNs, then wildcard patterns) with the VirtualServices claiming it,
   * the one in force first (for the admin page's `/routes`).
   */
  *hosts(): IterableIterator<[host: string, virtualServices: readonly CompiledVirtualService[]]> {
    yield* this.#exact;
    for (const { pattern, list } of this.#wildcards) yield [pattern, list];
  }

  /** Number of hosts bound. */
  get size(): number {
    return this.#exact.size + this.#wildcards.length;
  }
}

function firstFor(list: readonly CompiledVirtualService[] | undefined, port: number | undefined): CompiledVirtualService | undefined {
  if (list === undefined) return undefined;
  for (const vs of list) if (port === undefined || vs.ports === undefined || vs.ports.has(port)) return vs;
  return undefined;
}

function overlaps(a: ReadonlySet<number> | undefined, b: ReadonlySet<number> | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  for (const port of a) if (b.has(port)) return true;
  return false;
}

/** A compiled VirtualService and the warnings compiling it gave. */
interface CompiledWithWarnings {
  readonly compiled: CompiledVirtualService;
  readonly warnings: readonly string[];
}

function compileVirtualService(
  selected: SelectedVirtualService,
  namer: ServiceNamer,
  workloadLabels: Readonly<Record<string, string>>,
  warnings: string[],
): CompiledVirtualService {
  const located = selected.located;
  const hedging = hedgingSettings(located.resource.metadata.annotations, located.where);
  if (hedging?.percentile !== undefined && 100 - hedging.percentile > hedging.maxExtraPercent) {
    // Valid, but the budget is spent on ordinary requests and the slow ones may find it empty.
    const share = Number((100 - hedging.percentile).toFixed(1));
    warnings.push(
      `${located.where}: metadata.annotations["${ANNOTATIONS.hedging}"]: percentile ${hedging.percentile} reaches the delay on about ${share} % of ` +
        `requests but maxExtraPercent ${hedging.maxExtraPercent} allows backups for ${hedging.maxExtraPercent} %: the budget runs out on ordinary ` +
        `requests and the slowest may get no backup. Use percentile >= ${100 - hedging.maxExtraPercent}, or raise maxExtraPercent.`,
    );
  }
  const replay = retryNonIdempotentRoutes(located.resource.metadata.annotations, located.where);
  const routes = selected.routes.map((source, index) => compileRoute(source, index, located, namer, workloadLabels, hedging, replay));
  // Routes whose every match is left out for this workload do not exist for it.
  const live = routes.filter((r) => r.matches.length === 0 || r.matches.some((m) => m.applies));
  let ports: Set<number> | undefined = new Set<number>();
  for (const route of live) {
    if (route.matches.length === 0) {
      ports = undefined;
      break;
    }
    for (const match of route.matches) {
      if (!match.applies) continue;
      if (match.port === undefined) {
        ports = undefined;
        break;
      }
      ports.add(match.port);
    }
    if (ports === undefined) break;
  }
  return { where: located.where, routes: live, ports };
}

function compileDestination(
  spec: { host: string; subset?: string | undefined; port?: { number: number } | undefined },
  weight: number,
  headers: { request?: object; response?: object } | undefined,
  namespace: string,
  namer: ServiceNamer,
): CompiledDestination {
  const name = namer.nameIn(spec.host, namespace);
  const port = spec.port?.number;
  return {
    name,
    port,
    subset: spec.subset,
    weight,
    requestHeaders: compileHeaderOps(headers?.request as never),
    responseHeaders: compileHeaderOps(headers?.response as never),
    label: `${name.fqdn}${port ? `:${port}` : ''}${spec.subset ? `/${spec.subset}` : ''}`,
  };
}

function compileRoute(
  source: RouteSource,
  index: number,
  located: Located<VirtualServiceResource>,
  namer: ServiceNamer,
  workloadLabels: Readonly<Record<string, string>>,
  hedging: HedgingSettings | undefined,
  replayNonIdempotent: ((route: string) => boolean) | undefined,
): CompiledRoute {
  const route = source.spec;
  const ns = source.namespace;
  let action: RouteAction;
  if (route.route) {
    // Weights are relative; when none is given the destinations share equally.
    const anyWeight = route.route.some((d) => d.weight !== undefined);
    const destinations = route.route.map((d) => compileDestination(d.destination, anyWeight ? (d.weight ?? 0) : 1, d.headers, ns, namer));
    const cumulative = new Float64Array(destinations.length);
    let total = 0;
    destinations.forEach((d, i) => {
      total += d.weight;
      cumulative[i] = total;
    });
    action = { kind: 'route', destinations, cumulative, total };
  } else if (route.redirect) {
    const r = route.redirect;
    action = { kind: 'redirect', uri: r.uri, authority: r.authority, port: r.port, derivePort: r.derivePort, scheme: r.scheme, status: r.redirectCode ?? 301 };
  } else {
    const d = route.directResponse!;
    // `bytes` is base64 in Istio's API: the response carries exactly those bytes.
    action = { kind: 'direct', status: d.status, body: d.body?.string ?? (d.body?.bytes ? Buffer.from(d.body.bytes, 'base64') : '') };
  }
  const mirrors: CompiledMirror[] = [];
  if (route.mirror) {
    mirrors.push({ destination: compileDestination(route.mirror, 1, undefined, source.mirrorNamespace, namer), percent: route.mirrorPercentage?.value ?? route.mirrorPercent ?? 100 });
  }
  for (const m of route.mirrors ?? []) {
    mirrors.push({ destination: compileDestination(m.destination, 1, undefined, source.mirrorsNamespace, namer), percent: m.percentage?.value ?? 100 });
  }
  const fault = route.fault
    ? {
        delayMs: route.fault.delay ? durationToMs(route.fault.delay.fixedDelay) : 0,
        // No percentage means no fault (Istio's documented behaviour for Percent).
        delayPercent: route.fault.delay ? (route.fault.delay.percentage?.value ?? route.fault.delay.percent ?? 0) : 0,
        // gRPC aborts answer HTTP 200 with grpc-status (Envoy's fault filter).
        abortStatus: route.fault.abort?.grpcStatus !== undefined ? 200 : (route.fault.abort?.httpStatus ?? 0),
        abortGrpcStatus: route.fault.abort?.grpcStatus !== undefined ? grpcStatusCode(route.fault.abort.grpcStatus) : undefined,
        // An abort without an error type aborts nothing (Istio drops it with a log line).
        abortPercent: route.fault.abort?.httpStatus === undefined && route.fault.abort?.grpcStatus === undefined ? 0 : (route.fault.abort?.percentage?.value ?? 0),
      }
    : undefined;
  const rewrite = route.rewrite
    ? {
        uri: route.rewrite.uri,
        authority: route.rewrite.authority,
        // RE2, every occurrence rewritten (Envoy's regex_rewrite substitutes all).
        regex: route.rewrite.uriRegexRewrite ? regexRewriter(route.rewrite.uriRegexRewrite.match, route.rewrite.uriRegexRewrite.rewrite) : undefined,
      }
    : undefined;
  const name = route.name ?? `http[${index}]`;
  const timeoutMs = route.timeout ? durationToMs(route.timeout) : undefined;
  return {
    where: located.where,
    name,
    // Istio: timeout "0s" disables the route timeout.
    policy: {
      timeoutMs: timeoutMs === 0 ? undefined : timeoutMs,
      retry: retryPolicy(route.retries, { singleDestination: (route.route?.length ?? 0) <= 1, replayNonIdempotent: replayNonIdempotent?.(name) === true }),
      where: `${located.where} route ${name}${source.delegate ? ` (from ${source.delegate})` : ''}`,
      hedge: hedging && (!hedging.routes || hedging.routes.includes(name)) ? hedging : undefined,
    },
    matches: (route.match ?? []).map((m, i) => compileMatch(m, i, workloadLabels, namer.namespace)),
    action,
    rewrite,
    requestHeaders: compileHeaderOps(route.headers?.request),
    responseHeaders: compileHeaderOps(route.headers?.response),
    fault,
    mirrors,
  };
}
