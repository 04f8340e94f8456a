import type { z } from 'zod';
import type { PathPart } from '../config-path.js';
import { checkExportTo, checkGatewayNames } from './common-rules.js';
import type { Findings, RuleContext } from './findings.js';
import { hasHeaderVariable, isAuthorityHeader, isJwtClaimHeader } from './http-fields.js';
import type { httpRouteSchema } from './http-route.js';
import { isDns1123Label, isIpAddress, ipSubnetProblem, wildcardDomainProblem } from './names.js';
import { checkUnreachableRules } from './unreachable-rules.js';
import type { virtualServiceSpecSchema } from './virtual-service.js';

/**
 * The rules Istio applies to a VirtualService beyond its structure, from istio/istio
 * pkg/config/validation (validation.go: ValidateVirtualService and the functions it
 * calls; virtualservice.go: validateHTTPRoute), in our own code. Paths point at the field
 * that is wrong, or at the closest field holding a wrong combination.
 *
 * @module
 */

type Spec = z.output<typeof virtualServiceSpecSchema>;
type HttpRoute = z.output<typeof httpRouteSchema>;

/** Checks a parsed VirtualService spec. */
export function checkVirtualService(spec: Spec, context: RuleContext, findings: Findings): void {
  const hosts = spec.hosts ?? [];
  const delegate = hosts.length === 0;
  if (delegate) {
    // A delegate: only http routes, no gateways of its own (they come from the root).
    if ((spec.gateways?.length ?? 0) > 0) findings.errorText(['spec', 'gateways'], 'no gateways in a delegate VirtualService (one without hosts): the root VirtualService decides where it applies');
    if ((spec.tls?.length ?? 0) > 0) findings.errorText(['spec', 'tls'], 'no tls routes in a delegate VirtualService (one without hosts): only http routes can be delegated');
    if ((spec.tcp?.length ?? 0) > 0) findings.errorText(['spec', 'tcp'], 'no tcp routes in a delegate VirtualService (one without hosts): only http routes can be delegated');
  }
  const gateways = spec.gateways ?? [];
  const appliesToGateway = gateways.length > 0 && !gateways.includes('mesh');
  const appliesToMesh = !appliesToGateway;
  checkGatewayNames(spec.gateways, ['spec', 'gateways'], findings);

  if (appliesToMesh) {
    // JWT claims are only known at gateways (which verify the token); sidecars cannot route on them.
    (spec.http ?? []).forEach((route, r) => {
      (route.match ?? []).forEach((match, m) => {
        for (const key of ['headers', 'withoutHeaders'] as const) {
          for (const name of Object.keys(match[key] ?? {})) {
            if (isJwtClaimHeader(name)) findings.errorText(['spec', 'http', r, 'match', m, key, name], 'routing on a JWT claim works at gateways only; this VirtualService applies to the mesh (set spec.gateways to gateways, without "mesh")');
          }
        }
      });
    });
  }

  const sni = (spec.tls ?? []).some((t) => t.match.some((m) => m.sniHosts.length > 0));
  let hostsValid = true;
  hosts.forEach((host, i) => {
    const problem = appliesToGateway ? gatewayHostProblem(sni, host) : wildcardDomainProblem(host);
    if (problem !== undefined) {
      if (!isIpAddress(host)) {
        findings.error(['spec', 'hosts', i], host, `a host name, "*.domain" or an IP address (${problem})`);
        hostsValid = false;
      }
    } else if (appliesToMesh && host === '*') {
      findings.error(['spec', 'hosts', i], host, 'a host other than "*" for a VirtualService that applies to the mesh ("*" is for gateways only)');
      hostsValid = false;
    }
  });
  if (hostsValid) checkDuplicateHosts(hosts, findings);

  if ((spec.http?.length ?? 0) + (spec.tcp?.length ?? 0) + (spec.tls?.length ?? 0) === 0) {
    findings.errorText(['spec', 'http'], 'at least one http, tcp or tls route');
  }
  (spec.http ?? []).forEach((route, i) => checkHttpRoute(route, ['spec', 'http', i], delegate, findings));
  (spec.tls ?? []).forEach((route, i) => {
    const at: PathPart[] = ['spec', 'tls', i];
    if (route.match.length === 0) findings.errorText([...at, 'match'], 'at least one match with sniHosts');
    route.match.forEach((match, m) => {
      if (match.sniHosts.length === 0) findings.errorText([...at, 'match', m, 'sniHosts'], 'at least one SNI host');
      match.sniHosts.forEach((sniHost, s) => checkSniHost(sniHost, [...at, 'match', m, 'sniHosts', s], hosts, appliesToGateway, findings));
      checkL4Match(match, [...at, 'match', m], findings);
    });
    checkRouteDestinations(route.route, [...at, 'route'], findings, 'tls');
  });
  (spec.tcp ?? []).forEach((route, i) => {
    const at: PathPart[] = ['spec', 'tcp', i];
    (route.match ?? []).forEach((match, m) => checkL4Match(match, [...at, 'match', m], findings));
    checkRouteDestinations(route.route, [...at, 'route'], findings, 'tcp');
  });
  checkExportTo(spec.exportTo, context.namespace, findings);
  checkUnreachableRules(spec.http ?? [], findings);
}

