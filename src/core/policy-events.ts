/**
 * What the policies report as they decide (a retry scheduled, a hedge fired, a budget
 * spent) and what endpoints go through (ejected, restored, health changed), to the
 * mesh, which turns them into its typed events (`mesh.on('retry', ...)`). The reports
 * take plain values: nothing is built unless the mesh has a listener.
 *
 * @module
 */

/** The service a report is about: its FQDN and port (a `ServiceQuery`). */
export interface ReportedService {
  /** The service's FQDN. */
  readonly fqdn: string;
  /** The port asked for. */
  readonly port: number;
}

/** The receiver of a service's policy reports (see the module); every method must not throw. */
export interface PolicyEvents {
  /** A retry was scheduled: the try number it will be, why, and the backoff before it. */
  retry(service: ReportedService, attempt: number, reason: string, backoffMs: number): void;
  /** A hedged (backup) try was sent, `afterMs` after the first. */
  hedge(service: ReportedService, afterMs: number): void;
  /** A retry (or a hedge) was wanted but its budget was spent. */
  budgetExhausted(service: ReportedService, kind: 'retry' | 'hedge'): void;
  /**
   * Outlier detection ejected an endpoint (`ejected`, with Envoy's name of the reason:
   * `CONSECUTIVE_5XX`, `CONSECUTIVE_GATEWAY_FAILURE`, `CONSECUTIVE_LOCAL_ORIGIN_FAILURE`),
   * or let it back in (no reason).
   */
  ejection(service: ReportedService, endpoint: string, ejected: boolean, reason?: string): void;
  /**
   * Active health checking found an endpoint healthy or unhealthy: what the deciding check
   * saw (`detail`) and, when unhealthy, Envoy's failure type (`ACTIVE`, `NETWORK`, `NETWORK_TIMEOUT`).
   */
  health(service: ReportedService, endpoint: string, healthy: boolean, check?: { readonly detail: string; readonly failure: string | undefined }): void;
}
