/**
 * Errors raised by the mesh. Each class has a stable `code` (`PROXYLESS_ERR_*`) that
 * programs can switch on, and a message that says what happened, to which service or
 * endpoint, and what to change.
 */

/** What a {@link ProxylessError} carries besides its message: the cause, the service, the status. */
export interface ProxylessErrorOptions extends ErrorOptions {
  /** The service the error is about (its host as the request or route wrote it, e.g. `reviews`), when there is one. */
  readonly service?: string | undefined;
  /** The HTTP status a sidecar would have answered with, when the error stands for a response. */
  readonly statusCode?: number | undefined;
}

/**
 * Base class of every error the mesh raises. Each has a `code`, names the service it is
 * about in `service` (undefined when it is about none: an option, the mesh itself, a
 * certificate) and, when it stands for a response a sidecar would have sent (overload,
 * timeout, open circuit, no healthy upstream), that response's `statusCode`.
 *
 * Through `fetch` (the platform's, or `mesh.fetch`) these errors arrive as the
 * `cause` of a `TypeError: fetch failed`: {@link isProxylessError} and
 * {@link proxylessErrorOf} look through it.
 */
export class ProxylessError extends Error {
  /** Stable machine-readable code, e.g. `PROXYLESS_ERR_INVALID_OPTION`. */
  readonly code: string;
  /** The service the error is about: its host as the request or route wrote it (`reviews`); undefined when none. */
  readonly service: string | undefined;
  /** The HTTP status a sidecar would have answered with (503, 504, ...); undefined when no response is implied. */
  readonly statusCode: number | undefined;

  /** @param code stable code; @param message what happened and how to fix it; @param options cause, service and status */
  constructor(code: string, message: string, options?: ProxylessErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.service = options?.service;
    this.statusCode = options?.statusCode;
  }
}

/** How deep {@link proxylessErrorOf} follows `cause` links (a cycle or a long chain ends there). */
const MAX_CAUSE_DEPTH = 8;

/**
 * The {@link ProxylessError} behind `error`: the error itself, or the first one found
 * following `cause` links (at most 8 deep, so a cycle ends), as in the
 * `TypeError: fetch failed` that `fetch` throws with the mesh's error as its cause, or an
 * `AggregateError`'s errors. Undefined when there is none.
 *
 * ```ts
 * try { await mesh.fetch('http://reviews/'); }
 * catch (e) { const err = proxylessErrorOf(e); if (err?.statusCode === 503) ... }
 * ```
 */
export function proxylessErrorOf(error: unknown): ProxylessError | undefined {
  return find(error, 0);
}

function find(error: unknown, depth: number): ProxylessError | undefined {
  if (error instanceof ProxylessError) return error;
  if (depth >= MAX_CAUSE_DEPTH || error === null || typeof error !== 'object') return undefined;
  if (error instanceof AggregateError) {
    for (const inner of error.errors.slice(0, MAX_CAUSE_DEPTH)) {
      const found = find(inner, depth + 1);
      if (found) return found;
    }
  }
  return find((error as { cause?: unknown }).cause, depth + 1);
}

/**
 * Whether `error` is, or was caused by, a {@link ProxylessError} (see
 * {@link proxylessErrorOf}, which returns it), optionally one with the given `code`.
 * True for the `TypeError: fetch failed` that `fetch` throws when the mesh refused or
 * failed the request.
 */
export function isProxylessError(error: unknown, code?: string): boolean {
  const found = find(error, 0);
  return found !== undefined && (code === undefined || found.code === code);
}

/** An option passed to a factory (`createMesh`, `staticEndpoints`, a layer) is invalid. */
export class InvalidOptionError extends ProxylessError {
  /** Every problem found, one line each: `field: value (expected: ...)`. */
  readonly problems: readonly string[];

  /** @param where the call that received the options, e.g. `createMesh` */
  constructor(where: string, problems: readonly string[]) {
    super(
      'PROXYLESS_ERR_INVALID_OPTION',
      `${where}: invalid option${problems.length > 1 ? 's' : ''}:\n  ${problems.join('\n  ')}`,
    );
    this.problems = problems;
  }
}

/**
 * One finding about mesh config: an error (the config is refused), a warning (it loads,
 * but a field is not applied or does something you may not expect) or a note (a
 * resource that is not mesh config, such as a Deployment, was skipped).
 */
