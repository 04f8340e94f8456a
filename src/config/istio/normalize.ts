import type { z } from 'zod';
import { parseDuration } from '../../core/duration.js';
import type { destinationRuleSchema } from './destination-rule.js';
import type { serviceEntrySchema } from './service-entry.js';
import type { virtualServiceSchema } from './virtual-service.js';

/**
 * The validated copy of a resource as the mesh applies it: where Istio treats two
 * spellings alike, the mesh gets one, and what it cannot apply (already warned about) is
 * left out, so the layers that apply config see only what they handle.
 *
 * @module
 */

type VirtualService = z.output<typeof virtualServiceSchema>;
type ServiceEntry = z.output<typeof serviceEntrySchema>;
type HttpRoute = NonNullable<VirtualService['spec']['http']>[number];
type Fault = NonNullable<HttpRoute['fault']>;
type Endpoint = NonNullable<ServiceEntry['spec']['endpoints']>[number];

/** A VirtualService as the mesh applies it: every fault delay has its `fixedDelay`. */
export type NormalizedVirtualService = Omit<VirtualService, 'spec'> & {
  spec: Omit<VirtualService['spec'], 'http'> & {
    http?: Array<Omit<HttpRoute, 'fault'> & { fault?: Omit<Fault, 'delay'> & { delay?: NonNullable<Fault['delay']> & { fixedDelay: string } } }>;
  };
};

/** A ServiceEntry as the mesh applies it: every endpoint has an address (a network address, not a unix socket). */
export type NormalizedServiceEntry = Omit<ServiceEntry, 'spec'> & {
  spec: Omit<ServiceEntry['spec'], 'endpoints'> & { endpoints?: Array<Endpoint & { address: string }> };
};
type HeaderOps = { set?: Record<string, string> | undefined; add?: Record<string, string> | undefined; remove?: string[] | undefined } | undefined;

/** `:authority` in a request's set/add is the `host` header undici sends as the authority. */
function authorityAsHost<T extends HeaderOps>(ops: T): T {
  if (ops === undefined) return ops;
  const rename = (record: Record<string, string> | undefined): Record<string, string> | undefined =>
    record === undefined ? undefined : Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase() === ':authority' ? 'host' : k, v]));
  return { ...ops, set: rename(ops.set), add: rename(ops.add) };
}

/** `withoutHeaders` `regex: "*"`: Istio's presence match, written `{}` (no regex to compile). */
function presenceForStar<T extends Record<string, { regex?: string | undefined }> | undefined>(record: T): T {
  if (record === undefined || !Object.values(record).some((m) => m.regex === '*')) return record;
  return Object.fromEntries(Object.entries(record).map(([k, m]) => [k, m.regex === '*' ? {} : m])) as T;
}

/**
 * A VirtualService: `:authority` header writes as `host`; `withoutHeaders` `regex: "*"` as
 * presence; left out (warned): a fault delay without `fixedDelay`. Routes that delegate
 * stay: the delegate's routes are merged in when the config is compiled for the mesh
 * (src/config/virtual-service-selection.ts).
 */
export function normalizeVirtualService(resource: VirtualService): NormalizedVirtualService {
  const http = resource.spec.http?.map((route) => {
    const fault = route.fault?.delay !== undefined && route.fault.delay.fixedDelay === undefined ? { ...route.fault, delay: undefined } : route.fault;
    // 0 and "" are protobuf's "unset" for these (Istio reads them so).
    const redirect = route.redirect && {
      ...route.redirect,
      port: route.redirect.port || undefined,
      redirectCode: route.redirect.redirectCode || undefined,
      scheme: route.redirect.scheme || undefined,
      prefixRewrite: route.redirect.prefixRewrite || undefined,
    };
    return {
      ...route,
      fault,
      redirect,
      match: route.match?.map((m) => ({ ...m, port: m.port || undefined, withoutHeaders: presenceForStar(m.withoutHeaders) })),
      headers: route.headers && { ...route.headers, request: authorityAsHost(route.headers.request) },
      route: route.route?.map((d) => (d.headers ? { ...d, headers: { ...d.headers, request: authorityAsHost(d.headers.request) } } : d)),
    };
  });
  return { ...resource, spec: { ...resource.spec, http } } as NormalizedVirtualService;
}

/** A ServiceEntry: endpoints proxyless cannot reach (no address, a unix socket; warned) left out. */
export function normalizeServiceEntry(resource: ServiceEntry): NormalizedServiceEntry {
  const endpoints = resource.spec.endpoints;
  if (endpoints === undefined) return resource as NormalizedServiceEntry;
  const reachable = endpoints.filter((e): e is Endpoint & { address: string } => e.address !== undefined && e.address !== '' && !e.address.startsWith('unix://'));
  return { ...resource, spec: { ...resource.spec, endpoints: reachable } };
}

type DestinationRule = z.output<typeof destinationRuleSchema>;
type TrafficPolicy = NonNullable<DestinationRule['spec']['trafficPolicy']>;
type PolicyParts = Pick<TrafficPolicy, 'loadBalancer' | 'connectionPool'>;

/** Whether a (valid) duration is zero: `0`, `0s`, `0ms`. */
export function isZeroDuration(text: string | undefined): boolean {
  if (text === undefined) return false;
  const parsed = parseDuration(text);
  return 'ns' in parsed && parsed.ns === 0n;
}

/** Istio's "0 means unset" for counts and sizes, made undefined so the mesh applies its default. */
function unsetZero<T extends number | undefined>(value: T): T | undefined {
  return value === 0 ? undefined : value;
}

function normalizeParts<T extends PolicyParts>(policy: T): T {
  const lb = policy.loadBalancer;
  const hash = lb?.consistentHash;
  const pool = policy.connectionPool;
  return {
    ...policy,
    loadBalancer: hash
      ? {
          ...lb,
          consistentHash: {
            ...hash,
            minimumRingSize: unsetZero(hash.minimumRingSize),
            ringHash: hash.ringHash && { ...hash.ringHash, minimumRingSize: unsetZero(hash.ringHash.minimumRingSize) },
          },
        }
      : lb,
    connectionPool: pool && {
      ...pool,
      tcp: pool.tcp && { ...pool.tcp, maxConnections: unsetZero(pool.tcp.maxConnections), idleTimeout: isZeroDuration(pool.tcp.idleTimeout) ? undefined : pool.tcp.idleTimeout },
      http: pool.http && {
        ...pool.http,
        http1MaxPendingRequests: unsetZero(pool.http.http1MaxPendingRequests),
        http2MaxRequests: unsetZero(pool.http.http2MaxRequests),
        maxRetries: unsetZero(pool.http.maxRetries),
      },
    },
  };
}

function normalizePolicy(policy: TrafficPolicy | undefined): TrafficPolicy | undefined {
  if (policy === undefined) return undefined;
  return { ...normalizeParts(policy), portLevelSettings: policy.portLevelSettings?.map(normalizeParts) };
}

/**
 * A DestinationRule: counts and sizes Istio reads 0 as "unset" (ring sizes,
 * `maxConnections`, `http1MaxPendingRequests`, `http2MaxRequests`, `maxRetries`) made
 * unset, and tcp `idleTimeout: 0s` (no idle timeout; warned) left out.
 */
export function normalizeDestinationRule(resource: DestinationRule): DestinationRule {
  return {
    ...resource,
    spec: {
      ...resource.spec,
      trafficPolicy: normalizePolicy(resource.spec.trafficPolicy),
      subsets: resource.spec.subsets?.map((s) => ({ ...s, trafficPolicy: normalizePolicy(s.trafficPolicy) })),
    },
  };
}
