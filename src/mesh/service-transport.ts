/**
 * How a service's endpoints connect: the undici Pool options for the DestinationRule
 * connection settings in force, TLS for https:// URLs, and for http:// ones the mesh's
 * per-connection choice of (m)TLS (auto mTLS, DestinationRule `tls`); and the transport
 * in force for one service, which a reload of its connection settings replaces.
 *
 * @module
 */
import { buildConnector, type Pool } from 'undici';
import { serviceNamespaceOf, type CompiledConfig } from '../compile/compile-config.js';
import type { ConnectingSockets } from '../core/connecting-sockets.js';
import type { ServiceNamer } from '../discovery/service-name.js';
import type { ServiceName } from '../discovery/types.js';
import type { Dispatch } from '../core/layer.js';
import type { ConnectionPoolLimits } from '../policy/limits/index.js';
import type { ClientTls } from './client-tls.js';
import { endpointConnector } from './endpoint-tls.js';
import type { EndpointContext, EndpointState } from './endpoint-state.js';
import type { MeshService } from './mesh-service.js';
import type { EndpointTransport, ServiceContext } from './service-context.js';
import type { ResolvedMeshOptions } from './options.js';

/** What the transports are made from. */
export interface TransportParts {
  /** The mesh's options: `pool`, the endpoint pool options. */
  readonly options: Pick<ResolvedMeshOptions, 'pool'>;
  readonly namer: ServiceNamer;
  /** The config in force (read when a connection is made: a reload applies). */
  readonly config: { readonly compiled: CompiledConfig };
  /** Connection attempts of every pool, ended at once on shutdown. */
  readonly connecting: ConnectingSockets;
  /** Connectors for DestinationRule tls modes and auto mTLS. */
  readonly clientTls: ClientTls;
}

/** What a service needs from the mesh (`base`), with the transport to its endpoints (TLS for https:// URLs). */
export function serviceContext(parts: TransportParts, base: Omit<ServiceContext, 'secure' | 'endpointTransport'>, name: ServiceName, secure: boolean): ServiceContext {
  return {
    ...base,
    secure,
    endpointTransport: (limits) => endpointTransport(parts, name, secure, limits),
    // http:// services: the mesh decides per connection whether to originate (m)TLS.
    endpointConnector: secure
      ? undefined
      : (endpoint, service, baseConnector, timeoutMs) => {
          const target = { fqdn: name.fqdn, port: service.name.port, subset: service.subset, namespace: serviceNamespaceOf(name, parts.namer, parts.config.compiled.serviceEntries) };
          return parts.connecting.wrap(parts.clientTls.endpointConnector(() => endpoint.labels, target, () => service.tlsPolicy, baseConnector as buildConnector.connector, timeoutMs));
        },
  };
}

/**
 * How a service's endpoints connect, for the DestinationRule connection settings in
 * force (a reload applies them to pools made from then on): `endpointPool` overridden
 * by `connectionPool`, and for https:// URLs TLS with `endpointPool.tls`, verified
 * against the logical host name (sent as SNI) unless `tls.servername` says otherwise.
 * The health checks of https:// services use the same connector.
 */
function endpointTransport({ options: { pool }, connecting }: TransportParts, name: ServiceName, secure: boolean, limits: ConnectionPoolLimits | undefined): EndpointTransport {
  const connectTimeout = limits?.connectTimeoutMs ?? pool.connectTimeout;
  // Attempts are tracked so that shutdown can end them (see ConnectingSockets).
  const connector = secure ? connecting.wrap(endpointConnector(pool.tls, name.host, connectTimeout)) : undefined;
  return {
    connector,
    poolOptions: {
      connections: limits?.maxConnectionsPerEndpoint ?? pool.connections,
      connectTimeout,
      keepAliveTimeout: limits?.idleTimeoutMs ?? pool.keepAliveTimeout,
      ...(limits?.maxRequestsPerConnection !== undefined ? { maxRequestsPerClient: limits.maxRequestsPerConnection } : {}),
      connect: connector ?? connecting.wrap(buildConnector({ timeout: connectTimeout })),
    },
  };
}

/**
 * The transport in force for one service: what its endpoints' pools are built with (it
 * is their {@link EndpointContext}), and the TLS its health checks use. A reload of the
 * connection settings replaces it for pools made from then on; pools already made keep
 * their connections.
 */
export class ServiceTransport implements EndpointContext {
  readonly buildEndpointStack: (endpoint: EndpointState) => Dispatch;
  readonly secure: boolean;
  /** Options of the pools made from now on. */
  poolOptions: Pool.Options;
  /** TLS to the endpoints for https:// services: the pools' and the health checks'. */
  connector: buildConnector.connector | undefined;
  readonly connectorFor: ((endpoint: EndpointState) => Pool.Options['connect'] | undefined) | undefined;
  readonly #context: ServiceContext;

  /** The transport of `service` for the `connectionPool` limits in force. */
  constructor(context: ServiceContext, service: MeshService, limits: ConnectionPoolLimits | undefined) {
    this.#context = context;
    this.buildEndpointStack = context.buildEndpointStack;
    this.secure = context.secure;
    const transport = context.endpointTransport(limits);
    this.poolOptions = transport.poolOptions;
    this.connector = transport.connector;
    const endpointConnector = context.endpointConnector;
    this.connectorFor =
      endpointConnector === undefined
        ? undefined
        : (endpoint) => {
            const { connect, connectTimeout } = this.poolOptions;
            return connect === undefined || typeof connect !== 'function' ? undefined : endpointConnector(endpoint, service, connect, connectTimeout ?? 10_000);
          };
  }

  /** New `connectionPool` limits: pools made from now on use them. */
  update(limits: ConnectionPoolLimits | undefined): void {
    const transport = this.#context.endpointTransport(limits);
    this.poolOptions = transport.poolOptions;
    this.connector = transport.connector;
  }
}