/** How many wildcard-host comparisons the duplicate check makes at most. */
export const MAX_HOST_COMPARISONS = 1_000_000;

/**
 * Hosts that can name the same service (Istio's pairwise `Matches`). Exact names are
 * compared through a set; only pairs with a wildcard are compared one by one, so a long
 * list of exact hosts costs linear time.
 */
function checkDuplicateHosts(hosts: readonly string[], findings: Findings): void {
  const exact = new Map<string, number>();
  const wild: number[] = [];
  hosts.forEach((host, i) => {
    if (host.startsWith('*')) wild.push(i);
    else if (exact.has(host)) findings.errorText(['spec', 'hosts'], `hosts without duplicates: "${host}" is listed twice`);
    else exact.set(host, i);
  });
  // Wildcards against every host: bounded, as a huge list would take quadratic time.
  let budget = MAX_HOST_COMPARISONS;
  for (const w of wild) {
    for (let j = 0; j < hosts.length; j++) {
      if (j === w || (hosts[j]!.startsWith('*') && j < w)) continue;
      if (--budget < 0) {
        findings.warn(['spec', 'hosts'], `the check for overlapping wildcard hosts stopped after ${MAX_HOST_COMPARISONS} comparisons (${wild.length} wildcards among ${hosts.length} hosts)`);
        return;
      }
      if (hostsOverlap(hosts[w]!, hosts[j]!)) findings.errorText(['spec', 'hosts'], `hosts without duplicates: "${hosts[Math.min(w, j)]}" and "${hosts[Math.max(w, j)]}" overlap`);
    }
  }
}

/** Hosts of a VirtualService bound to gateways: as any host, or Istio's generated SNI names (`outbound_.80_._.reviews.default.svc.cluster.local`) on a tls route. */
function gatewayHostProblem(sni: boolean, host: string): string | undefined {
  if (sni && host.startsWith('outbound_')) {
    const parts = host.split('_');
    if (parts.length < 4 || parts[0] !== 'outbound') return 'an SNI name of the form outbound_.<port>_._.<host>';
    const port = parts[1]!.replace(/^\.+|\.+$/g, '');
    const name = parts[3]!.replace(/^\.+|\.+$/g, '');
    if (!/[0-9]/.test(port) || !/[a-zA-Z]/.test(name)) return 'an SNI name of the form outbound_.<port>_._.<host>';
    return undefined;
  }
  return wildcardDomainProblem(host);
}

/** Istio's `host.Name.Matches`: two hosts that can name the same service. */
export function hostsOverlap(a: string, b: string): boolean {
  const aWild = a.startsWith('*');
  const bWild = b.startsWith('*');
  if (aWild && bWild) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aWild) return b.endsWith(a.slice(1));
  if (bWild) return a.endsWith(b.slice(1));
  return a === b;
}

/** Istio's `host.Name.SubsetOf`: every name `a` matches is matched by `b`. */
function hostSubsetOf(a: string, b: string): boolean {
  const aWild = a.startsWith('*');
  const bWild = b.startsWith('*');
  if (aWild) return bWild && a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  if (bWild) return a.endsWith(b.slice(1));
  return a === b;
}

function checkSniHost(sniHost: string, at: PathPart[], hosts: readonly string[], appliesToGateway: boolean, findings: Findings): void {
  const problem = appliesToGateway ? gatewayHostProblem(true, sniHost) : wildcardDomainProblem(sniHost);
  if (problem !== undefined) {
    if (isIpAddress(sniHost)) findings.warn(at, `the IP address "${sniHost}" as an SNI host goes against the SNI specification; most clients never send one`);
    else findings.error(at, sniHost, `an SNI host name (${problem})`);
    return;
  }
  if (!hosts.some((host) => hostSubsetOf(sniHost, host))) findings.error(at, sniHost, `an SNI host within the VirtualService's hosts (${hosts.join(', ')})`);
}

