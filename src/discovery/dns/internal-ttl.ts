/**
 * The DNS source's timing decisions, as pure functions of their inputs (the random
 * number is a parameter, so tests pin it). Times are in ms unless a name says seconds.
 */

/** Refreshes start between 80 % and 90 % of the TTL: before expiry, spread over 10 %. */
const REFRESH_AT = 0.9;
const REFRESH_JITTER = 0.1;
/** Retries after a failed query: 1 s, doubling, capped at 30 s, each scaled by 0.5..1. */
const RETRY_BASE = 1000;
const RETRY_CAP = 30_000;

/** A record TTL in seconds as a cache lifetime in ms, clamped to `[minTtl, maxTtl]`. */
export function clampTtl(ttlSeconds: number, minTtl: number, maxTtl: number): number {
  const ms = Number.isFinite(ttlSeconds) && ttlSeconds > 0 ? ttlSeconds * 1000 : 0;
  return Math.min(maxTtl, Math.max(minTtl, ms));
}

/**
 * How long after an answer arrives its refresh starts: at a random point between 80 %
 * and 90 % of its (clamped) TTL, so the new answer is normally in before the old one
 * expires and many names with one TTL do not refresh in lockstep. `random` is in [0, 1).
 */
export function refreshDelay(ttl: number, random: number): number {
  return Math.max(1, Math.round(ttl * (REFRESH_AT - REFRESH_JITTER * random)));
}

/**
 * The lifetime of a negative answer (NXDOMAIN or no records of the type), per RFC 2308
 * §5: the smaller of the SOA record's own TTL and its MINIMUM field, in seconds, from
 * the authority section; clamped to `[minTtl, maxNegativeTtl]`. Without an SOA the
 * answer must not be cached (RFC 2308 §5), so it lives `minTtl`: it is asked again at
 * the next refresh.
 */
export function negativeTtl(
  soa: { readonly ttl: number; readonly minimum: number } | undefined,
  minTtl: number,
  maxNegativeTtl: number,
): number {
  if (soa === undefined) return minTtl;
  return clampTtl(Math.min(soa.ttl, soa.minimum), minTtl, maxNegativeTtl);
}

/**
 * Delay before retrying after the `failures`-th failed query in a row (1-based): 1 s,
 * 2 s, 4 s, ... capped at 30 s, each scaled by a random factor in [0.5, 1) so clients
 * that failed together do not retry together.
 */
export function retryDelay(failures: number, random: number): number {
  const base = Math.min(RETRY_CAP, RETRY_BASE * 2 ** Math.max(0, Math.min(failures - 1, 16)));
  return Math.max(1, Math.round(base * (0.5 + 0.5 * random)));
}

/** Whether an answer may be served at `now`: within its TTL, stale (past it, within `maxStale`), or expired. */
export type Freshness = 'fresh' | 'stale' | 'expired';

/**
 * An answer received with lifetime ending at `expiresAt` is `fresh` until then, `stale`
 * for `maxStale` more (served only while refreshes fail), then `expired` (dropped).
 */
export function freshness(now: number, expiresAt: number, maxStale: number): Freshness {
  if (now < expiresAt) return 'fresh';
  return now < expiresAt + maxStale ? 'stale' : 'expired';
}

/**
 * When the next query for a name whose refresh just failed runs: after
 * {@link retryDelay}, but no later than the moment its answer expires for good (so the
 * drop happens on time), and never in the past.
 */
export function nextRetryAt(now: number, failures: number, random: number, staleUntil: number | undefined): number {
  const at = now + retryDelay(failures, random);
  return staleUntil === undefined || staleUntil <= now ? at : Math.min(at, staleUntil);
}
