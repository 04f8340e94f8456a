/**
 * Errors of a request's way through the mesh (routing, discovery, limits, breakers,
 * retries) and of the mesh's life (not ready, closing, closed). Timeouts and deadlines:
 * `timeouts.ts`.
 *
 * @module
 */
import { ProxylessError } from './base.js';

/**
 * The request's host is not a known service and `outboundTrafficPolicy` is
 * `REGISTRY_ONLY`, or a VirtualService route sends to a host no source knows.
 */
export class UnknownServiceError extends ProxylessError {
  /** The host as written in the URL or the route. */
  readonly host: string;
  /** The host, as the service the request was for. */
  declare readonly service: string;
  /**
   * 502 as Istio answers a host outside the registry under `REGISTRY_ONLY`
   * (BlackHoleCluster); 503 for a route to an unknown host (Envoy's `NC`, no cluster).
   */
  declare readonly statusCode: 502 | 503;

  /**
   * @param host the host; @param sources names of the discovery sources asked;
   * @param as `route` when a VirtualService route named the host
   */
  constructor(host: string, sources: readonly string[], as?: 'route') {
    super(
      'PROXYLESS_ERR_UNKNOWN_SERVICE',
      as === 'route'
        ? `a VirtualService route sends to "${host}", which no discovery source or ServiceEntry knows ` +
            `(asked: ${sources.join(', ') || 'none'}). Register the destination, add a ServiceEntry for it, or fix the route's destination host.`
        : `no discovery source knows the service "${host}" (asked: ${sources.join(', ') || 'none'}) ` +
            `and outboundTrafficPolicy is REGISTRY_ONLY. Register it with a discovery source ` +
            `(e.g. staticEndpoints({ "${host}": ["10.0.0.1:8080"] })) or set ` +
            `outboundTrafficPolicy: { mode: "ALLOW_ANY" } to pass unknown hosts through.`,
      { service: host, statusCode: as === 'route' ? 503 : 502 },
    );
    this.host = host;
  }
}

/**
 * A DestinationRule `connectionPool` limit refused the request at once (Envoy's
 * upstream overflow: HTTP 503 with `x-envoy-overloaded`). Retrying right away will
 * usually overflow again.
 */
export class OverloadError extends ProxylessError {
  /** The HTTP status a sidecar would answer with. */
  declare readonly statusCode: 503;
  /** The service. */
  declare readonly service: string;
  /** The limit that refused it: `http2MaxRequests` or `http1MaxPendingRequests`. */
  readonly limit: string;

  /**
   * @param service the service; @param limit the field; @param value its value;
   * @param inFlight requests in flight when refused
   */
  constructor(service: string, limit: string, value: number, inFlight: number) {
    super(
      'PROXYLESS_ERR_OVERLOADED',
      `service "${service}" is overloaded: ${inFlight} requests in flight reached DestinationRule ` +
        `connectionPool.http.${limit} (${value}); the request was refused at once (503). ` +
        `Raise the limit, add endpoints, or slow the caller down.`,
      { service, statusCode: 503 },
    );
    this.limit = limit;
  }
}

/** A known service had no endpoint within `discoveryTimeout`. */
export class NoEndpointsError extends ProxylessError {
  /** The logical service name. */
  declare readonly service: string;
  /** 503, as Envoy answers a cluster without endpoints (`UH`). */
  declare readonly statusCode: 503;

  /**
   * @param service the service; @param sources the sources asked;
   * @param waitedMs how long the request waited for an endpoint
   */
  constructor(service: string, sources: readonly string[], waitedMs: number) {
    super(
      'PROXYLESS_ERR_NO_ENDPOINTS',
      `service "${service}" has no available endpoint after waiting ${waitedMs} ms ` +
        `(sources asked: ${sources.join(', ') || 'none'}). Check that the service has running ` +
        `instances registered with a discovery source, or raise discoveryTimeout.`,
      { service, statusCode: 503 },
    );
  }
}

/** Discovery did not decide whether a host is a mesh service within `discoveryTimeout`. */
export class DiscoveryTimeoutError extends ProxylessError {
  /** The host as written in the URL. */
  readonly host: string;
  /** The host, as the service the request was for. */
  declare readonly service: string;
  /** 503: no response came from the service. */
  declare readonly statusCode: 503;

  /** @param host the URL's host; @param pending the sources that had not answered */
  constructor(host: string, pending: readonly string[], waitedMs: number) {
    super(
      'PROXYLESS_ERR_DISCOVERY_TIMEOUT',
      `discovery did not answer for "${host}" within ${waitedMs} ms (still waiting on: ` +
        `${pending.join(', ')}). Check that those sources can reach their servers, or raise ` +
        `discoveryTimeout.`,
      { service: host, statusCode: 503 },
    );
    this.host = host;
  }
}

