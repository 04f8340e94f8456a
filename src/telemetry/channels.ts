/**
 * `node:diagnostics_channel` channels on which the mesh reports what it does, so an APM
 * agent or a test can subscribe without OpenTelemetry and without patching anything:
 *
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('proxyless:client:retry', (message) => console.log('retry', message));
 * ```
 *
 * Each channel carries one message type, documented below; messages are plain objects
 * that subscribers must not change, except that a call's (and an attempt's) end message
 * is the very object of its start, completed: a subscriber can key a WeakMap by it.
 *
 * Publishing is free when nobody listens. The mesh's layers publish with this pattern,
 * which builds no message unless a subscriber exists:
 *
 * ```ts
 * if (channels.retry.hasSubscribers) channels.retry.publish({ call, attempt, reason, backoffMs });
 * ```
 *
 * Publishing never throws into the request: Node catches a subscriber's error and
 * re-raises it on the next tick as an uncaught exception (Node's rule for every channel,
 * undici's included), so subscribers must not throw.
 */
import { channel, type Channel } from 'node:diagnostics_channel';

/** Channel names, one per kind of report. */
export const CHANNEL_NAMES = {
  /** A logical call through the mesh began ({@link CallMessage}). */
  callStart: 'proxyless:client:call:start',
  /** A logical call ended: response headers, or an error ({@link CallMessage}, completed). */
  callEnd: 'proxyless:client:call:end',
  /** One try of a call (first, retry, hedge, mirror) was sent to an endpoint ({@link AttemptMessage}). */
  attemptStart: 'proxyless:client:attempt:start',
  /** One try ended ({@link AttemptMessage}, completed). */
  attemptEnd: 'proxyless:client:attempt:end',
  /** A retry was scheduled after a failed try ({@link RetryMessage}). */
  retry: 'proxyless:client:retry',
  /** A hedged (backup) try was sent while an earlier one was still running ({@link HedgeMessage}). */
  hedge: 'proxyless:client:hedge',
  /** Outlier detection ejected an endpoint, or let it back in ({@link EjectionMessage}). */
  ejection: 'proxyless:endpoint:ejection',
  /** Active health checking changed an endpoint's health ({@link HealthMessage}). */
  health: 'proxyless:endpoint:health',
  /** A service's circuit breaker changed state ({@link BreakerMessage}). */
  breaker: 'proxyless:breaker:state',
  /** A config version was applied ({@link ConfigAppliedMessage}). */
  configApplied: 'proxyless:config:applied',
  /** A config version was rejected; the last good one stays in force ({@link ConfigRejectedMessage}). */
  configRejected: 'proxyless:config:rejected',
  /** A discovery source delivered endpoints for a service ({@link DiscoveryRefreshMessage}). */
  discoveryRefresh: 'proxyless:discovery:refresh',
  /** A discovery source failed; it keeps its last good endpoints ({@link DiscoveryErrorMessage}). */
  discoveryError: 'proxyless:discovery:error',
  // Policy events (issue 11), published by src/mesh/policy-event-sink.ts.
  /** A retry or hedge was wanted and its budget refused it ({@link BudgetExhaustedMessage}). */
  budgetExhausted: 'proxyless:client:budget:exhausted',
} as const;

/** A channel whose messages are of type `T`. */
export interface TypedChannel<T> extends Channel {
  /** Publishes `message` to the subscribers (check `hasSubscribers` first). */
  publish(message: T): void;
}

/** A logical call: published at its start, then completed and published again at its end. */
export interface CallMessage {
  /** Always `outbound` for mesh calls (the server side reports on its own channels). */
  readonly direction: 'outbound';
  /** The request method as given. */
  readonly method: string;
  /** `scheme://host[:port]` as the caller wrote it. */
  readonly origin: string;
  /** The path and query as sent (after path normalisation). */
  readonly path: string;
  /** The logical service (FQDN), or undefined for a passthrough host. */
  readonly service: string | undefined;
  /** When the call began: `performance.now()` milliseconds. */
  readonly startTime: number;
  /** Set at the end: the VirtualService route that served it (`<virtual service>.<route name or index>`). */
  route?: string;
  /** Set at the end: the status the caller got; 0 when it got none. */
  statusCode?: number;
  /** Set at the end when the call failed: what the caller got instead of a response. */
  error?: unknown;
  /** Set at the end: Envoy's response flags (`-` for none), see response-flags.ts. */
  responseFlags?: string;
  /** Set at the end: tries sent (the first, retries and hedges; mirrors not counted). */
  attempts?: number;
  /** Set at the end: whether a hedged try was sent. */
  hedged?: boolean;
  /** Set at the end: milliseconds from start to the response headers or the error. */
  durationMs?: number;
}

