/**
 * What the mesh reports outside calls: config versions applied or rejected, discovery
 * refreshes and errors, outlier ejections, circuit breaker transitions, and the state
 * gauges. Each goes to the metrics recorder and to its `proxyless:*` diagnostics channel.
 *
 * The mesh's own events are heard as any listener hears them; the two things the mesh
 * does not emit (a source's good update, an ejection) come through the service context
 * hooks this returns. Nothing here throws back into a source, a timer or a request.
 */
import type { EventEmitter } from 'node:events';
/** What telemetry reads of a discovery source: its name. */
interface NamedSource {
  readonly name: string;
}
import { channels } from './channels.js';
import type { ObservedService, OutboundTelemetry } from './outbound-telemetry.js';

/** A service as the hooks see it (MeshService's shape). */
interface HookedService extends ObservedService {
  readonly outlierDetector?: { inspect(endpoint: never): { timesEjected: number; multiplier: number } | undefined; readonly settings?: { baseEjectionTimeMs: number; maxEjectionTimeMs: number } } | undefined;
}

/** An endpoint as the hooks see it. */
interface HookedEndpoint {
  readonly key: string;
}

type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * Subscribes `telemetry` to the mesh's events and returns the service-context hooks
 * (`onSourceRefresh`, `onEjection`, `onHealth`); the state gauges sample `services()` at collection.
 */
export function wireMeshTelemetry<S extends HookedService, E extends HookedEndpoint>(
  mesh: EventEmitter,
  telemetry: OutboundTelemetry,
  services: () => Iterable<S>,
): {
  onSourceRefresh: (service: S, source: NamedSource, endpoints: number) => void;
  onEjection: (service: S, endpoint: E, ejected: boolean, reason: string | undefined) => void;
  onHealth: (service: S, endpoint: E, healthy: boolean, check: { readonly detail: string; readonly failure: string | undefined }) => void;
} {
  const safely = (fn: () => void): void => {
    try {
      fn();
    } catch (failure) {
      telemetry.reportFailure(failure);
    }
  };
  mesh.on('configApplied', (info: { source: string; resources: number; warnings: readonly string[] }) =>
    safely(() => {
      telemetry.config(true, info.warnings.length);
      if (channels.configApplied.hasSubscribers) channels.configApplied.publish(info);
    }),
  );
  mesh.on('configError', (error: Error, source: string) =>
    safely(() => {
      telemetry.config(false, 0);
      if (channels.configRejected.hasSubscribers) channels.configRejected.publish({ source, error });
    }),
  );
  mesh.on('discoveryError', (error: Error, source: string) =>
    safely(() => {
      telemetry.discovery(source, error);
      if (channels.discoveryError.hasSubscribers) channels.discoveryError.publish({ source, service: serviceOfError(error), error });
    }),
  );
  const states = new Map<string, BreakerState>();
  const breaker = (state: BreakerState) => (info: { service: string }) =>
    safely(() => {
      const previous = states.get(info.service) ?? 'closed';
      if (state === 'closed') states.delete(info.service);
      else states.set(info.service, state);
      if (channels.breaker.hasSubscribers) channels.breaker.publish({ service: info.service, state, previous });
    });
  mesh.on('circuitOpen', breaker('open'));
  mesh.on('circuitHalfOpen', breaker('half-open'));
  mesh.on('circuitClose', breaker('closed'));
  telemetry.observe(services);
  return {
    onSourceRefresh: (service, source, endpoints) =>
      safely(() => {
        telemetry.discovery(source.name, undefined);
        if (channels.discoveryRefresh.hasSubscribers) channels.discoveryRefresh.publish({ source: source.name, service: `${service.name.fqdn}:${service.name.port}`, endpoints });
      }),
    onHealth: (service, endpoint, healthy, check) =>
      safely(() => {
        if (channels.health.hasSubscribers) {
          channels.health.publish({ service: `${service.name.fqdn}:${service.name.port}`, endpoint: endpoint.key, healthy, detail: check.detail, failure: check.failure });
        }
      }),
    onEjection: (service, endpoint, ejected, reason) =>
      safely(() => {
        if (ejected) telemetry.serviceMetrics(service, service.name.fqdn, service.name.port)?.ejection();
        if (!channels.ejection.hasSubscribers) return;
        const detector = service.outlierDetector;
        const stats = detector?.inspect(endpoint as never);
        const s = detector?.settings;
        const durationMs = ejected && stats !== undefined && s !== undefined ? Math.min(s.baseEjectionTimeMs * stats.multiplier, s.maxEjectionTimeMs) : undefined;
        channels.ejection.publish({ service: `${service.name.fqdn}:${service.name.port}`, endpoint: endpoint.key, ejected, reason, times: stats?.timesEjected ?? 0, durationMs });
      }),
  };
}

/** The `fqdn:port` a discovery error names, when it names one. */
function serviceOfError(error: Error): string | undefined {
  const service = (error as { service?: unknown }).service;
  return typeof service === 'string' ? service : undefined;
}
