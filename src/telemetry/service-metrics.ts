/**
 * The metrics of one destination service, with its attribute sets built once and kept:
 * the layers call these methods on every try and every call, and after the first call
 * with given values nothing is allocated (see internal-attribute-cache.ts for the
 * bounds that keep request-controlled values from growing memory).
 */
import type { Attributes } from '@opentelemetry/api';
import { Admission, child, newMap, statusKey } from './internal-attribute-cache.js';
import { ATTR, OTHER, methodAttribute, type IstioLabel } from './metric-definitions.js';
import type { Instruments } from './metrics-recorder.js';
import { formatResponseFlags, sidecarStatusOf } from './response-flags.js';
import { UNKNOWN, namespaceOfService, type WorkloadIdentity } from './workload.js';

/** What a {@link ServiceMetrics} is for. */
export interface ServiceDescriptor {
  /** The service FQDN, or the host of a passthrough call. */
  readonly service: string;
  /** The port called. */
  readonly port: number;
  /** True for a host the mesh does not know, passed through under ALLOW_ANY. */
  readonly passthrough?: boolean;
  /** `grpc` when the service speaks gRPC (Istio's `request_protocol`); default `http`. */
  readonly protocol?: 'http' | 'grpc';
}

/** Why a call's last failed try was not retried, for `proxyless.client.retries.stopped`. */
export type RetryStopReason = 'attempts' | 'budget' | 'not_retryable' | 'timeout' | 'cancelled';

/** The most distinct routes per service recorded (more become `_OTHER`). */
export const MAX_ROUTES = 64;
/** The most distinct `error.type` values per service. */
export const MAX_ERROR_TYPES = 32;
/** The most distinct peer workloads per service on Istio's labels. */
export const MAX_PEERS = 16;
/** The most attribute sets kept per service for calls; past it sets are built per call (correct, not cached). */
export const MAX_CALL_SETS = 4096;

/** The peer used when an endpoint's identity is not known. */
export const UNKNOWN_PEER: WorkloadIdentity = Object.freeze({
  name: UNKNOWN,
  namespace: UNKNOWN,
  app: UNKNOWN,
  version: UNKNOWN,
  canonicalService: UNKNOWN,
  canonicalRevision: UNKNOWN,
  cluster: UNKNOWN,
  principal: UNKNOWN,
});

/** The node of one (route, status, flags): the `proxyless.client.requests` set, and Istio's per peer. */
interface CallNode {
  readonly requests: Attributes;
  readonly byPeer: Map<WorkloadIdentity, Attributes>;
}

/** What the recorder gives each service: the current instruments, the source identity, the passthrough bound. */
export interface ServiceMetricsHost {
  /** The instruments in force (they change when a global meter provider is registered later). */
  readonly instruments: Instruments;
  /** This workload, for Istio's `source_*` labels. */
  readonly workload: WorkloadIdentity;
  /** Admits a passthrough host as a label value (or `_OTHER` past the bound). */
  admitPassthrough(host: string): string;
}

/**
 * The metrics of one destination. Made by `MetricsRecorder.service()` when the mesh
 * builds a service (not per request); keep it with the service.
 */
export class ServiceMetrics {
  /** The value of `proxyless.service` and `server.address` (a passthrough host past the bound is `_OTHER`). */
  readonly label: string;
  readonly #host: ServiceMetricsHost;
  readonly #port: number;
  readonly #istioBase: Readonly<Record<IstioLabel, string>>;
  readonly #routes = new Admission<string>(MAX_ROUTES);
  readonly #errorTypes = new Admission<string>(MAX_ERROR_TYPES);
  readonly #peers = new Admission<string>(MAX_PEERS);
  readonly #attempts = new Map<string, Map<number, Map<string, Attributes>>>();
  readonly #calls = new Map<string, Map<number, Map<number, CallNode>>>();
  readonly #byRoute = new Map<string, Attributes>();
  readonly #stops = new Map<string, Map<RetryStopReason, Attributes>>();
  readonly #service: Attributes;
  #callSets = 0;