export interface ConfigDiagnostic {
  /** How it counts. */
  readonly severity: 'error' | 'warning' | 'note';
  /** Where: `VirtualService/reviews (mesh.yaml#2)`, or an origin (`mesh.yaml:4:1`); '' when unknown. */
  readonly where: string;
  /**
   * The field path inside the resource, in one format for errors and warnings alike:
   * `spec.http[0].match[0].headers["@request.auth.claims.group"]` (keys joined with `.`,
   * list positions `[i]`, keys that are not plain identifiers quoted in brackets); '' when
   * the finding is about the whole resource or text.
   */
  readonly path: string;
  /** What is wrong (the value) and what is expected, or what happens instead. */
  readonly message: string;
}

/** A diagnostic as one line: `where: path: message`. */
export function renderDiagnostic(d: ConfigDiagnostic): string {
  return [d.where, d.path, d.message].filter((part) => part !== '').join(': ');
}

/** A mesh config resource (DestinationRule, ...) is invalid. */
export class InvalidConfigError extends ProxylessError {
  /** Every problem found, one line each, naming the document and field path. */
  readonly problems: readonly string[];
  /**
   * Every finding, errors first: the problems with their field paths apart, then the
   * warnings and notes of the same config (shown with the errors, so fixing one does not
   * hide the other).
   */
  readonly diagnostics: readonly ConfigDiagnostic[];
  /** The warnings of the same config, one line each (see {@link InvalidConfigError.diagnostics}). */
  readonly warnings: readonly string[];

  /**
   * @param problems one line each (`DestinationRule/reviews: spec.host: ...`), or diagnostics
   * @param options `cause`: an unexpected error behind the problems; `warnings`: findings
   *   that are not errors, kept for the reader
   */
  constructor(problems: readonly (string | ConfigDiagnostic)[], options?: ErrorOptions & { warnings?: readonly ConfigDiagnostic[] }) {
    const errors = problems.map((p): ConfigDiagnostic => (typeof p === 'string' ? { severity: 'error', where: '', path: '', message: p } : p));
    const lines = errors.map(renderDiagnostic);
    super('PROXYLESS_ERR_INVALID_CONFIG', `invalid mesh config:\n  ${lines.join('\n  ')}`, options);
    this.problems = lines;
    this.diagnostics = [...errors, ...(options?.warnings ?? [])];
    this.warnings = (options?.warnings ?? []).filter((d) => d.severity === 'warning').map(renderDiagnostic);
  }
}

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

/**
 * The route's timeout (VirtualService `timeout`) ran out: the call, retries included,
 * is over (Envoy answers 504 and does not retry it).
 */
export class RouteTimeoutError extends ProxylessError {
  /** The HTTP status a sidecar would answer with. */
  declare readonly statusCode: 504;
  /** The destination service. */
  declare readonly service: string;

  /** @param service the destination; @param ms the timeout; @param where the route that set it */
  constructor(service: string, ms: number, where: string) {
    super(
      'PROXYLESS_ERR_TIMEOUT',
      `the call to service "${service}" took longer than its route timeout of ${ms} ms (${where}), retries included; ` +
        `it was cancelled and not retried. Raise the VirtualService route's timeout, or look at why the service is slow.`,
      { service, statusCode: 504 },
    );
  }
}

/** The request's deadline (from the request being served) had passed: nothing was sent. */
export class DeadlineExceededError extends ProxylessError {
  /** The HTTP status a sidecar would answer with. */
  declare readonly statusCode: 504;
  /** The destination service. */
  declare readonly service: string;

