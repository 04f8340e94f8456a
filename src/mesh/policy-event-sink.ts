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
import type { MeshEvents } from './mesh-events.js';

/** An endpoint's event: `endpointEjected`, `endpointRestored`. */
export interface EndpointEvent {
  /** The service, `fqdn:port`. */
  readonly service: string;
  /** The endpoint, `address:port`. */
  readonly endpoint: string;
}

/** `healthChanged`: active health checking found an endpoint healthy or unhealthy. */
export interface HealthChangedEvent extends EndpointEvent {
  /** Whether it passes its checks now. */
  readonly healthy: boolean;
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

/** The events of this module: the policy events of {@link MeshEvents}. */
export type PolicyEventMap = Pick<MeshEvents, 'endpointEjected' | 'endpointRestored' | 'healthChanged' | 'retry' | 'hedge' | 'retryBudgetExhausted'>;

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
    ejection(service, endpoint, ejected) {
      const event = ejected ? 'endpointEjected' : 'endpointRestored';
      if (listened(event)) emit(event, { service: id(service), endpoint });
    },
    health(service, endpoint, healthy) {
      if (listened('healthChanged')) emit('healthChanged', { service: id(service), endpoint, healthy });
    },
  };
}