function checkL4Match(match: { destinationSubnets?: string[] | undefined; gateways?: string[] | undefined; sourceNamespace?: string | undefined }, at: PathPart[], findings: Findings): void {
  (match.destinationSubnets ?? []).forEach((subnet, i) => {
    const problem = ipSubnetProblem(subnet);
    if (problem !== undefined) findings.error([...at, 'destinationSubnets', i], subnet, `an IP address or CIDR block (${problem})`);
  });
  checkGatewayNames(match.gateways, [...at, 'gateways'], findings);
}

/** Route destinations: when there are several, their weights may not all be zero. */
function checkRouteDestinations(route: ReadonlyArray<{ weight?: number | undefined }> | undefined, at: PathPart[], findings: Findings, kind: 'http' | 'tcp' | 'tls'): void {
  if (kind !== 'http' && (route === undefined || route.length === 0)) {
    findings.errorText(at, `at least one destination in a ${kind} route`);
    return;
  }
  if (route !== undefined && route.length > 1 && route.every((d) => (d.weight ?? 0) === 0)) {
    findings.errorText(at, 'weights that are not all 0 (the total weight is 0: nothing would be routed)');
  }
}

/** One http route (validateHTTPRoute). `delegate`: the route belongs to a delegate VirtualService. */
function checkHttpRoute(route: HttpRoute, at: PathPart[], delegate: boolean, findings: Findings): void {
  const routeCount = route.route?.length ?? 0;
  if (route.delegate !== undefined && !delegate) {
    // A root route: it hands the request to the delegate and may not route itself.
    if (route.redirect !== undefined) findings.errorText([...at, 'redirect'], 'no redirect in a route with a delegate (the delegate decides)');
    if (route.route !== undefined) findings.errorText([...at, 'route'], 'no route in a route with a delegate (the delegate decides)');
  } else {
    if (delegate && route.delegate !== undefined) findings.errorText([...at, 'delegate'], 'no delegate in a delegate VirtualService (delegation is one level deep)');
    if (route.redirect !== undefined) {
      if (routeCount > 0) findings.errorText([...at, 'redirect'], 'either route or redirect, not both');
      if (route.fault !== undefined) findings.errorText([...at, 'fault'], 'no fault in a redirect route');
      if (route.rewrite !== undefined) findings.errorText([...at, 'rewrite'], 'no rewrite in a redirect route');
      if (route.directResponse !== undefined) findings.errorText([...at, 'directResponse'], 'either redirect or directResponse, not both');
    } else if (route.directResponse !== undefined) {
      if (routeCount > 0) findings.errorText([...at, 'directResponse'], 'either route or directResponse, not both');
      if (route.fault !== undefined) findings.errorText([...at, 'fault'], 'no fault in a directResponse route');
      if (route.rewrite !== undefined) findings.errorText([...at, 'rewrite'], 'no rewrite in a directResponse route');
    } else if (routeCount === 0) {
      findings.errorText(route.route !== undefined ? [...at, 'route'] : at, 'one of route (with at least one destination), redirect or directResponse');
    }
  }
  if (route.mirror !== undefined && (route.mirrors?.length ?? 0) > 0) findings.errorText([...at, 'mirrors'], 'either mirror or mirrors, not both');

  (route.match ?? []).forEach((match, m) => {
    if (match.ignoreUriCase && match.uri?.regex !== undefined) {
      findings.warn([...at, 'match', m, 'ignoreUriCase'], 'Istio applies ignoreUriCase to exact and prefix uri matches only, so this regex is matched case-sensitively; write (?i) in it to ignore case');
    }
    if (match.sourceNamespace !== undefined && match.sourceNamespace !== '' && !isDns1123Label(match.sourceNamespace)) {
      findings.error([...at, 'match', m, 'sourceNamespace'], match.sourceNamespace, 'a namespace name (a DNS-1123 label)');
    }
    checkGatewayNames(match.gateways, [...at, 'match', m, 'gateways'], findings);
  });

  checkHeaderValues(route.headers, [...at, 'headers'], findings);
  (route.route ?? []).forEach((d, i) => checkHeaderValues(d.headers, [...at, 'route', i, 'headers'], findings));
  checkAuthorityWrites(route, at, findings);
  checkRouteDestinations(route.route, [...at, 'route'], findings, 'http');

  const mirrorPercent = route.mirrorPercent ?? route.mirror_percent;
  if (mirrorPercent !== undefined && mirrorPercent > 100) {
    findings.error([...at, route.mirrorPercent !== undefined ? 'mirrorPercent' : 'mirror_percent'], mirrorPercent, 'a percentage from 0 to 100');
  }
  checkRedirect(route, at, findings);
  checkFault(route, at, findings);
  checkRetries(route, at, findings);
  checkRewrite(route, at, findings);
  checkCors(route, at, findings);
  const status = route.directResponse?.status;
  if (status !== undefined && (status < 200 || status > 600)) findings.error([...at, 'directResponse', 'status'], status, 'an HTTP status from 200 to 599');
  const body = route.directResponse?.body;
  const size = body?.string !== undefined ? Buffer.byteLength(body.string) : body?.bytes !== undefined ? Buffer.byteLength(body.bytes, 'base64') : 0;
  if (size > 100 * 1024) findings.warn([...at, 'directResponse', 'body'], `a ${size}-byte body: Istio warns that direct responses above 100 KiB weigh on its control plane`);
}

