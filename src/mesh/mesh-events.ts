/**
 * The public event and snapshot types of a {@link Mesh}: what `mesh.on(...)` hears and
 * what `mesh.services()` and `mesh.securityStats()` report. Re-exported by `mesh.ts`,
 * so the public surface names them where it always did.
 *
 * @module
 */
import type { DryRunCounters, DryRunResult } from '../security/authorizer.js';
import type { AuthzRequest } from '../security/request-view.js';
import type { SvidSummary } from '../tls/svid.js';
import type { MeshService, ServiceStatus } from './mesh-service.js';
import type { ServicesEvictedInfo, ServiceStats } from './service-table.js';
// For the {@link} links of the TSDoc below.
import type { Mesh } from './mesh.js';

/** One endpoint as {@link Mesh.services} reports it. */
export interface EndpointSnapshot {
  /** `address:port`. */
  readonly key: string;
  /** Relative weight. */
  readonly weight: number;
  /** Discovery labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** False while draining or ejected. */
  readonly available: boolean;
  /** Requests in flight on this endpoint. */
  readonly pending: number;
  /** Failed requests (connection errors, resets) so far. */
  readonly failures: number;
  /** The balancer's current Peak EWMA cost, in ms. */
  readonly cost: number;
}

/** One service as {@link Mesh.services} reports it. */
export interface ServiceSnapshot {
  /** The service FQDN. */
  readonly name: string;
  /** The port callers used (one service per name and port, as Envoy's clusters). */
  readonly port: number;
  /** The DestinationRule subset, if any. */
  readonly subset: string | undefined;
  /** Whether discovery knows it. */
  readonly status: ServiceStatus;
  /** The balancer's name, or `passthrough`. */
  readonly balancer: string;
  /** Requests in flight on it now (a service with none may be evicted, see {@link ServiceStats}). */
  readonly inFlight: number;
  /** Its endpoints. */
  readonly endpoints: readonly EndpointSnapshot[];
}

/** What {@link MeshEvents.configApplied} reports. */
export interface ConfigAppliedInfo {
  /** What changed: a file or config source name, or `applyConfig`. */
  readonly source: string;
  /** How many resources the config in force was built from. */
  readonly resources: number;
  /** Its warnings. */
  readonly warnings: readonly string[];
}

/** Which service a circuit breaker event is about. */
export interface CircuitEvent {
  /** `fqdn:port`. */
  readonly service: string;
  /** When it opened (epoch ms), on `circuitOpen`. */
  readonly openedAt?: number;
  /** When it will let a probe through (epoch ms), on `circuitOpen`. */
  readonly retryAt?: number;
}

/** What {@link Mesh.securityStats} reports. */
export interface SecurityStats {
  /** Dry-run AuthorizationPolicy results since the mesh was created (as Envoy's `istio_dry_run_*` counters). */
  readonly dryRun: Readonly<DryRunCounters>;
}

/** An endpoint's event: `endpointEjected`, `endpointRestored`. */
export interface EndpointEvent {
  /** The service, `fqdn:port`. */
  readonly service: string;
  /** The endpoint, `address:port`. */
  readonly endpoint: string;
  /**
   * `endpointEjected` only: why, as Envoy's outlier event log names it:
   * `CONSECUTIVE_5XX` (`consecutive5xxErrors` reached), `CONSECUTIVE_GATEWAY_FAILURE`
   * (`consecutiveGatewayErrors`), `CONSECUTIVE_LOCAL_ORIGIN_FAILURE`
   * (`consecutiveLocalOriginFailures`). An endpoint failing its active health checks is
   * reported by `healthChanged` instead.
   */
  readonly reason?: 'CONSECUTIVE_5XX' | 'CONSECUTIVE_GATEWAY_FAILURE' | 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE';
}

