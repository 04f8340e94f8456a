/**
 * What a {@link MeshService} gets from its mesh: the context (stacks, timeouts, the
 * transport to its endpoints) and the policy a DestinationRule gives it.
 *
 * @module
 */
import { isIP } from 'node:net';
import type { PolicyEvents } from '../core/policy-events.js';
import type { buildConnector, Pool } from 'undici';
import type { Balancer } from '../balance/types.js';
import type { Dispatch } from '../core/layer.js';
import type { DiscoverySource } from '../discovery/types.js';
import type { RetryBudgetSettings } from '../config/extensions.js';
import type { ServiceBreaker, BreakerSettings } from '../policy/breaker/index.js';
import type { ConnectionPoolLimits } from '../policy/limits/index.js';
import type { HealthCheckSettings } from '../policy/health-check/index.js';
import type { OutlierSettings } from '../policy/outlier/index.js';
import type { EndpointState } from './endpoint-state.js';
import type { MeshService } from './mesh-service.js';
import type { ClientTlsSettings } from './client-tls.js';

/** How a service's endpoints connect: their undici Pool options and, for https:// services, the TLS connector. */
export interface EndpointTransport {
  /** Options of the pools made from now on. */
  readonly poolOptions: Pool.Options;
  /** TLS to the endpoints (also used by the health checks), for https:// services. */
  readonly connector: buildConnector.connector | undefined;
}

/** What a service needs from its mesh. */
export interface ServiceContext {
  /** Builds the service stack for one service (called on its first request). */
  buildServiceStack(service: MeshService): Dispatch;
  /** Builds the endpoint stack for one endpoint (called on its first request). */
  buildEndpointStack(endpoint: EndpointState): Dispatch;
  /** TLS to the endpoints (the caller used an https:// URL). */
  readonly secure: boolean;
  /** The transport to the endpoints for the DestinationRule `connectionPool` limits in force. */
  endpointTransport(limits: ConnectionPoolLimits | undefined): EndpointTransport;
  /**
   * The connector of one endpoint's pool, deciding per connection what it speaks (mesh
   * mTLS, DestinationRule tls); `base` makes plaintext connections. Undefined: `base`.
   */
  readonly endpointConnector?: ((endpoint: EndpointState, service: MeshService, base: NonNullable<Pool.Options['connect']>, timeoutMs: number) => Pool.Options['connect']) | undefined;
  /** How long a request waits for a first endpoint, in ms. */
  readonly discoveryTimeout: number;
  /** Called when a service makes a circuit breaker (the mesh forwards its events). */
  readonly onBreaker?: (service: MeshService, breaker: ServiceBreaker) => void;
  /** Merge every source that knows a service, instead of taking the first. */
  readonly mergeSources?: boolean;
  /** Hears a source's misbehaviour for this service (a malformed update, a throwing watch). */
  readonly onSourceError?: (source: DiscoverySource, error: Error) => void;
  /** Hears each good update of a source for this service (telemetry; must not throw). */
  readonly onSourceRefresh?: (service: MeshService, source: DiscoverySource, endpoints: number) => void;
  /** Hears an endpoint's change of active health (telemetry; must not throw). */
  readonly onHealth?: (service: MeshService, endpoint: EndpointState, healthy: boolean, check: { readonly detail: string; readonly failure: string | undefined }) => void;
  /** Hears an endpoint's ejection by outlier detection, or its return (telemetry; must not throw). */
  readonly onEjection?: (service: MeshService, endpoint: EndpointState, ejected: boolean, reason: string | undefined) => void;
  /** Hears the policies' and endpoints' reports: the mesh's events (must not throw). */
  readonly events?: PolicyEvents;
}

/** How the mesh balances one service, from its DestinationRule (and subset). */
export interface ServicePolicy {
  /** The balancer, or `undefined` for PASSTHROUGH (send to the original host untouched). */
  readonly balancer: Balancer<EndpointState> | undefined;
  /** The balancer settings it was made from, to tell whether a reload changed them. */
  readonly balancerKey: string;
  /** A DestinationRule subset's labels: only endpoints carrying all of them belong. */
  readonly subsetLabels?: Readonly<Record<string, string>> | undefined;
  /** DestinationRule `connectionPool` limits, if any. */
  readonly limits?: ConnectionPoolLimits | undefined;
  /** The retry budget settings (our annotation); defaults when undefined. */
  readonly retryBudget?: RetryBudgetSettings | undefined;
  /** Outlier detection settings (DestinationRule `outlierDetection`), if any. */
  readonly outlier?: OutlierSettings | undefined;
  /** Active health check settings (our annotation), if any. */
  readonly healthCheck?: HealthCheckSettings | undefined;
  /** Service-level circuit breaker settings (our annotation), if any. */
  readonly breaker?: BreakerSettings | undefined;
  /** A ServiceEntry with location MESH_EXTERNAL serves it: mesh headers are not sent. */
  readonly meshExternal?: boolean | undefined;
  /** DestinationRule `tls` in force for this port and subset (read per new connection). */
  readonly tls?: ClientTlsSettings | undefined;
}

/**
 * The connector health checks use: the traffic's, with the SNI the traffic sends (the
 * service's host), whatever Host header the check sends (`host` in its settings); an
 * `endpointPool.tls.servername` override still wins inside `connector`.
 */
export function checkConnector(connector: buildConnector.connector, host: string): buildConnector.connector {
  if (isIP(host) !== 0) return connector;
  return (options, callback) => connector({ ...options, servername: host }, callback);
}

