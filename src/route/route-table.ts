import { durationToMs } from '../config/istio/common.js';
import { regexRewriter, type RegexRewriter } from '../config/re2.js';
import type { Located, VirtualServiceResource } from '../config/load-config.js';
import type { ServiceNamer } from '../discovery/service-name.js';
import type { ServiceName } from '../discovery/types.js';
import { compileMatch, type CompiledMatch } from './compile-match.js';
import { compileHeaderOps, type HeaderOps } from './header-ops.js';
import { retryPolicy } from '../policy/retry-policy.js';
import { ANNOTATIONS, hedgingSettings, type HedgingSettings } from '../config/extensions.js';
import type { ConfigCache } from '../config/config-cache.js';
import type { RoutePolicy } from '../policy/route-policy.js';

type HttpRoute = NonNullable<VirtualServiceResource['spec']['http']>[number];

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
  readonly abortStatus: number;
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
}

/**
 * VirtualServices compiled for lookup: by the FQDN of each host, plus wildcard hosts
 * (`*.example.com`, `*`). When two VirtualServices claim one host, the first (in load
 * order) is used and the conflict is reported, as Istio does for sidecars.
 */
export class RouteTable {
  readonly #exact = new Map<string, CompiledVirtualService>();
  readonly #wildcards: Array<{ suffix: string; vs: CompiledVirtualService }> = [];
  /** Conflicts found while compiling. */
  readonly warnings: string[] = [];

  /**
   * @param virtualServices validated VirtualServices in load order
   * @param namer resolves short hosts in each VirtualService's namespace
   * @param workloadLabels this process's labels, for `sourceLabels` matches
   * @param cache compiles each validated VirtualService once (see {@link ConfigCache})
   */
  constructor(
    virtualServices: readonly Located<VirtualServiceResource>[],
    namer: ServiceNamer,
    workloadLabels: Readonly<Record<string, string>>,
    cache?: ConfigCache,
  ) {
    for (const located of virtualServices) {
      const gateways = located.resource.spec.gateways;
      if (gateways !== undefined && !gateways.includes('mesh')) {
        this.warnings.push(`${located.where}: spec.gateways does not include "mesh": it applies to gateways only, not to this in-process mesh; ignored`);
        continue;
      }
      const compile = (): CompiledWithWarnings => {
        const warnings: string[] = [];
        return { compiled: compileVirtualService(located, namer, workloadLabels, warnings), warnings };
      };
      const { compiled, warnings } = cache === undefined ? compile() : cache.compiled(located.resource, compile);
      this.warnings.push(...warnings);
      for (const host of located.resource.spec.hosts) {
        if (host.startsWith('*')) {
          this.#wildcards.push({ suffix: host.slice(1), vs: compiled });
          continue;
        }
        const fqdn = namer.nameIn(host, located.namespace).fqdn;
        const first = this.#exact.get(fqdn);
        if (first) {
          this.warnings.push(`${located.where}: host ${fqdn} is already bound by ${first.where}; this VirtualService is ignored for it (Istio uses the oldest)`);
          continue;
        }
        this.#exact.set(fqdn, compiled);
      }
    }
    // The longest (most specific) wildcard wins.
    this.#wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  /** The VirtualService bound to a host, if any. */
  lookup(name: ServiceName): CompiledVirtualService | undefined {
    const exact = this.#exact.get(name.fqdn);
    if (exact) return exact;
    for (const { suffix, vs } of this.#wildcards) {
      if (suffix === '' || name.host.endsWith(suffix) || name.fqdn.endsWith(suffix)) return vs;
    }
    return undefined;
  }

  /** Number of hosts bound. */
  get size(): number {
    return this.#exact.size + this.#wildcards.length;
  }
}

/** A compiled VirtualService and the warnings compiling it gave. */
interface CompiledWithWarnings {
  readonly compiled: CompiledVirtualService;
  readonly warnings: readonly string[];
}

function compileVirtualService(
  located: Located<VirtualServiceResource>,
  namer: ServiceNamer,
  workloadLabels: Readonly<Record<string, string>>,
  warnings: string[],
): CompiledVirtualService {
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
  const routes = (located.resource.spec.http ?? []).map((route, index) => compileRoute(route, index, located, namer, workloadLabels, hedging));
  return { where: located.where, routes };
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
  route: HttpRoute,
  index: number,
  located: Located<VirtualServiceResource>,
  namer: ServiceNamer,
  workloadLabels: Readonly<Record<string, string>>,
  hedging: HedgingSettings | undefined,
): CompiledRoute {
  const ns = located.namespace;
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
    mirrors.push({ destination: compileDestination(route.mirror, 1, undefined, ns, namer), percent: route.mirrorPercentage?.value ?? 100 });
  }
  for (const m of route.mirrors ?? []) {
    mirrors.push({ destination: compileDestination(m.destination, 1, undefined, ns, namer), percent: m.percentage?.value ?? 100 });
  }
  const fault = route.fault
    ? {
        delayMs: route.fault.delay ? durationToMs(route.fault.delay.fixedDelay) : 0,
        // No percentage means no fault (Istio's documented behaviour for Percent).
        delayPercent: route.fault.delay ? (route.fault.delay.percentage?.value ?? route.fault.delay.percent ?? 0) : 0,
        abortStatus: route.fault.abort?.httpStatus ?? 0,
        abortPercent: route.fault.abort?.percentage?.value ?? 0,
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
      retry: retryPolicy(route.retries),
      where: `${located.where} route ${name}`,
      hedge: hedging && (!hedging.routes || hedging.routes.includes(name)) ? hedging : undefined,
    },
    matches: (route.match ?? []).map((m, i) => compileMatch(m, i, workloadLabels, ns)),
    action,
    rewrite,
    requestHeaders: compileHeaderOps(route.headers?.request),
    responseHeaders: compileHeaderOps(route.headers?.response),
    fault,
    mirrors,
  };
}
