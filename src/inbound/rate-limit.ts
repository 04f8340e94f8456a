import type { IncomingMessage } from 'node:http';
import type { DescriptorSettings, RateLimitSettings, TokenBucketSettings } from '../config/settings/rate-limit.js';

/**
 * One token bucket with Envoy's local rate limit semantics: full at the start; at each
 * whole `fillInterval` since the last fill, `tokensPerFill` more, capped at `maxTokens`.
 * Filled lazily when asked (no timer); `now` is a monotonic clock in ms.
 */
export class TokenBucket {
  /** Its size, fill and interval. */
  readonly settings: TokenBucketSettings;
  #tokens: number;
  #lastFill: number;

  /** @param settings the bucket; @param now the monotonic clock's reading (ms) */
  constructor(settings: TokenBucketSettings, now: number) {
    this.settings = settings;
    this.#tokens = settings.maxTokens;
    this.#lastFill = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.#fill(now);
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  /** Tokens left now. */
  remaining(now: number): number {
    this.#fill(now);
    return this.#tokens;
  }

  /** Whole seconds until the next fill (at least 1 while it is not full; 0 when full). */
  resetSeconds(now: number): number {
    this.#fill(now);
    if (this.#tokens >= this.settings.maxTokens) return 0;
    return Math.max(1, Math.ceil((this.#lastFill + this.settings.fillIntervalMs - now) / 1000));
  }

  #fill(now: number): void {
    const { fillIntervalMs, tokensPerFill, maxTokens } = this.settings;
    const elapsed = now - this.#lastFill;
    if (elapsed < fillIntervalMs) return;
    const fills = Math.floor(elapsed / fillIntervalMs);
    this.#tokens = Math.min(maxTokens, this.#tokens + fills * tokensPerFill);
    this.#lastFill += fills * fillIntervalMs;
  }
}

/** Longest key kept per distinct value (a header can be 16 KB): longer values share their first characters. */
const MAX_KEY_LENGTH = 256;

/** The outcome of {@link LocalRateLimiter.decide}. */
export interface RateLimitDecision {
  /** True when the request may go on. */
  readonly allowed: boolean;
  /** The bucket to report in `x-ratelimit-*` (the one that refused, else the emptiest). */
  readonly bucket: TokenBucket | undefined;
  /** The descriptor that matched, if any. */
  readonly descriptor: string | undefined;
}

const ALLOWED_NOTHING: RateLimitDecision = { allowed: true, bucket: undefined, descriptor: undefined };

/** A descriptor with its buckets. */
class DescriptorState {
  readonly settings: DescriptorSettings;
  /** The single bucket of a descriptor without a key. */
  readonly single: TokenBucket | undefined;
  /** One bucket per distinct value, in least-recently-used order (the oldest first). */
  readonly byKey = new Map<string, TokenBucket>();

  constructor(settings: DescriptorSettings, now: number) {
    this.settings = settings;
    const keyed = settings.header !== undefined || settings.peer || settings.key !== undefined;
    this.single = keyed ? undefined : new TokenBucket(settings.bucket, now);
  }

  /** Whether it covers the request (method and path). */
  covers(method: string | undefined, path: string): boolean {
    const s = this.settings;
    if (s.methods !== undefined && (method === undefined || !s.methods.has(method))) return false;
    if (s.exact !== undefined && path !== s.exact) return false;
    if (s.prefix !== undefined && !path.startsWith(s.prefix)) return false;
    return true;
  }

  /** The bucket for the request, or undefined when its key has no value. */
  bucketFor(req: IncomingMessage, peer: string | undefined, now: number): TokenBucket | undefined {
    if (this.single !== undefined) return this.single;
    const s = this.settings;
    let key: string | undefined;
    if (s.header !== undefined) {
      const value = req.headers[s.header];
      key = Array.isArray(value) ? value.join(',') : value;
    } else if (s.peer) key = peer;
    else key = s.key!(req);
    if (key === undefined) return undefined;
    if (typeof key !== 'string') key = String(key);
    if (key.length > MAX_KEY_LENGTH) key = key.slice(0, MAX_KEY_LENGTH);
    let bucket = this.byKey.get(key);
    if (bucket === undefined) {
      if (this.byKey.size >= s.maxKeys) this.byKey.delete(this.byKey.keys().next().value!);
      bucket = new TokenBucket(s.bucket, now);
    } else {
      this.byKey.delete(key); // re-inserted below: most recently used last
    }
    this.byKey.set(key, bucket);
    return bucket;
  }
}

/**
 * Local rate limiting, as Envoy's local rate limit filter: the first descriptor that covers
 * a request (and has a value for its key) takes a token from its bucket; the workload's
 * bucket takes one too unless `alwaysConsumeDefaultTokenBucket` is false and a descriptor
 * matched. The request is refused when a bucket it needed was empty.
 */
export class LocalRateLimiter {
  /** The validated settings it enforces. */
  readonly settings: RateLimitSettings;
  readonly #workload: TokenBucket | undefined;
  readonly #descriptors: readonly DescriptorState[];

  /** @param settings validated settings; @param now the monotonic clock's reading (ms) */
  constructor(settings: RateLimitSettings, now: number) {
    this.settings = settings;
    this.#workload = settings.bucket === undefined ? undefined : new TokenBucket(settings.bucket, now);
    this.#descriptors = settings.descriptors.map((d) => new DescriptorState(d, now));
  }

  /**
   * Decides for one request. `path` is the request target without its query; `peer` the
   * caller's principal, if known. A descriptor's `key` function that throws throws here.
   */
  decide(req: IncomingMessage, path: string, peer: string | undefined, now: number): RateLimitDecision {
    let matched: DescriptorState | undefined;
    let bucket: TokenBucket | undefined;
    for (const d of this.#descriptors) {
      if (!d.covers(req.method, path)) continue;
      bucket = d.bucketFor(req, peer, now);
      if (bucket !== undefined) {
        matched = d;
        break;
      }
    }
    const workload = this.#workload;
    const useWorkload = workload !== undefined && (matched === undefined || this.settings.alwaysConsumeDefault);
    if (matched === undefined && !useWorkload) return ALLOWED_NOTHING;
    // Envoy checks the descriptor's bucket first; a refused request takes nothing from the other.
    if (bucket !== undefined && !bucket.take(now)) return { allowed: false, bucket, descriptor: matched!.settings.name };
    if (useWorkload && !workload.take(now)) return { allowed: false, bucket: workload, descriptor: matched?.settings.name };
    const report = bucket === undefined ? workload : !useWorkload ? bucket : workload.remaining(now) < bucket.remaining(now) ? workload : bucket;
    return { allowed: true, bucket: report, descriptor: matched?.settings.name };
  }

  /** Distinct keys held, per descriptor (for tests and diagnostics). */
  keyCounts(): number[] {
    return this.#descriptors.map((d) => d.byKey.size);
  }
}
