import type { AdminEndpoint, AdminService, MeshAdminView } from './mesh-view.js';
import type { EndpointHealth } from '../policy/health-check/index.js';
import { serviceKey, type Sampler, type ServiceSample } from './sampler.js';

/** The label DNS SRV discovery puts on endpoints of tiers below the first. */
const SRV_TIER_LABEL = 'proxyless.dev/priority';

/** An endpoint's outlier detection state in `/clusters`. */
export interface ClusterOutlier {
  /** Ejected now. */
  readonly ejected: boolean;
  /** `consecutive5xx`, `consecutiveGatewayErrors` or `consecutiveLocalOriginFailures` (of the current or last ejection). */
  readonly reason: string | null;
  /** Ms until it may return (it returns at the next sweep after), 0 when not ejected. */
  readonly timeLeftMs: number;
  /** Ejections since the endpoint appeared. */
  readonly timesEjected: number;
  /** Current consecutive 5xx count. */
  readonly consecutive5xx: number;
  /** Current consecutive gateway error count. */
  readonly consecutiveGatewayErrors: number;
}

/** An endpoint's active health check state in `/clusters`. */
export interface ClusterActiveHealth {
  /** Whether it counts as healthy. */
  readonly healthy: boolean;
  /** Checks completed. */
  readonly checks: number;
  /** Failing checks in a row. */
  readonly consecutiveFailures: number;
  /** When the last check completed (ms), or null before the first. */
  readonly lastCheckedAt: number | null;
  /** What the last check saw (`status 200`, `connect ECONNREFUSED ...`). */
  readonly lastResult: string | null;
}

/** One endpoint in `/clusters`. */
export interface ClusterEndpoint {
  /** `address:port`. */
  readonly key: string;
  /** IP address or host name. */
  readonly address: string;
  /** TCP port. */
  readonly port: number;
  /** Relative weight. */
  readonly weight: number;
  /** Discovery labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Whether balancers may pick it now (not ejected, not failing health checks, not draining). */
  readonly available: boolean;
  /** Outlier detection: null without it. */
  readonly outlier: ClusterOutlier | null;
  /** Active health checks: null without them. */
  readonly activeHealth: ClusterActiveHealth | null;
  /** Requests in flight. */
  readonly pending: number;
  /** Peak EWMA cost the balancer sees (ms, weight and load included). */
  readonly peakEwmaMs: number;
  /** Requests started since the endpoint appeared. */
  readonly requests: number;
  /** Requests failed (connection errors, resets) since the endpoint appeared. */
  readonly failures: number;
  /** Requests a second over the last sample. */
  readonly rate: number;
  /** Its share of its service's requests over the last minute, 0..1. */
  readonly shareLastMinute: number;
  /** DNS SRV tier (0 is the preferred one; 0 for endpoints not from SRV). */
  readonly srvTier: number;
}

/** A service's circuit breaker in `/clusters`. */
export interface ClusterCircuit {
  /** `closed`, `open` or `half-open`. */
  readonly state: string;
  /** When it last opened (epoch ms), or null. */
  readonly openedAt: number | null;
  /** Requests it counted as failures. */
  readonly failures: number;
  /** Requests it refused. */
  readonly rejects: number;
}

/** A service's endpoint counts in `/clusters`, whatever the page shown. */
export interface ClusterCounts {
  /** Endpoints discovery gives. */
  readonly endpoints: number;
  /** Those balancers may pick now. */
  readonly available: number;
  /** Those ejected by outlier detection. */
  readonly ejected: number;
  /** Those failing active health checks. */
  readonly unhealthy: number;
}

/** One service in `/clusters`. */
export interface Cluster {
  /** `fqdn:port`, with `/subset` when it has one. */
  readonly key: string;
  /** The service FQDN. */
  readonly name: string;
  /** The port callers used. */
  readonly port: number;
  /** The DestinationRule subset, or null. */
  readonly subset: string | null;
  /** `pending` until discovery answered, `known`, or `missing`. */
  readonly status: string;
  /** The balancer's name, or `passthrough`. */
  readonly balancer: string;
  /** Requests in flight. */
  readonly inFlight: number;
  /** Requests a second over the last sample; null before one. */
  readonly rate: number | null;
  /** Failed requests a second over the last sample; null before one. */
  readonly errorRate: number | null;
  /** Median latency of answers over the last 10 samples (ms); null without answers. */
  readonly p50Ms: number | null;
  /** 99th percentile latency of answers over the last 10 samples (ms); null without answers. */
  readonly p99Ms: number | null;
  /** The circuit breaker, or null without one. */
  readonly circuit: ClusterCircuit | null;
  /** True while outlier ejections are ignored (minHealthPercent). */
  readonly panic: boolean;
  /** Endpoint counts, whatever the page shown. */
  readonly counts: ClusterCounts;
  /** The endpoints of this page (see `offset` and `limit`). */
  readonly endpoints: readonly ClusterEndpoint[];
  /** The index of the first endpoint shown. */
  readonly offset: number;
}