  /** @param service the destination; @param lateMs how long ago the deadline passed */
  constructor(service: string, lateMs: number) {
    super(
      'PROXYLESS_ERR_DEADLINE_EXCEEDED',
      `the call to service "${service}" was not made: the deadline of the request being handled ` +
        (lateMs > 0 ? `passed ${Math.round(lateMs)} ms ago` : 'ran out while it waited') +
        ` (set by withDeadline or the caller's x-envoy-expected-rq-timeout-ms). Give the incoming request more time or do less before this call.`,
      { service, statusCode: 504 },
    );
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
 * The SPIFFE X.509-SVID rule an {@link SvidError} reports; its code is
 * `PROXYLESS_ERR_SVID_` followed by the rule in upper case.
 */
export type SvidRule =
  /** Not a certificate, key or PEM block we can read (or an extension appears twice). */
  | 'malformed'
  /** The leaf carries no URI SAN. */
  | 'no_uri_san'
  /** The leaf carries more than one URI SAN. */
  | 'multiple_uri_sans'
  /** The URI SAN is not a valid SPIFFE ID (or a leaf's ID has no path). */
  | 'invalid_spiffe_id'
  /** The leaf says it is a CA (basicConstraints cA true). */
  | 'leaf_is_ca'
  /** The leaf has no keyUsage extension, or it lacks digitalSignature. */
  | 'no_digital_signature'
  /** The leaf's keyUsage extension is not marked critical. */
  | 'key_usage_not_critical'
  /** The leaf may sign certificates or CRLs (keyCertSign, cRLSign). */
  | 'leaf_can_sign'
  /** The leaf has an extendedKeyUsage without both serverAuth and clientAuth. */
  | 'extended_key_usage'
  /** A certificate of the chain is past its notAfter. */
  | 'expired'
  /** A certificate of the chain is before its notBefore. */
  | 'not_yet_valid'
  /** No chain leads from the leaf to a root of the trust bundle. */
  | 'untrusted'
  /** An issuer was found by name but its signature on the certificate does not verify. */
  | 'bad_signature'
  /** A signing (intermediate) certificate is not a CA with keyCertSign. */
  | 'signing_cert'
  /** The chain is longer than a CA's pathLenConstraint or than the bound we accept. */
  | 'path_length'
  /** The SVID's trust domain is not the one expected or has no trust bundle. */
  | 'trust_domain'
  /** The SPIFFE ID is valid and trusted but not the identity expected. */
  | 'unexpected_id'
  /** The private key does not belong to the leaf certificate. */
  | 'key_mismatch'
  /** A certificate of the chain has a critical extension we do not process (RFC 5280 §4.2: refuse it). */
  | 'unhandled_critical_extension';

/**
 * An X.509-SVID (a workload certificate) broke a rule of the SPIFFE X.509-SVID
 * specification or of the trust it was checked against. `rule` (and `code`) say which;
 * `presented` and `expected` say what the certificate had and what the rule wants.
 */
export class SvidError extends ProxylessError {
  /** The rule broken. */
  readonly rule: SvidRule;
  /** What the certificate (or key) presented, in words. */
  readonly presented: string;
  /** What the rule expected, in words. */
  readonly expected: string;

  /**
   * @param rule the rule; @param subject what was checked (e.g. `leaf certificate of /etc/certs/cert-chain.pem`);
   * @param presented what it had; @param expected what the rule wants; @param advice what to change
   */
  constructor(rule: SvidRule, subject: string, presented: string, expected: string, advice: string, options?: ErrorOptions) {
    super(
      `PROXYLESS_ERR_SVID_${rule.toUpperCase()}`,
      `${subject}: ${presented} (expected: ${expected}). ${advice}`,
      options,
    );
    this.rule = rule;
    this.presented = presented;
    this.expected = expected;
  }
}

/** An identity source's `ready()` gave up, or the source closed before its first SVID. */
export class IdentityNotReadyError extends ProxylessError {
  /** @param source the source's name; @param why what happened; @param last the last error it reported */
  constructor(source: string, why: string, last: Error | undefined) {
    super(
      'PROXYLESS_ERR_IDENTITY_NOT_READY',
      `identity source ${source} has no SVID: ${why}` + (last ? `; last error: ${last.message}` : '') + '. Check that the certificate files exist and are valid (`proxyless certs inspect`), or the CA directory.',
      { cause: last },
    );
  }
}

/** A string is not a valid SPIFFE ID; `reason` names the rule of the grammar it breaks. */
export class InvalidSpiffeIdError extends ProxylessError {
  /** The rule broken, in words. */
  readonly reason: string;

  /** @param value what was given; @param reason the rule it breaks */
  constructor(value: string, reason: string) {
    super(
      'PROXYLESS_ERR_INVALID_SPIFFE_ID',
      `${JSON.stringify(value.length > 120 ? `${value.slice(0, 117)}...` : value)} is not a valid SPIFFE ID: ${reason}`,
    );
    this.reason = reason;
  }
}