/** `healthChanged`: active health checking found an endpoint healthy or unhealthy. */
export interface HealthChangedEvent extends EndpointEvent {
  /** Whether it passes its checks now. */
  readonly healthy: boolean;
  /** What the check that decided it saw: `status 200`, `status 503 (expected 200-399)`, `timed out after 1000 ms`, `connect ECONNREFUSED ...`. */
  readonly detail: string;
  /**
   * When unhealthy, why the check failed, as Envoy's health check event log names it
   * (`failure_type`): `ACTIVE` (the endpoint answered, and the answer failed the check),
   * `NETWORK` (no answer: refused, reset, TLS), `NETWORK_TIMEOUT` (no answer in time).
   */
  readonly failure?: 'ACTIVE' | 'NETWORK' | 'NETWORK_TIMEOUT';
}

/** `retry`: a retry was scheduled after a failed try. */
export interface RetryEvent {
  /** The service, `fqdn:port`. */
  readonly service: string;
  /** The number of the try that will be sent (2 for the first retry). */
  readonly attempt: number;
  /** What made the last try retriable: a status code (`"503"`) or a failure kind (`"connect-failure"`, `"reset"`, ...). */
  readonly reason: string;
  /** The backoff before the retry, in ms. */
  readonly backoffMs: number;
}

/** `hedge`: a backup try was sent while the first was still running. */
export interface HedgeEvent {
  /** The service, `fqdn:port`. */
  readonly service: string;
  /** How long the first try had run, in ms. */
  readonly afterMs: number;
}

/** `retryBudgetExhausted`: a retry or a hedge was wanted, and its budget refused it. */
export interface BudgetExhaustedEvent {
  /** The service, `fqdn:port`. */
  readonly service: string;
  /** `retry` (the DestinationRule's retry budget) or `hedge` (the hedging `maxExtraPercent`). */
  readonly kind: 'retry' | 'hedge';
}

/** Typed events of a {@link Mesh}. */
export interface MeshEvents {
  /** A discovery source reported an error; it keeps serving its last known good set. */
  discoveryError: [error: Error, source: string];
  /** A config change was invalid (the last good config stays in force) or a config source failed. */
  configError: [error: Error, source: string];
  /** A config change was applied. */
  configApplied: [info: ConfigAppliedInfo];
  /** A service's circuit breaker opened: tries fail at once until `retryAt`. */
  circuitOpen: [info: CircuitEvent];
  /** A breaker lets probe requests through. */
  circuitHalfOpen: [info: CircuitEvent];
  /** A breaker closed again. */
  circuitClose: [info: CircuitEvent];
  /** The service table reached `maxServices`: these idle services were evicted (their pools and watches closed). */
  servicesEvicted: [info: ServicesEvictedInfo];
  /**
   * A dry-run AuthorizationPolicy (`istio.io/dry-run: "true"`) was evaluated for a
   * request: what enforcing it would have done. Never enforced; counted in
   * `mesh.securityStats()`. Do not keep `req` (it is reused).
   */
  authorizationDryRun: [result: DryRunResult, req: AuthzRequest];
  /** The workload's identity rotated: new connections (both ways) use the new SVID. */
  identityRotated: [identity: SvidSummary];
  /** The identity source reported a problem; the current SVID stays in use. */
  identityError: [error: Error];
  /** Outlier detection ejected an endpoint. */
  endpointEjected: [info: EndpointEvent];
  /** An ejected endpoint came back. */
  endpointRestored: [info: EndpointEvent];
  /** Active health checking found an endpoint healthy or unhealthy. */
  healthChanged: [info: HealthChangedEvent];
  /** A retry was scheduled after a failed try. */
  retry: [info: RetryEvent];
  /** A hedged (backup) try was sent. */
  hedge: [info: HedgeEvent];
  /** A retry or hedge was wanted and its budget refused it. */
  retryBudgetExhausted: [info: BudgetExhaustedEvent];
}

/** What {@link Mesh.services} reports of one service, its endpoints' load read at `now` (`performance.now()`). */
export function serviceSnapshot(service: MeshService, now: number): ServiceSnapshot {
  return {
    name: service.name.fqdn,
    port: service.name.port,
    subset: service.subset,
    status: service.status,
    balancer: service.balancerName,
    inFlight: service.inFlight,
    endpoints: service.endpoints().map((e) => ({
      key: e.key,
      weight: e.weight,
      labels: e.labels,
      available: e.available,
      pending: e.load.pending,
      failures: e.load.failures,
      cost: e.load.cost(now),
    })),
  };
}