/** Envoy substitutes `%VAR%` in header values; proxyless sends them as written. */
function checkHeaderValues(headers: HttpRoute['headers'], at: PathPart[], findings: Findings): void {
  for (const side of ['request', 'response'] as const) {
    for (const op of ['set', 'add'] as const) {
      for (const [name, value] of Object.entries(headers?.[side]?.[op] ?? {})) {
        if (hasHeaderVariable(value)) findings.warn([...at, side, op, name], `${JSON.stringify(value)}: Envoy substitutes %VARIABLE% expressions here; proxyless sends the value as written`);
      }
    }
  }
}

/** The authority may be rewritten in one place only (validateAuthorityRewrite). */
function checkAuthorityWrites(route: HttpRoute, at: PathPart[], findings: Findings): void {
  let current = route.rewrite?.authority;
  for (const op of ['set', 'add'] as const) {
    for (const [name, value] of Object.entries(route.headers?.request?.[op] ?? {})) {
      if (!isAuthorityHeader(name)) continue;
      if (current !== undefined) {
        findings.error([...at, 'headers', 'request', op, name], value, `the authority set once: it is already ${JSON.stringify(current)} (rewrite.authority or another header)`);
        return;
      }
      current = value;
    }
  }
}

function checkRedirect(route: HttpRoute, at: PathPart[], findings: Findings): void {
  const redirect = route.redirect;
  if (redirect === undefined) return;
  const here = [...at, 'redirect'];
  if (redirect.port !== undefined && redirect.derivePort !== undefined) findings.errorText(here, 'either port or derivePort, not both');
  if (redirect.uri !== undefined && redirect.prefixRewrite) findings.errorText(here, 'either uri or prefixRewrite, not both');
  if (redirect.prefixRewrite && (route.match ?? []).some((m) => m.uri !== undefined && m.uri.prefix === undefined)) {
    findings.error([...here, 'prefixRewrite'], redirect.prefixRewrite, 'prefix uri matches only in a route whose redirect has a prefixRewrite');
  }
  if (redirect.uri === undefined && !redirect.prefixRewrite && redirect.authority === undefined && redirect.port === undefined && redirect.derivePort === undefined && !redirect.scheme) {
    findings.errorText(here, 'a redirect that changes something: uri, prefixRewrite, authority, scheme or port');
  }
  if (redirect.redirectCode !== undefined && redirect.redirectCode !== 0 && (redirect.redirectCode < 300 || redirect.redirectCode > 399)) {
    findings.error([...here, 'redirectCode'], redirect.redirectCode, 'a redirect status from 300 to 399');
  }
  if (redirect.scheme !== undefined && redirect.scheme !== '' && redirect.scheme !== 'http' && redirect.scheme !== 'https') {
    findings.error([...here, 'scheme'], redirect.scheme, '"http" or "https"');
  }
  if (redirect.port !== undefined && redirect.port !== 0 && redirect.port > 65535) findings.error([...here, 'port'], redirect.port, 'a port number from 1 to 65535');
}