/** The mesh was closed: it takes no new requests. */
export class MeshClosedError extends ProxylessError {
  /** @param operation what was refused, when not a request (`applyConfig`, `explain`) */
  constructor(operation?: string) {
    super(
      'PROXYLESS_ERR_MESH_CLOSED',
      operation === undefined
        ? 'the mesh is closed and takes no new requests; create a new mesh with createMesh() or stop sending requests after mesh.close().'
        : `the mesh is closed, so ${operation}() does nothing: a closed mesh changes no more. Create a new mesh with createMesh() ` +
            `or stop calling ${operation}() after mesh.close().`,
    );
  }
}

/** A request was in flight when the mesh's close grace period ran out. */
export class MeshClosingError extends ProxylessError {
  /** @param graceMs the grace period that elapsed */
  constructor(graceMs: number) {
    super(
      'PROXYLESS_ERR_CLOSE_TIMEOUT',
      `the request was still in flight when mesh.close() gave up after its grace period of ` +
        `${graceMs} ms; raise closeGracePeriod if requests need longer to finish.`,
    );
  }
}

/** A URL the mesh cannot route (no host, unsupported protocol). */
export class InvalidRequestError extends ProxylessError {
  /** @param message what is wrong with the request and how to fix it */
  constructor(message: string) {
    super('PROXYLESS_ERR_INVALID_REQUEST', message);
  }
}

/**
 * A discovery or config source was used after it was closed: by `source.close()`, or by
 * the last mesh holding it (see `holdSource`). It answers no more watches; requests
 * that need it fail at once with this error rather than wait for a discovery timeout.
 */
export class SourceClosedError extends ProxylessError {
  /** The source's name, e.g. `static`, `dns(10.0.0.10)`. */
  readonly source: string;

  /** @param source the source's name; @param what what was asked of it, e.g. `watch reviews:80` */
  constructor(source: string, what: string) {
    super(
      'PROXYLESS_ERR_SOURCE_CLOSED',
      `source ${source} is closed, so it cannot ${what}: it was closed by source.close() or when the last mesh ` +
        `holding it closed. Create a new source, or keep this one open across meshes with holdSource(source) ` +
        `(and release it when done).`,
    );
    this.source = source;
  }
}

/**
 * A discovery source misbehaved: it sent an update the mesh cannot use (not one of the
 * `DiscoveryUpdate` shapes), or its `watch()` threw. Reported as a `discoveryError`
 * naming the source; the mesh keeps the last good endpoint set.
 */
export class DiscoverySourceError extends ProxylessError {
  /** The source's name. */
  readonly source: string;
  /** The service (`fqdn:port`) the update or watch was for. */
  declare readonly service: string;
  /** What was wrong, one line: `endpoints[0].port: "80" (expected: an integer from 1 to 65535)`. */
  readonly problem: string;

  /**
   * @param source the source's name; @param service `fqdn:port`; @param problem what was
   * wrong; @param consequence what the mesh does about it; @param options the cause
   */
  constructor(source: string, service: string, problem: string, consequence: string, options?: ErrorOptions) {
    super('PROXYLESS_ERR_DISCOVERY_SOURCE', `discovery source ${source}, service ${service}: ${problem}; ${consequence}`, { cause: options?.cause, service });
    this.source = source;
    this.problem = problem;
  }
}

/** `mesh.ready()` gave up: some sources had not given their first answer in time. */
export class MeshNotReadyError extends ProxylessError {
  /** The names of the sources that had not answered. */
  readonly pending: readonly string[];

  /** @param pending the sources still silent; @param waitedMs how long `ready()` waited */
  constructor(pending: readonly string[], waitedMs: number) {
    super(
      'PROXYLESS_ERR_NOT_READY',
      `mesh.ready() gave up after ${waitedMs} ms: still waiting on ${pending.join(', ') || 'no source'} for a first answer. ` +
        `Check that those sources can reach their servers (see mesh.sources() and the discoveryError and configError events), ` +
        `or pass a longer timeout: mesh.ready({ timeout })`,
    );
    this.pending = pending;
  }
}

/**
 * A service has endpoints but none can take traffic: every one is ejected by outlier
 * detection or failing its health checks. The mesh answers at once, as Envoy answers
 * 503 "no healthy upstream" (response flag `UH`), instead of waiting for one to recover.
 */
export class NoHealthyUpstreamError extends ProxylessError {
  /** The HTTP status a sidecar would answer with. */
  declare readonly statusCode: 503;
  /** Envoy's response flag for this outcome. */
  readonly responseFlag = 'UH';
  /** The logical service name. */
  declare readonly service: string;

