/**
 * Istio's `HTTPRetry` (a VirtualService route's `retries`) compiled into the retry
 * layer's {@link RetryPolicy}, as Istio hands it to Envoy.
 *
 * @module
 */
import {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_RETRY_ON,
  DEFAULT_RETRY_POLICY,
  NO_RETRIES,
  RETRY_CONDITIONS,
  SAFE_ONLY,
  type RetryCondition,
  type RetryPolicy,
} from '../../policy/retry/settings.js';
import { durationToMs } from '../istio/common.js';

/** Istio `HTTPRetry` as validated config gives it. */
export interface IstioRetry {
  attempts?: number | undefined;
  perTryTimeout?: string | undefined;
  retryOn?: string | undefined;
  retryRemoteLocalities?: boolean | undefined;
  retryIgnorePreviousHosts?: boolean | undefined;
  /** The base interval of the retry back-off (Envoy's maximum is 10 times it). */
  backoff?: string | undefined;
}

/** What the route around a `retries` block says. */
export interface RetryRouteContext {
  /** The route has one destination (Istio looks at its consistent hashing only then). */
  readonly singleDestination?: boolean;
  /** The route opted in to replaying non-idempotent requests. */
  readonly replayNonIdempotent?: boolean;
}

function parseRetryOn(list: string): { on: Set<RetryCondition>; statusCodes: Set<number> } {
  const on = new Set<RetryCondition>();
  const statusCodes = new Set<number>();
  for (const raw of list.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    // An integer item is a status code (Istio's parseRetryOn: http.StatusText decides).
    if (/^\d{3}$/.test(item)) {
      statusCodes.add(Number(item));
      on.add('retriable-status-codes');
    } else if (RETRY_CONDITIONS.has(item)) {
      on.add(item as RetryCondition);
    }
  }
  return { on, statusCodes };
}

/**
 * Compiles Istio's `retries` as Istio hands it to Envoy (retry.go: ConvertPolicy):
 * unset, {@link DEFAULT_RETRY_POLICY}; `attempts` 0 or unset, no retries; otherwise
 * `attempts` retries with the default for every field not written (`retryOn` replaces
 * the default list: `retryOn: "503"` retries only a 503).
 */
export function retryPolicy(spec: IstioRetry | undefined, route: RetryRouteContext = {}): RetryPolicy {
  const keepHostWhenHashed = route.singleDestination !== false;
  const replayNonIdempotent = route.replayNonIdempotent === true;
  const optIn = replayNonIdempotent ? '; non-idempotent requests are replayed too (proxyless.dev/retry-non-idempotent)' : `; ${SAFE_ONLY}`;
  if (!spec) {
    if (keepHostWhenHashed && !replayNonIdempotent) return DEFAULT_RETRY_POLICY;
    return Object.freeze({ ...DEFAULT_RETRY_POLICY, keepHostWhenHashed, replayNonIdempotent, source: `Istio's default: 2 retries on ${DEFAULT_RETRY_ON} (no status code is retriable)${optIn}` });
  }
  if (spec.attempts === undefined || spec.attempts <= 0) return NO_RETRIES;
  const { on, statusCodes } = parseRetryOn(spec.retryOn ?? DEFAULT_RETRY_ON);
  return Object.freeze({
    retries: spec.attempts,
    perTryTimeoutMs: spec.perTryTimeout ? durationToMs(spec.perTryTimeout) : undefined,
    on,
    statusCodes,
    otherEndpoint: spec.retryIgnorePreviousHosts !== false,
    keepHostWhenHashed: keepHostWhenHashed && spec.retryIgnorePreviousHosts === undefined,
    backoffBaseMs: spec.backoff !== undefined ? Math.max(1, durationToMs(spec.backoff)) : DEFAULT_BACKOFF_BASE_MS,
    remoteLocalities: spec.retryRemoteLocalities === true,
    replayNonIdempotent,
    source:
      `${spec.attempts} retries on ${spec.retryOn ?? `${DEFAULT_RETRY_ON} (Istio's default)`}` +
      `${spec.perTryTimeout ? `, perTryTimeout ${spec.perTryTimeout}` : ''}${spec.backoff ? `, backoff ${spec.backoff}` : ''}${optIn}`,
  });
}