/** One try of a call: published when sent, then completed and published again when it ends. */
export interface AttemptMessage {
  /** The call this try belongs to (the object of its start message). */
  readonly call: CallMessage;
  /** 1 for the first try, then 2, 3, ... in the order tries were sent. */
  readonly attempt: number;
  /** `first`, `retry`, `hedge`, or `mirror` (a shadow copy whose answer is dropped). */
  readonly kind: 'first' | 'retry' | 'hedge' | 'mirror';
  /** The service the try went to (a mirror's is its own). */
  readonly service: string | undefined;
  /** The endpoint picked, `address:port`. */
  readonly endpoint: string;
  /** When the try was sent: `performance.now()` milliseconds. */
  readonly startTime: number;
  /** Set at the end: the status received; 0 when none. */
  statusCode?: number;
  /** Set at the end when the try failed. */
  error?: unknown;
  /** Set at the end: Envoy's response flags of this try. */
  responseFlags?: string;
  /** Set at the end: whether the try was cancelled by the mesh (a lost hedge, a timeout). */
  cancelled?: boolean;
  /** Set at the end: milliseconds from sending to the response headers or the error. */
  durationMs?: number;
}

/** A retry decision. */
export interface RetryMessage {
  /** The call being retried. */
  readonly call: CallMessage;
  /** The number of the try that will be sent (2 for the first retry). */
  readonly attempt: number;
  /** What made the last try retriable: a `retryOn` condition such as `5xx`, `connect-failure`, `reset`, or a status code. */
  readonly reason: string;
  /** The backoff before the retry, in milliseconds. */
  readonly backoffMs: number;
}

/** A hedged try. */
export interface HedgeMessage {
  /** The call being hedged. */
  readonly call: CallMessage;
  /** The number of the hedged try. */
  readonly attempt: number;
  /** How long the earlier try had run when the hedge fired, in milliseconds. */
  readonly afterMs: number;
}

/** An outlier-detection ejection or return. */
export interface EjectionMessage {
  /** The service (`fqdn:port`). */
  readonly service: string;
  /** The endpoint, `address:port`. */
  readonly endpoint: string;
  /** True when ejected, false when it came back. */
  readonly ejected: boolean;
  /**
   * Why it was ejected, as Envoy's outlier event log names it: `CONSECUTIVE_5XX`
   * (`consecutive5xxErrors` reached), `CONSECUTIVE_GATEWAY_FAILURE`
   * (`consecutiveGatewayErrors`), `CONSECUTIVE_LOCAL_ORIGIN_FAILURE`
   * (`consecutiveLocalOriginFailures`); undefined on return.
   */
  readonly reason: string | undefined;
  /** How many times it has been ejected so far. */
  readonly times: number;
  /** How long this ejection lasts, in milliseconds; undefined on return. */
  readonly durationMs: number | undefined;
}

/** A change of an endpoint's active health. */
export interface HealthMessage {
  /** The service (`fqdn:port`). */
  readonly service: string;
  /** The endpoint, `address:port`. */
  readonly endpoint: string;
  /** Whether it is healthy now. */
  readonly healthy: boolean;
  /** What the check that changed the endpoint's health saw: `status 200`, `status 503 (expected 200-399)`, `timed out after 1000 ms`, `connect ECONNREFUSED ...` (a custom check: its `detail`, else `passed` or `failed`). */
  readonly detail: string;
  /** When unhealthy, why the check failed, as Envoy's health check event log names it: `ACTIVE` (it answered, wrongly), `NETWORK` (no answer), `NETWORK_TIMEOUT`; undefined when healthy. */
  readonly failure: string | undefined;
}

/** A circuit breaker's state change. */
export interface BreakerMessage {
  /** The service (`fqdn:port`). */
  readonly service: string;
  /** The new state. */
  readonly state: 'closed' | 'open' | 'half-open';
  /** The state before. */
  readonly previous: 'closed' | 'open' | 'half-open';
}

