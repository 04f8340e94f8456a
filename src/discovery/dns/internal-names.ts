import { isIP } from 'node:net';
import type { ServiceName } from '../types.js';
import { normaliseName } from './internal-message.js';

/** One lookup in the order a service's names are tried. */
export interface ResolutionStep {
  /** `srv`: SRV records of `name`; `address`: A/AAAA records of `name`. */
  readonly kind: 'srv' | 'address';
  /** The DNS name asked, lower case, no trailing dot. */
  readonly name: string;
}

/**
 * The names queried for a service, in order: the FQDN (for Kubernetes-style hosts,
 * `reviews.<namespace>.svc.<clusterDomain>`), then the URL's host when it differs. For
 * each name, with SRV on: the SRV name made from `srvPattern`, then (with
 * `addressFallback`) the name's own A/AAAA records; with SRV off, the A/AAAA records.
 * The next step is taken only when a step's answer is negative (NXDOMAIN, or no
 * records of the type); see {@link ServiceResolution}. IP addresses and names that
 * are not valid DNS names give no steps (the source does not know them).
 */
export function resolutionSteps(service: ServiceName, srvPattern: string | undefined, addressFallback: boolean): ResolutionStep[] {
  const steps: ResolutionStep[] = [];
  const seen = new Set<string>();
  for (const candidate of [service.fqdn, service.host]) {
    const name = normaliseName(candidate);
    if (seen.has(name) || !isQueryableName(name)) continue;
    seen.add(name);
    if (srvPattern !== undefined) {
      const srv = srvName(srvPattern, name);
      if (isQueryableName(srv)) steps.push({ kind: 'srv', name: srv });
      if (addressFallback) steps.push({ kind: 'address', name });
    } else {
      steps.push({ kind: 'address', name });
    }
  }
  return steps;
}

/** The SRV name for `name`: `{name}` in the pattern replaced, e.g. `_http._tcp.reviews.bookinfo.svc.cluster.local`. */
export function srvName(pattern: string, name: string): string {
  return pattern.replaceAll('{name}', name);
}

/**
 * Whether `name` can be put in a DNS question: not an IP address, at most 253
 * characters, labels of 1 to 63 letters, digits, `-` or `_` (underscores for SRV
 * labels and the names some registries use).
 */
export function isQueryableName(name: string): boolean {
  if (name.length === 0 || name.length > 253 || isIP(name) !== 0) return false;
  return name.split('.').every((label) => /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i.test(label));
}