function checkFault(route: HttpRoute, at: PathPart[], findings: Findings): void {
  const fault = route.fault;
  if (fault === undefined) return;
  const here = [...at, 'fault'];
  if (fault.abort === undefined && fault.delay === undefined) findings.errorText(here, 'an abort, a delay or both in a fault');
  const abort = fault.abort;
  if (abort !== undefined) {
    const kinds = (['httpStatus', 'grpcStatus', 'http2Error'] as const).filter((k) => abort[k] !== undefined);
    if (kinds.length > 1) findings.errorText([...here, 'abort'], `one of httpStatus, grpcStatus, http2Error (this abort sets ${kinds.join(' and ')})`);
    else if (kinds.length === 0) findings.warn([...here, 'abort'], 'an abort without httpStatus, grpcStatus or http2Error aborts nothing');
    if (abort.http2Error !== undefined) findings.errorText([...here, 'abort', 'http2Error'], 'httpStatus or grpcStatus: Istio does not support http2Error aborts yet');
    if (abort.httpStatus !== undefined && (abort.httpStatus < 200 || abort.httpStatus > 600)) findings.error([...here, 'abort', 'httpStatus'], abort.httpStatus, 'an HTTP status from 200 to 599');
  }
  const delay = fault.delay;
  if (delay !== undefined) {
    if (delay.fixedDelay !== undefined && delay.exponentialDelay !== undefined) findings.errorText([...here, 'delay'], 'either fixedDelay or exponentialDelay, not both');
    if (delay.exponentialDelay !== undefined) findings.errorText([...here, 'delay', 'exponentialDelay'], 'fixedDelay: Istio does not support exponentialDelay yet');
    else if (delay.fixedDelay === undefined) findings.warn([...here, 'delay'], 'a delay without fixedDelay delays nothing (Envoy refuses such a route); ignored');
  }
}

/** Envoy's retry policies Istio accepts in `retryOn` (`supportedRetryOnPolicies`), besides status codes. */
const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'retriable-headers',
  'envoy-ratelimited', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);
/** The status codes Go's `http.StatusText` names: what Istio takes as a status in `retryOn`. */
const KNOWN_STATUS = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451,
  500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

function checkRetries(route: HttpRoute, at: PathPart[], findings: Findings): void {
  const retries = route.retries;
  if (retries === undefined) return;
  const here = [...at, 'retries'];
  if ((retries.attempts ?? 0) === 0 && (retries.perTryTimeout !== undefined || (retries.retryOn ?? '') !== '' || retries.retryRemoteLocalities !== undefined)) {
    findings.errorText(here, 'attempts > 0 when perTryTimeout, retryOn or retryRemoteLocalities is set (attempts 0, or unset, turns retries off)');
  }
  if (retries.retryOn !== undefined && retries.retryOn !== '') {
    for (const policy of retries.retryOn.split(',')) {
      // Istio splits on "," only: " 5xx" is not a policy.
      const status = /^[0-9]+$/.test(policy) ? Number(policy) : NaN;
      if (!RETRY_ON.has(policy) && !KNOWN_STATUS.has(status)) {
        findings.error([...here, 'retryOn'], retries.retryOn, `a comma-separated list (no spaces) of retry policies (${[...RETRY_ON].join(', ')}) or HTTP status codes; "${policy}" is neither`);
        return;
      }
    }
  }
}

function checkRewrite(route: HttpRoute, at: PathPart[], findings: Findings): void {
  const rewrite = route.rewrite;
  if (rewrite === undefined) return;
  const here = [...at, 'rewrite'];
  if (rewrite.uri !== undefined && rewrite.uriRegexRewrite !== undefined) findings.errorText(here, 'either uri or uriRegexRewrite, not both');
  if (rewrite.uri === undefined && rewrite.uriRegexRewrite === undefined && rewrite.authority === undefined) findings.errorText(here, 'a rewrite of uri, uriRegexRewrite or authority');
}

function checkCors(route: HttpRoute, at: PathPart[], findings: Findings): void {
  const cors = route.corsPolicy;
  if (cors === undefined) return;
  const here = [...at, 'corsPolicy'];
  (cors.allowOrigins ?? []).forEach((origin, i) => {
    if (!origin.exact && !origin.prefix && !origin.regex) findings.error([...here, 'allowOrigins', i], origin, 'an origin match with a non-empty exact, prefix or regex');
  });
  for (const key of ['allowHeaders', 'exposeHeaders'] as const) {
    (cors[key] ?? []).forEach((name, i) => {
      if (name !== '*' && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) findings.error([...here, key, i], name, 'a header name, or "*"');
    });
  }
}
