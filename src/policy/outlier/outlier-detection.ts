import { InvalidOptionError } from '../../core/errors/index.js';
import { formatValue } from '../../core/validate.js';
import { DEFAULT_OUTLIER_SETTINGS, type OutlierSettings } from './settings.js';

/** The flag {@link OutlierDetector} sets on the hosts it tracks. */
export interface OutlierHost {
  /** True while outlier detection has ejected the host. Written by the detector only. */
  ejected: boolean;
}

/**
 * What one request said about its host:
 *
 * - `success`: a response that is not 5xx (or a protocol upgrade).
 * - `http-5xx`: a 5xx response other than a gateway error (500, 501, 505, ...).
 * - `gateway-error`: 502, 503 or 504; it is a 5xx too.
 * - `local-origin-failure`: no response because of the connection: connect failure or
 *   timeout, reset, response timeout. Counted as a gateway error (and so as a 5xx) unless
 *   {@link OutlierSettings.splitExternalLocalOriginErrors}.
 */
export type OutlierResult = 'success' | 'http-5xx' | 'gateway-error' | 'local-origin-failure';

/** The {@link OutlierResult} of a final response status: 502–504 gateway, other 5xx, else success. */
export function outlierResultOfStatus(statusCode: number): OutlierResult {
  if (statusCode >= 500 && statusCode <= 599) {
    return statusCode >= 502 && statusCode <= 504 ? 'gateway-error' : 'http-5xx';
  }
  return 'success';
}

/**
 * Why outlier detection ejected a host, as Envoy names it (the `type` of its outlier
 * detection event log, `envoy.data.cluster.v3.OutlierEjectionType`): `CONSECUTIVE_5XX`
 * (`consecutive5xxErrors` reached), `CONSECUTIVE_GATEWAY_FAILURE`
 * (`consecutiveGatewayErrors`), `CONSECUTIVE_LOCAL_ORIGIN_FAILURE`
 * (`consecutiveLocalOriginFailures`, with `splitExternalLocalOriginErrors`).
 */
export type OutlierEjectionType = 'CONSECUTIVE_5XX' | 'CONSECUTIVE_GATEWAY_FAILURE' | 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE';

/** What {@link OutlierDetector.inspect} tells about one host (for tests, stats, the admin page). */
export interface OutlierHostStats {
  /** Ejected now. */
  readonly ejected: boolean;
  /** Ejections since the host was added. */
  readonly timesEjected: number;
  /**
   * Multiplier of the base ejection time for the current or next ejection: raised by
   * each ejection, lowered by one for each interval the host stays in service.
   */
  readonly multiplier: number;
  /** When the current or last ejection started (ms), or `undefined` if never ejected. */
  readonly ejectedAt: number | undefined;
  /** Current consecutive 5xx count. */
  readonly consecutive5xx: number;
  /** Current consecutive gateway error count. */
  readonly consecutiveGatewayErrors: number;
  /** Current consecutive local-origin failure count (split mode only). */
  readonly consecutiveLocalOriginFailures: number;
  /** Which count made the current or last ejection, or `undefined` if never ejected. */
  readonly ejectionReason: 'consecutive5xx' | 'consecutiveGatewayErrors' | 'consecutiveLocalOriginFailures' | undefined;
  /** The same reason as Envoy names it (the diagnostics channel's and `endpointEjected`'s `reason`), or `undefined` if never ejected. */
  readonly ejectionType: OutlierEjectionType | undefined;
  /** How long the current or last ejection lasts (ms): `min(base × multiplier, max)`; 0 if never ejected. */
  readonly ejectionTimeMs: number;
}

/** Per-host counters. Plain number fields so that `record` touches one small object. */
class HostRecord {
  ejected = false;
  consecutive5xx = 0;
  consecutiveGateway = 0;
  consecutiveLocal = 0;
  /** Envoy's ejection time backoff: the base ejection time multiplier. */
  multiplier = 0;
  timesEjected = 0;
  ejectedAt = Number.NaN;
  /** -Infinity until the first return to service (the multiplier is 0 until then anyway). */
  restoredAt = Number.NEGATIVE_INFINITY;
  /** The count that made the last ejection (for the admin page). */
  reason: Counter | undefined = undefined;
}

/** The name of one consecutive count of a host record. */
type Counter = 'consecutive5xx' | 'consecutiveGateway' | 'consecutiveLocal';

