/**
 * The public event and snapshot types of a {@link Mesh}: what `mesh.on(...)` hears (the
 * policy events' payloads are in `policy-event-sink.ts`, with the sink that emits them)
 * and what `mesh.services()` and `mesh.securityStats()` report. Re-exported by `mesh.ts`,
 * so the public surface names them where it always did.
 *
 * @module
 */
import type { DryRunCounters, DryRunResult } from '../security/authorizer.js';
import type { AuthzRequest } from '../security/request-view.js';
import type { SvidSummary } from '../tls/svid.js';
import type { MeshService, ServiceStatus } from './mesh-service.js';
import type { BudgetExhaustedEvent, EndpointEvent, HealthChangedEvent, HedgeEvent, RetryEvent } from './policy-event-sink.js';
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
