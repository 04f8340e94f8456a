/**
 * The mesh's events about its services' policies and endpoints, as users of cockatiel
 * and opossum expect them (a retry, a hedge, a spent budget, an endpoint ejected or
 * restored, a change of health): their payloads, and the {@link PolicyEvents} sink that
 * turns the layers' reports into them. A payload is built only when the mesh has a
 * listener for it (or the diagnostics channel a subscriber), so a mesh nobody listens to
 * pays one `listenerCount` per report.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import type { PolicyEvents, ReportedService } from '../core/policy-events.js';
import { emitSafely } from '../core/emit-safely.js';
import { channels } from '../telemetry/channels.js';

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

/** The events of this module, by name, as in `MeshEvents`. */
export interface PolicyEventMap {
  /** Outlier detection ejected an endpoint. */
  endpointEjected: [info: EndpointEvent];
  /** An ejected endpoint came back. */
  endpointRestored: [info: EndpointEvent];
  /** Active health checking changed an endpoint's health. */
  healthChanged: [info: HealthChangedEvent];
  /** A retry was scheduled. */
  retry: [info: RetryEvent];
  /** A hedged try was sent. */
  hedge: [info: HedgeEvent];
  /** A retry or hedge was refused by its budget. */
  retryBudgetExhausted: [info: BudgetExhaustedEvent];
}

const id = (s: ReportedService): string => `${s.fqdn}:${s.port}`;

/** The sink that emits `mesh`'s policy events (and publishes the channels of this area). */
export function policyEventSink(mesh: EventEmitter): PolicyEvents {
  const emit = <K extends keyof PolicyEventMap>(event: K, info: PolicyEventMap[K][0]): void => emitSafely(mesh, event, info);
  const listened = (event: keyof PolicyEventMap): boolean => mesh.listenerCount(event) > 0;
  return {
    retry(service, attempt, reason, backoffMs) {
      if (listened('retry')) emit('retry', { service: id(service), attempt, reason, backoffMs });
    },
    hedge(service, afterMs) {
      if (listened('hedge')) emit('hedge', { service: id(service), afterMs });
    },
    budgetExhausted(service, kind) {
      const subscribed = channels.budgetExhausted.hasSubscribers;
      if (!subscribed && !listened('retryBudgetExhausted')) return;
      const info: BudgetExhaustedEvent = { service: id(service), kind };
      if (subscribed) channels.budgetExhausted.publish(info);
      emit('retryBudgetExhausted', info);
    },
    ejection(service, endpoint, ejected, reason) {
      const event = ejected ? 'endpointEjected' : 'endpointRestored';
      if (!listened(event)) return;
      emit(event, ejected && reason !== undefined ? { service: id(service), endpoint, reason: reason as EndpointEvent['reason'] } : { service: id(service), endpoint });
    },
    health(service, endpoint, healthy, check) {
      if (!listened('healthChanged')) return;
      const failure = healthy ? undefined : (check?.failure as HealthChangedEvent['failure']);
      emit('healthChanged', { service: id(service), endpoint, healthy, detail: check?.detail ?? (healthy ? 'passed' : 'failed'), ...(failure !== undefined ? { failure } : {}) });
    },
  };
}