/** A config version applied. */
export interface ConfigAppliedMessage {
  /** What changed: a file or config source name, or `applyConfig`. */
  readonly source: string;
  /** How many resources the config in force was built from. */
  readonly resources: number;
  /** Its warnings. */
  readonly warnings: readonly string[];
}

/** A config version rejected. */
export interface ConfigRejectedMessage {
  /** The file or config source the version came from. */
  readonly source: string;
  /** Why (an InvalidConfigError naming the documents and fields). */
  readonly error: Error;
}

/** Endpoints delivered by discovery for one service. */
export interface DiscoveryRefreshMessage {
  /** The source's name, e.g. `static`, `dns(10.0.0.10)`. */
  readonly source: string;
  /** The service (`fqdn:port`). */
  readonly service: string;
  /** How many endpoints the service has now. */
  readonly endpoints: number;
}

/** A discovery failure. */
export interface DiscoveryErrorMessage {
  /** The source's name. */
  readonly source: string;
  /** The service (`fqdn:port`), when the failure concerns one. */
  readonly service: string | undefined;
  /** The error. */
  readonly error: Error;
}

/** A retry or hedge refused by its budget (issue 11's policy events). */
export interface BudgetExhaustedMessage {
  /** The service (`fqdn:port`). */
  readonly service: string;
  /** `retry` (the DestinationRule's retry budget) or `hedge` (the hedging `maxExtraPercent`). */
  readonly kind: 'retry' | 'hedge';
}

/** The channels, typed by message; see {@link CHANNEL_NAMES} for what each reports. */
export const channels = {
  /** The `callStart` channel; see {@link CHANNEL_NAMES}. */
  callStart: channel(CHANNEL_NAMES.callStart) as TypedChannel<CallMessage>,
  /** The `callEnd` channel; see {@link CHANNEL_NAMES}. */
  callEnd: channel(CHANNEL_NAMES.callEnd) as TypedChannel<CallMessage>,
  /** The `attemptStart` channel; see {@link CHANNEL_NAMES}. */
  attemptStart: channel(CHANNEL_NAMES.attemptStart) as TypedChannel<AttemptMessage>,
  /** The `attemptEnd` channel; see {@link CHANNEL_NAMES}. */
  attemptEnd: channel(CHANNEL_NAMES.attemptEnd) as TypedChannel<AttemptMessage>,
  /** The `retry` channel; see {@link CHANNEL_NAMES}. */
  retry: channel(CHANNEL_NAMES.retry) as TypedChannel<RetryMessage>,
  /** The `hedge` channel; see {@link CHANNEL_NAMES}. */
  hedge: channel(CHANNEL_NAMES.hedge) as TypedChannel<HedgeMessage>,
  /** The `ejection` channel; see {@link CHANNEL_NAMES}. */
  ejection: channel(CHANNEL_NAMES.ejection) as TypedChannel<EjectionMessage>,
  /** The `health` channel; see {@link CHANNEL_NAMES}. */
  health: channel(CHANNEL_NAMES.health) as TypedChannel<HealthMessage>,
  /** The `breaker` channel; see {@link CHANNEL_NAMES}. */
  breaker: channel(CHANNEL_NAMES.breaker) as TypedChannel<BreakerMessage>,
  /** The `configApplied` channel; see {@link CHANNEL_NAMES}. */
  configApplied: channel(CHANNEL_NAMES.configApplied) as TypedChannel<ConfigAppliedMessage>,
  /** The `configRejected` channel; see {@link CHANNEL_NAMES}. */
  configRejected: channel(CHANNEL_NAMES.configRejected) as TypedChannel<ConfigRejectedMessage>,
  /** The `discoveryRefresh` channel; see {@link CHANNEL_NAMES}. */
  discoveryRefresh: channel(CHANNEL_NAMES.discoveryRefresh) as TypedChannel<DiscoveryRefreshMessage>,
  /** The `discoveryError` channel; see {@link CHANNEL_NAMES}. */
  discoveryError: channel(CHANNEL_NAMES.discoveryError) as TypedChannel<DiscoveryErrorMessage>,
  // Policy events (issue 11).
  /** The `budgetExhausted` channel; see {@link CHANNEL_NAMES}. */
  budgetExhausted: channel(CHANNEL_NAMES.budgetExhausted) as TypedChannel<BudgetExhaustedMessage>,
} as const;