  /** @param host the recorder; @param target the destination */
  constructor(host: ServiceMetricsHost, target: ServiceDescriptor) {
    this.#host = host;
    this.#port = target.port;
    const passthrough = target.passthrough === true;
    this.label = passthrough ? host.admitPassthrough(target.service) : target.service;
    this.#service = { [ATTR.service]: this.label };
    const k8sNamespace = passthrough ? undefined : namespaceOfService(target.service);
    const w = host.workload;
    this.#istioBase = {
      reporter: 'source',
      source_workload: w.name,
      source_workload_namespace: w.namespace,
      source_principal: w.principal,
      source_app: w.app,
      source_version: w.version,
      source_canonical_service: w.canonicalService,
      source_canonical_revision: w.canonicalRevision,
      source_cluster: w.cluster,
      destination_workload: UNKNOWN,
      destination_workload_namespace: UNKNOWN,
      destination_principal: UNKNOWN,
      destination_app: UNKNOWN,
      destination_version: UNKNOWN,
      destination_service: this.label === OTHER ? UNKNOWN : this.label,
      destination_service_name: passthrough ? 'PassthroughCluster' : k8sNamespace !== undefined ? target.service.slice(0, target.service.indexOf('.')) : target.service,
      destination_service_namespace: k8sNamespace ?? UNKNOWN,
      destination_canonical_service: UNKNOWN,
      destination_canonical_revision: UNKNOWN,
      destination_cluster: UNKNOWN,
      request_protocol: target.protocol ?? 'http',
      response_code: '0',
      grpc_response_status: '',
      response_flags: '-',
      // Istio's client-side reporter does not know the server's policy.
      connection_security_policy: UNKNOWN,
    };
  }

  /**
   * One try (first, retry, hedge, mirror): `http.client.request.duration`.
   *
   * @param method the request method as sent
   * @param statusCode the status received, 0 when none
   * @param errorType `error.type`: the error's code for a failed try, the status code as
   *   text for a status of 400 or more, undefined on success (see {@link errorTypeOf})
   * @param seconds from sending to the response headers or the error
   */
  attempt(method: string, statusCode: number, errorType: string | undefined, seconds: number): void {
    const histogram = this.#host.instruments.clientDuration;
    if (histogram === undefined) return;
    const m = methodAttribute(method);
    const s = statusKey(statusCode);
    const e = errorType === undefined ? '' : this.#errorTypes.admit(errorType);
    const byError = child(child(this.#attempts, m, newMap<number, Map<string, Attributes>>), s, newMap<string, Attributes>);
    let attrs = byError.get(e);
    if (attrs === undefined) {
      attrs = { [ATTR.method]: m, [ATTR.serverAddress]: this.label, [ATTR.serverPort]: this.#port };
      if (s !== 0) attrs[ATTR.statusCode] = s;
      if (e !== '') attrs[ATTR.errorType] = e;
      byError.set(e, attrs);
    }
    histogram.record(seconds, attrs);
  }

  /**
   * One logical call, when it ends: `proxyless.client.requests`, and Istio's
   * `istio_requests_total` and `istio_request_duration_milliseconds`.
   *
   * @param route the route that served it (`<virtual service>.<route>`), undefined for none
   * @param statusCode the status the caller got; 0 when none (see `sidecarStatusOf` for Istio's view)
   * @param flags the call's response flags, a mask (response-flags.ts)
   * @param milliseconds from the call's start to its end
   * @param peer the identity of the endpoint that answered (`MetricsRecorder.peer`), when known
   */
  call(route: string | undefined, statusCode: number, flags: number, milliseconds: number, peer: WorkloadIdentity = UNKNOWN_PEER): void {
    const i = this.#host.instruments;
    if (i.clientRequests === undefined && i.istioRequests === undefined) return;
    const r = route === undefined ? 'default' : this.#routes.admit(route);
    const s = statusKey(statusCode);
    const byFlags = child(child(this.#calls, r, newMap<number, Map<number, CallNode>>), s, newMap<number, CallNode>);
    let node = byFlags.get(flags);
    if (node === undefined) {
      node = { requests: { [ATTR.service]: this.label, [ATTR.route]: r, [ATTR.statusCode]: s, [ATTR.responseFlags]: formatResponseFlags(flags) }, byPeer: new Map() };
      if (this.#callSets < MAX_CALL_SETS) {
        byFlags.set(flags, node);
        this.#callSets++;
      }
    }
    i.clientRequests?.add(1, node.requests);
    if (i.istioRequests !== undefined) {
      const p = peer === UNKNOWN_PEER || this.#peers.admit(peer.name) !== OTHER ? peer : UNKNOWN_PEER;
      let istio = node.byPeer.get(p);
      if (istio === undefined) {
        istio = this.#istioAttributes(s, flags, p);
        if (this.#callSets < MAX_CALL_SETS) {
          node.byPeer.set(p, istio);
          this.#callSets++;
        }
      }
      i.istioRequests.add(1, istio);
      i.istioDuration?.record(milliseconds, istio);
    }
  }

  /** A retry was sent (`proxyless.client.retries`). */
  retry(route: string | undefined): void {
    this.#host.instruments.retries.add(1, this.#routeAttributes(route));
  }

  /** A call's last failed try was not retried, and why (`proxyless.client.retries.stopped`). */
  retryStopped(route: string | undefined, reason: RetryStopReason): void {
    const r = route === undefined ? 'default' : this.#routes.admit(route);
    const byReason = child(this.#stops, r, newMap<RetryStopReason, Attributes>);
    let attrs = byReason.get(reason);
    if (attrs === undefined) {
      attrs = { [ATTR.service]: this.label, [ATTR.route]: r, [ATTR.retryStopReason]: reason };
      byReason.set(reason, attrs);
    }
    this.#host.instruments.retriesStopped.add(1, attrs);
  }

  /** A hedged try was sent (`proxyless.client.hedges`). */
  hedge(route: string | undefined): void {
    this.#host.instruments.hedges.add(1, this.#routeAttributes(route));
  }

  /** A hedged try's response was the one used (`proxyless.client.hedges.won`). */
  hedgeWon(route: string | undefined): void {
    this.#host.instruments.hedgesWon.add(1, this.#routeAttributes(route));
  }

  /** The circuit breaker refused a try (`proxyless.circuit_breaker.refusals`). */
  breakerRefusal(): void {
    this.#host.instruments.breakerRefusals.add(1, this.#service);
  }

  /** Outlier detection ejected an endpoint of this service (`proxyless.outlier.ejections`). */
  ejection(): void {
    this.#host.instruments.ejections.add(1, this.#service);
  }

  #routeAttributes(route: string | undefined): Attributes {
    const r = route === undefined ? 'default' : this.#routes.admit(route);
    let attrs = this.#byRoute.get(r);
    if (attrs === undefined) {
      attrs = { [ATTR.service]: this.label, [ATTR.route]: r };
      this.#byRoute.set(r, attrs);
    }
    return attrs;
  }

  #istioAttributes(status: number, flags: number, peer: WorkloadIdentity): Attributes {
    return {
      ...this.#istioBase,
      destination_workload: peer.name,
      destination_workload_namespace: peer.namespace === UNKNOWN ? this.#istioBase.destination_service_namespace : peer.namespace,
      destination_principal: peer.principal,
      destination_app: peer.app,
      destination_version: peer.version,
      destination_canonical_service: peer.canonicalService,
      destination_canonical_revision: peer.canonicalRevision,
      destination_cluster: peer.cluster,
      // No response (0): the status an Istio sidecar would have answered with for these flags.
      response_code: String(status === 0 ? sidecarStatusOf(flags) : status),
      response_flags: formatResponseFlags(flags),
    };
  }
}

/** Error codes are short upper-case words; anything else is named by its class or `_OTHER`. */
const CODE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * `error.type` for a try, by the semantic conventions: the error's `code` (or its class
 * name) when it failed, the status code as text for a status of 400 or more, undefined
 * on success. Values are short and come from a small set; the recorder bounds them too.
 */
export function errorTypeOf(error: unknown, statusCode: number): string | undefined {
  if (error !== undefined && error !== null) {
    const e = error as { code?: unknown; name?: unknown };
    if (typeof e.code === 'string' && CODE.test(e.code)) return e.code;
    if (typeof e.name === 'string' && CODE.test(e.name) && e.name !== 'Error') return e.name;
    return OTHER;
  }
  return statusCode >= 400 && statusCode <= 599 ? String(statusCode) : undefined;
}