/** Which endpoints `/clusters` shows per service. */
export interface ClusterPage {
  /** Only this service (its `key`, or its name: every port and subset of it). */
  readonly service?: string | undefined;
  readonly offset: number;
  readonly limit: number;
}

/** The last value of a history, or null. */
function last(list: readonly number[] | undefined): number | null {
  const value = list?.[list.length - 1];
  return value === undefined || Number.isNaN(value) ? null : value;
}

/** `/clusters`: every service (or one) with a page of its endpoints. */
export function clusters(view: MeshAdminView, sampler: Sampler, page: ClusterPage): Cluster[] {
  const out: Cluster[] = [];
  for (const service of view.services()) {
    const key = serviceKey(service);
    if (page.service !== undefined && page.service !== key && page.service !== service.name.fqdn && page.service !== service.name.host) continue;
    out.push(cluster(service, key, sampler, page.offset, page.limit));
  }
  return out;
}

/** One service's snapshot, with endpoints `offset` to `offset + limit`. */
export function cluster(service: AdminService, key: string, sampler: Sampler, offset: number, limit: number, pick?: (list: readonly AdminEndpoint[]) => readonly AdminEndpoint[]): Cluster {
  const sample = sampler.service(key);
  const list = service.endpoints();
  let available = 0;
  let ejected = 0;
  let unhealthy = 0;
  for (const e of list) {
    if (e.available) available++;
    if (e.ejected) ejected++;
    if (e.unhealthy) unhealthy++;
  }
  const health = service.healthStatus();
  const byKey = health === undefined ? undefined : new Map(health.map((h) => [h.key, h]));
  const shown = pick ? pick(list) : list.slice(offset, offset + limit);
  const now = performance.now();
  const breaker = service.breaker;
  const stats = breaker?.stats();
  return {
    key,
    name: service.name.fqdn,
    port: service.name.port,
    subset: service.subset ?? null,
    status: service.status,
    balancer: service.balancerName,
    inFlight: service.inFlight,
    rate: last(sample?.rate),
    errorRate: last(sample?.errors),
    p50Ms: last(sample?.p50),
    p99Ms: last(sample?.p99),
    circuit: breaker === undefined ? null : { state: breaker.state(), openedAt: breaker.openedAt ?? null, failures: stats!.failures, rejects: stats!.rejects },
    panic: service.panic,
    counts: { endpoints: list.length, available, ejected, unhealthy },
    endpoints: shown.map((e) => endpointOf(service, e, sampler, sample, byKey?.get(e.key), now)),
    offset: pick ? 0 : offset,
  };
}

function endpointOf(service: AdminService, e: AdminEndpoint, sampler: Sampler, sample: ServiceSample | undefined, health: EndpointHealth | undefined, now: number): ClusterEndpoint {
  const o = service.outlierDetector?.inspect(e);
  const { rate, share } = sampler.endpoint(e, sample);
  const tier = Number(e.labels[SRV_TIER_LABEL] ?? 0);
  return {
    key: e.key,
    address: e.address,
    port: e.port,
    weight: e.weight,
    labels: e.labels,
    available: e.available,
    outlier:
      o === undefined
        ? null
        : {
            ejected: o.ejected,
            reason: o.ejectionReason ?? null,
            timeLeftMs: o.ejected && o.ejectedAt !== undefined ? Math.max(0, Math.round(o.ejectionTimeMs - (now - o.ejectedAt))) : 0,
            timesEjected: o.timesEjected,
            consecutive5xx: o.consecutive5xx,
            consecutiveGatewayErrors: o.consecutiveGatewayErrors,
          },
    activeHealth:
      health === undefined
        ? null
        : { healthy: health.healthy, checks: health.checks, consecutiveFailures: health.consecutiveFailures, lastCheckedAt: health.lastCheckedAt ?? null, lastResult: health.lastResult ?? null },
    pending: e.pending,
    peakEwmaMs: Math.round(e.cost(now, e.weight) * 100) / 100,
    requests: e.requests,
    failures: e.failures,
    rate,
    shareLastMinute: share,
    srvTier: Number.isInteger(tier) ? tier : 0,
  };
}