/** A count's name as {@link OutlierHostStats.ejectionReason} reports it (Istio's field names). */
const REASONS = { consecutive5xx: 'consecutive5xx', consecutiveGateway: 'consecutiveGatewayErrors', consecutiveLocal: 'consecutiveLocalOriginFailures' } as const;
/** A count's name as Envoy's outlier event log writes the ejection's type. */
const ENVOY_TYPES = { consecutive5xx: 'CONSECUTIVE_5XX', consecutiveGateway: 'CONSECUTIVE_GATEWAY_FAILURE', consecutiveLocal: 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE' } as const;

/**
 * Envoy's consecutive-error outlier detection for the hosts of one service, without
 * timers: the caller reports each request's result with {@link OutlierDetector.record}
 * and calls {@link OutlierDetector.sweep} every {@link OutlierSettings.intervalMs};
 * every method takes the time (`now`, monotonic ms, e.g. `performance.now()`) so the
 * decisions are deterministic.
 *
 * The detector writes `host.ejected` itself and returns what it changed; the caller
 * then refreshes what balancers see (`available`), ignoring ejections while
 * {@link OutlierDetector.panic} is true.
 *
 * Rules (Envoy's `outlier_detection_impl.cc` and its architecture overview; Istio's
 * `DestinationRule` reference for the fields):
 *
 * - Counting: a 5xx raises the 5xx count; a gateway error (502/503/504) raises the
 *   gateway count and the 5xx count; any other 5xx sets the gateway count to 0; a
 *   success sets every count to 0. A local-origin failure counts as a gateway error,
 *   unless split: then it raises only the local-origin count, and a response (whatever
 *   its status) sets the local-origin count to 0.
 * - A count reaching its threshold ejects the host at once if the max-ejection rule
 *   allows; that count starts again from 0 whether or not the host was ejected.
 * - Max-ejection rule (Envoy since 1.31): eject only if
 *   `100 × (ejected + 1) / hosts ≤ maxEjectionPercent`, or when nothing is ejected and
 *   `alwaysEjectOneHost` is set. With the defaults, fewer than 10 hosts eject nothing,
 *   exactly as Istio with Envoy today.
 * - An ejection raises the host's multiplier (while `multiplier × base < max + base`);
 *   the host stays out `min(base × multiplier, max)` and returns at the first sweep
 *   after that. Its counts restart from 0.
 * - At each sweep, a host in service for at least one interval since its last return
 *   loses 1 from its multiplier, so a host that stays healthy is ejected for shorter
 *   times again.
 *
 * Not done (Istio turns them off, or has no field for them): success-rate and
 * failure-percentage ejection, enforcement percentages other than 0/100, ejection
 * jitter, active health checks.
 *
 * Cost: {@link OutlierDetector.record} is O(1) and allocates nothing;
 * {@link OutlierDetector.sweep} is O(hosts).
 *
 * @typeParam H the host type; the detector keys its state by host identity.
 */
export class OutlierDetector<H extends OutlierHost> {
  /** The settings in force, validated. */
  readonly settings: OutlierSettings;
  readonly #hosts = new Map<H, HostRecord>();
  #ejectedCount = 0;

  /**
   * @param settings from {@link outlierSettings}, or any subset of
   *   {@link OutlierSettings} (the rest from {@link DEFAULT_OUTLIER_SETTINGS}).
   * @throws InvalidOptionError naming every invalid field.
   */
  constructor(settings: Partial<OutlierSettings> = {}) {
    if (settings === null || typeof settings !== 'object') {
      throw new InvalidOptionError('OutlierDetector', [`settings: ${formatValue(settings)} (expected: an object)`]);
    }
    const merged: OutlierSettings = { ...DEFAULT_OUTLIER_SETTINGS };
    for (const key of Object.keys(settings) as (keyof OutlierSettings)[]) {
      if (settings[key] !== undefined) (merged as unknown as Record<string, unknown>)[key] = settings[key];
    }
    const problems = checkSettings(merged, Object.keys(settings));
    if (problems.length > 0) throw new InvalidOptionError('OutlierDetector', problems);
    this.settings = Object.freeze(merged);
  }

  /** Hosts tracked. */
  get size(): number {
    return this.#hosts.size;
  }

  /** Hosts ejected now. */
  get ejectedCount(): number {
    return this.#ejectedCount;
  }

  /**
   * True while the share of hosts not ejected is below
   * {@link OutlierSettings.minHealthPercent}: the caller must then ignore ejections and
   * balance across every host, as Envoy's panic mode does. Never true with
   * `minHealthPercent` 0 (Istio's default) or with no hosts.
   */
  get panic(): boolean {
    const hosts = this.#hosts.size;
    const threshold = this.settings.minHealthPercent;
    return threshold > 0 && hosts > 0 && 100 * (hosts - this.#ejectedCount) < threshold * hosts;
  }

  /**
   * Starts tracking `host` (in service, counts at 0) and sets `host.ejected = false`.
   * @returns false if it was tracked already (nothing changes).
   */
  add(host: H): boolean {
    if (this.#hosts.has(host)) return false;
    this.#hosts.set(host, new HostRecord());
    host.ejected = false;
    return true;
  }

  /**
   * Stops tracking `host` (discovery removed it); later results for it are ignored. An
   * ejected host leaves the ejected count and gets `ejected = false`.
   * @returns true if the host was ejected (the caller should refresh availability).
   */
  remove(host: H): boolean {
    const record = this.#hosts.get(host);
    if (record === undefined) return false;
    this.#hosts.delete(host);
    if (!record.ejected) return false;
    this.#ejectedCount--;
    host.ejected = false;
    return true;
  }

  /**
   * Counts one request's result for `host` and ejects it when a threshold is reached
   * and the max-ejection rule allows. Results for hosts not added are ignored. O(1).
   *
   * @param now the time of the result, in ms on the clock given to {@link OutlierDetector.sweep}.
   * @returns true if this result ejected the host (`host.ejected` is now true).
   */
  record(host: H, result: OutlierResult, now: number): boolean {
    const record = this.#hosts.get(host);
    if (record === undefined) return false;
    const s = this.settings;
    switch (result) {
      case 'success':
        record.consecutive5xx = 0;
        record.consecutiveGateway = 0;
        record.consecutiveLocal = 0;
        return false;
      case 'http-5xx':
        record.consecutiveLocal = 0;
        record.consecutiveGateway = 0;
        return this.#count5xx(host, record, now);
      case 'gateway-error':
        record.consecutiveLocal = 0;
        return this.#countGateway(host, record, now);
      case 'local-origin-failure':
        if (!s.splitExternalLocalOriginErrors) return this.#countGateway(host, record, now);
        if (++record.consecutiveLocal === s.consecutiveLocalOriginFailures) {
          return this.#onThreshold(host, record, 'consecutiveLocal', now);
        }
        return false;
    }
  }

  /**
   * Returns to service every ejected host whose ejection time has passed, and lowers the
   * multiplier of hosts in service for at least one interval. Call it every
   * {@link OutlierSettings.intervalMs}. O(hosts).
   *
   * @returns the hosts returned to service (`ejected` is now false), possibly empty.
   */
  sweep(now: number): H[] {
    const restored: H[] = [];
    const { baseEjectionTimeMs: base, maxEjectionTimeMs: max, intervalMs } = this.settings;
    for (const [host, record] of this.#hosts) {
      if (record.ejected) {
        if (Math.min(base * record.multiplier, max) <= now - record.ejectedAt) {
          record.ejected = false;
          record.consecutive5xx = 0;
          record.consecutiveGateway = 0;
          record.consecutiveLocal = 0;
          record.restoredAt = now;
          this.#ejectedCount--;
          host.ejected = false;
          restored.push(host);
        }
      } else if (record.multiplier > 0 && now - record.restoredAt >= intervalMs) {
        record.multiplier--;
      }
    }
    return restored;
  }

  /** The state of one host, or `undefined` if it is not tracked. */
  inspect(host: H): OutlierHostStats | undefined {
    const record = this.#hosts.get(host);
    if (record === undefined) return undefined;
    return {
      ejected: record.ejected,
      timesEjected: record.timesEjected,
      multiplier: record.multiplier,
      ejectedAt: record.timesEjected > 0 ? record.ejectedAt : undefined,
      consecutive5xx: record.consecutive5xx,
      consecutiveGatewayErrors: record.consecutiveGateway,
      consecutiveLocalOriginFailures: record.consecutiveLocal,
      ejectionReason: record.reason === undefined ? undefined : REASONS[record.reason],
      ejectionType: record.reason === undefined ? undefined : ENVOY_TYPES[record.reason],
      ejectionTimeMs: record.timesEjected > 0 ? Math.min(this.settings.baseEjectionTimeMs * record.multiplier, this.settings.maxEjectionTimeMs) : 0,
    };
  }

  /** A gateway error: raises the gateway count, then the 5xx count (as Envoy does). */
  #countGateway(host: H, record: HostRecord, now: number): boolean {
    let ejected = false;
    if (++record.consecutiveGateway === this.settings.consecutiveGatewayErrors) {
      ejected = this.#onThreshold(host, record, 'consecutiveGateway', now);
    }
    return this.#count5xx(host, record, now) || ejected;
  }

  #count5xx(host: H, record: HostRecord, now: number): boolean {
    if (++record.consecutive5xx === this.settings.consecutive5xxErrors) {
      return this.#onThreshold(host, record, 'consecutive5xx', now);
    }
    return false;
  }

  /**
   * A count reached its threshold. An ejected host is left alone (its counts restart
   * when it returns); otherwise try to eject, and restart that count either way.
   * Threshold 0 (off) never gets here: counts are at least 1 after `++`.
   */
  #onThreshold(host: H, record: HostRecord, counter: Counter, now: number): boolean {
    if (record.ejected) return false;
    const ejected = this.#eject(host, record, now, counter);
    record[counter] = 0;
    return ejected;
  }

  #eject(host: H, record: HostRecord, now: number, counter: Counter): boolean {
    const s = this.settings;
    const ejected = this.#ejectedCount;
    // 100 × (ejected + 1) / hosts ≤ maxEjectionPercent, without dividing.
    const allowed = 100 * (ejected + 1) <= s.maxEjectionPercent * this.#hosts.size || (s.alwaysEjectOneHost && ejected === 0);
    if (!allowed) return false;
    record.ejected = true;
    record.timesEjected++;
    record.ejectedAt = now;
    // Envoy stops raising the multiplier once base × multiplier reaches max + base, so
    // that the decay back to the base time is bounded.
    if (record.multiplier * s.baseEjectionTimeMs < s.maxEjectionTimeMs + s.baseEjectionTimeMs) record.multiplier++;
    this.#ejectedCount++;
    // The reason first: writing `host.ejected` may call the host's owner at once (an
    // accessor), which reads the reason to report the ejection.
    record.reason = counter;
    host.ejected = true;
    return true;
  }
}

