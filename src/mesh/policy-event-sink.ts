/**
 * The mesh's events about its services' policies and endpoints, as users of cockatiel
 * and opossum expect them (a retry, a hedge, a spent budget, an endpoint ejected or
 * restored, a change of health): the {@link PolicyEvents} sink that turns the layers'
 * reports into them (their payloads are in `mesh-events.ts`). A payload is built only when the mesh has a
 * listener for it (or the diagnostics channel a subscriber), so a mesh nobody listens to
 * pays one `listenerCount` per report.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import type { PolicyEvents, ReportedService } from '../core/policy-events.js';
import { emitSafely } from '../core/emit-safely.js';
import { channels } from '../telemetry/channels.js';
import type { BudgetExhaustedEvent, EndpointEvent, HealthChangedEvent, MeshEvents } from './mesh-events.js';

export type { BudgetExhaustedEvent, EndpointEvent, HealthChangedEvent, HedgeEvent, RetryEvent } from './mesh-events.js';

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