  /**
   * @param service the service; @param endpoints how many it has;
   * @param ejected how many are ejected; @param unhealthy how many fail health checks
   */
  constructor(service: string, endpoints: number, ejected: number, unhealthy: number) {
    super(
      'PROXYLESS_ERR_NO_HEALTHY_UPSTREAM',
      `no healthy upstream: none of the ${endpoints} endpoint${endpoints === 1 ? '' : 's'} of service "${service}" can take traffic ` +
        `(${ejected} ejected by outlier detection, ${unhealthy} failing health checks); the request was refused at once (503). ` +
        `Look at why the endpoints fail (mesh.services() shows each one), or relax the DestinationRule's outlierDetection ` +
        `(maxEjectionPercent, minHealthPercent) or health-check annotation.`,
      { service, statusCode: 503 },
    );
  }
}

/**
 * A request body could not be sent again: it is a stream, and more of it had been read
 * than the mesh keeps for replays (`requestBufferLimit`), so a retry, a hedged backup or
 * a mirror could not have the whole body.
 */
export class BodyNotReplayableError extends ProxylessError {
  /** @param limit the buffer limit in bytes; @param service the service the request was for, when known */
  constructor(limit: number, service?: string) {
    super(
      'PROXYLESS_ERR_BODY_NOT_REPLAYABLE',
      `the request body${service === undefined ? '' : ` to service "${service}"`} is a stream larger than requestBufferLimit (${limit} bytes) and part of it was already sent, ` +
        `so it cannot be sent again; raise requestBufferLimit, or send the body as a string or bytes.`,
      { service },
    );
  }
}

/**
 * The service's circuit breaker is open (or half-open with its probe in flight): the
 * request was refused at once, without being sent (HTTP 503 semantics). Retrying right
 * away is refused too, until {@link CircuitOpenError.retryAt}.
 */
export class CircuitOpenError extends ProxylessError {
  /** The HTTP status a sidecar would answer with. */
  declare readonly statusCode: 503;
  /** The service. */
  declare readonly service: string;
  /** `open`, or `half-open` when a probe request is in flight. */
  readonly state: 'open' | 'half-open';
  /** When the breaker opened, in ms since the epoch. */
  readonly openedAt: number | undefined;
  /** When it lets a probe request through, in ms since the epoch (open only). */
  readonly retryAt: number | undefined;

  /**
   * @param service the service; @param state the breaker's state; @param openedAt when it
   * opened; @param settings its settings, to say how to tune it;
   * @param successesNeeded half-open: probe successes still needed to close it
   */
  constructor(
    service: string,
    state: 'open' | 'half-open',
    openedAt: number | undefined,
    settings: {
      readonly errorThresholdPercentage: number;
      readonly volumeThreshold: number;
      readonly rollingWindowMs: number;
      readonly resetTimeoutMs: number;
      readonly failOn: readonly (string | number)[];
    },
    successesNeeded = 0,
  ) {
    const retryAt = state === 'open' && openedAt !== undefined ? openedAt + settings.resetTimeoutMs : undefined;
    const opened = openedAt === undefined ? '' : ` since ${new Date(openedAt).toISOString()}`;
    const why =
      `it opens when more than ${settings.errorThresholdPercentage} % of at least ${settings.volumeThreshold} requests ` +
      `within ${formatMs(settings.rollingWindowMs)} fail (failOn: ${settings.failOn.join(', ')})`;
    const when =
      state === 'open'
        ? `it lets a probe request through ${retryAt === undefined ? `after resetTimeout ${formatMs(settings.resetTimeoutMs)}` : `at ${new Date(retryAt).toISOString()} (resetTimeout ${formatMs(settings.resetTimeoutMs)})`}`
        : `it is half-open: one probe request at a time goes through, one is in flight now, and it closes after ` +
          `${successesNeeded} more probe success${successesNeeded === 1 ? '' : 'es'}`;
    super(
      'PROXYLESS_ERR_CIRCUIT_OPEN',
      `the circuit breaker of service "${service}" is ${state}${opened}; ${why}; ${when}. The request was refused ` +
        `at once (503) without being sent. Fix or scale the service, or tune the DestinationRule annotation ` +
        `"proxyless.dev/circuit-breaker" (errorThresholdPercentage, volumeThreshold, rollingWindow, resetTimeout, ` +
        `halfOpenSuccesses, failOn).`,
      { service, statusCode: 503 },
    );
    this.state = state;
    this.openedAt = openedAt;
    this.retryAt = retryAt;
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 100 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