/** Every problem of `s`, one line each; `given` lists the fields the caller passed. */
function checkSettings(s: OutlierSettings, given: readonly string[]): string[] {
  const problems: string[] = [];
  const known = new Set(Object.keys(DEFAULT_OUTLIER_SETTINGS));
  for (const key of given) {
    if (!known.has(key)) problems.push(`${key}: unknown field (expected one of: ${[...known].join(', ')})`);
  }
  const count = (key: 'consecutive5xxErrors' | 'consecutiveGatewayErrors' | 'consecutiveLocalOriginFailures') => {
    if (!Number.isSafeInteger(s[key]) || s[key] < 0) problems.push(`${key}: ${formatValue(s[key])} (expected: an integer >= 0; 0 turns it off)`);
  };
  count('consecutive5xxErrors');
  count('consecutiveGatewayErrors');
  count('consecutiveLocalOriginFailures');
  const positive = (key: 'intervalMs' | 'baseEjectionTimeMs' | 'maxEjectionTimeMs') => {
    if (typeof s[key] !== 'number' || !Number.isFinite(s[key]) || s[key] <= 0) {
      problems.push(`${key}: ${formatValue(s[key])} (expected: milliseconds > 0)`);
      return false;
    }
    return true;
  };
  positive('intervalMs');
  const baseOk = positive('baseEjectionTimeMs');
  const maxOk = positive('maxEjectionTimeMs');
  if (baseOk && maxOk && s.maxEjectionTimeMs < s.baseEjectionTimeMs) {
    problems.push(`maxEjectionTimeMs: ${s.maxEjectionTimeMs} (expected: >= baseEjectionTimeMs, ${s.baseEjectionTimeMs})`);
  }
  const percent = (key: 'maxEjectionPercent' | 'minHealthPercent') => {
    if (typeof s[key] !== 'number' || !(s[key] >= 0 && s[key] <= 100)) problems.push(`${key}: ${formatValue(s[key])} (expected: 0..100)`);
  };
  percent('maxEjectionPercent');
  percent('minHealthPercent');
  const flag = (key: 'splitExternalLocalOriginErrors' | 'alwaysEjectOneHost') => {
    if (typeof s[key] !== 'boolean') problems.push(`${key}: ${formatValue(s[key])} (expected: true or false)`);
  };
  flag('splitExternalLocalOriginErrors');
  flag('alwaysEjectOneHost');
  return problems;
}
