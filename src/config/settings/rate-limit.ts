import type { IncomingMessage } from 'node:http';
import * as z from 'zod';
import { InvalidOptionError } from '../../core/errors/index.js';
import { formatIssues } from '../../core/validate.js';
import { durationToMs, parseDuration, formatDuration, MAX_TIMER_MS } from '../../core/duration.js';

/**
 * A token bucket, as Envoy's local rate limit: it starts full with `maxTokens`; every
 * `fillInterval` adds `tokensPerFill` (never above `maxTokens`); each request takes one.
 */
export interface TokenBucketOptions {
  /** Capacity, and the tokens it starts with: 1 to 10^9. */
  maxTokens: number;
  /** Tokens added at each fill: 1 to 10^9. Default 1 (Envoy's). */
  tokensPerFill?: number;
  /** How often it fills: milliseconds, or a duration such as `"1s"`; at least 50 ms (Envoy's minimum). */
  fillInterval: number | string;
}

/** Which request paths a descriptor covers (the path before `?`). */
export type PathMatch =
  | {
      /** The whole path. */
      exact: string;
    }
  | {
      /** A leading part of the path. */
      prefix: string;
    };

/**
 * A descriptor: which requests it covers (`path`, `methods`: every condition must hold)
 * and how they are told apart (`header`, `peer` or `key`: one bucket per distinct value;
 * none of them: one bucket for all). A request the descriptor does not cover, or with
 * no value for its key, is left to the next descriptor.
 */
export interface RateLimitDescriptorOptions {
  /** A name for messages and the access log. Default `descriptors[i]`. */
  name?: string;
  /** The request path (before `?`) must be this one (`exact`) or start with it (`prefix`). */
  path?: PathMatch;
  /** The request method must be one of these (upper case). */
  methods?: readonly string[];
  /** One bucket per value of this request header (lower case), e.g. `x-user`. */
  header?: string;
  /** One bucket per caller identity (the mTLS peer's principal; callers without one are not covered). */
  peer?: boolean;
  /** One bucket per value this function returns (undefined: not covered). Code only; it must not throw. */
  key?: (req: IncomingMessage) => string | undefined;
  /** The bucket (each distinct value gets its own copy). */
  tokenBucket: TokenBucketOptions;
  /** Distinct values kept at most (least recently used dropped first): 1 to 10^6. Default 10,000. */
  maxKeys?: number;
}

/** Local rate limiting, as Envoy's local rate limit filter. */
export interface RateLimitOptions {
  /** The workload's bucket: every request takes a token from it. */
  tokenBucket?: TokenBucketOptions;
  /** Finer buckets, first match wins (per route, per header value, per caller). */
  descriptors?: readonly RateLimitDescriptorOptions[];
  /**
   * With descriptors: also take a token from `tokenBucket` when a descriptor matched.
   * Default true (Envoy's `always_consume_default_token_bucket`).
   */
  alwaysConsumeDefaultTokenBucket?: boolean;
  /** Send `x-ratelimit-limit`, `-remaining`, `-reset` on every response, not only on refusals. Default false. */
  responseHeaders?: boolean;
  /** The status of a refusal: 400 to 599. Default 429. */
  status?: number;
}

/** A bucket with its interval in ms. */
export interface TokenBucketSettings {
  /** Capacity and initial tokens. */
  readonly maxTokens: number;
  /** Tokens added per fill. */
  readonly tokensPerFill: number;
  /** Fill interval in ms. */
  readonly fillIntervalMs: number;
}

/** A descriptor, validated. */
export interface DescriptorSettings {
  /** Its name (default `descriptors[i]`). */
  readonly name: string;
  /** The path it covers exactly, if set. */
  readonly exact: string | undefined;
  /** The path prefix it covers, if set. */
  readonly prefix: string | undefined;
  /** The methods it covers; undefined: all. */
  readonly methods: ReadonlySet<string> | undefined;
  /** The header whose values get a bucket each. */
  readonly header: string | undefined;
  /** True: one bucket per caller identity. */
  readonly peer: boolean;
  /** The function whose values get a bucket each. */
  readonly key: ((req: IncomingMessage) => string | undefined) | undefined;
  /** The bucket (per value for keyed descriptors). */
  readonly bucket: TokenBucketSettings;
  /** Distinct values kept at most. */
  readonly maxKeys: number;
}

/** Rate limiting, validated, with defaults. */
export interface RateLimitSettings {
  /** The workload's bucket, if any. */
  readonly bucket: TokenBucketSettings | undefined;
  /** The descriptors, first match wins. */
  readonly descriptors: readonly DescriptorSettings[];
  /** Whether a request a descriptor matched also takes from the workload's bucket. */
  readonly alwaysConsumeDefault: boolean;
  /** Whether every response carries `x-ratelimit-*`. */
  readonly responseHeaders: boolean;
  /** The status of a refusal. */
  readonly status: number;
}

/** Envoy refuses a fill interval under 50 ms. */
export const MIN_FILL_INTERVAL_MS = 50;

const count = (what: string, max: number) =>
  z
    .number({ error: (issue) => (issue.code === 'invalid_type' ? `a whole number of ${what}` : undefined) })
    .int({ error: `a whole number of ${what}` })
    .min(1)
    .max(max);

const fillInterval = z.union([z.number(), z.string()], { error: 'milliseconds, or a duration such as "1s"' }).superRefine((value, ctx) => {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else {
    const parsed = parseDuration(value);
    if ('problem' in parsed) {
      ctx.addIssue({ code: 'custom', input: value, message: `milliseconds, or a duration such as "1s" (${parsed.problem})` });
      return;
    }
    ms = parsed.ms;
  }
  if (!Number.isFinite(ms) || ms < MIN_FILL_INTERVAL_MS || ms > MAX_TIMER_MS) {
    ctx.addIssue({
      code: 'custom',
      input: value,
      message: `a fill interval from ${MIN_FILL_INTERVAL_MS} ms (Envoy's minimum) to ${formatDuration(MAX_TIMER_MS)}`,
    });
  }
});

const tokenBucketSchema = z.strictObject({
  maxTokens: count('tokens', 1e9),
  tokensPerFill: count('tokens', 1e9).optional(),
  fillInterval,
});

const headerName = z.string().regex(/^[a-z0-9!#$%&'*+.^_`|~-]+$/, { error: 'a lower-case header name such as "x-user"' });

const descriptorSchema = z
  .strictObject({
    name: z.string().min(1).max(100).optional(),
    path: z.union([z.strictObject({ exact: z.string().startsWith('/') }), z.strictObject({ prefix: z.string().startsWith('/') })], {
      error: '{ exact: "/path" } or { prefix: "/path" }',
    }).optional(),
    methods: z.array(z.string().regex(/^[A-Z]+$/, { error: 'an upper-case method such as "GET"' })).min(1).max(32).optional(),
    header: headerName.optional(),
    peer: z.boolean().optional(),
    key: z.custom<(req: IncomingMessage) => string | undefined>((v) => typeof v === 'function', { error: 'a function (req) => string | undefined' }).optional(),
    tokenBucket: tokenBucketSchema,
    maxKeys: count('keys', 1e6).optional(),
  })
  .refine((d) => [d.header !== undefined, d.peer === true, d.key !== undefined].filter(Boolean).length <= 1, {
    error: 'at most one of header, peer, key',
  });

/** The schema of {@link RateLimitOptions}; the mesh YAML's `LocalRateLimit` spec uses it too. */
export const rateLimitSchema = z
  .strictObject({
    tokenBucket: tokenBucketSchema.optional(),
    descriptors: z.array(descriptorSchema).max(1000).optional(),
    alwaysConsumeDefaultTokenBucket: z.boolean().optional(),
    responseHeaders: z.boolean().optional(),
    status: z.number().int().min(400).max(599).optional(),
  })
  .refine((r) => r.tokenBucket !== undefined || (r.descriptors?.length ?? 0) > 0, {
    error: 'a tokenBucket, descriptors, or both (a rate limit with neither limits nothing)',
  });

function bucketSettings(bucket: z.infer<typeof tokenBucketSchema>): TokenBucketSettings {
  return {
    maxTokens: bucket.maxTokens,
    tokensPerFill: bucket.tokensPerFill ?? 1,
    fillIntervalMs: typeof bucket.fillInterval === 'number' ? bucket.fillInterval : durationToMs(bucket.fillInterval),
  };
}

/**
 * Validates rate-limit options (from code or from a `LocalRateLimit` resource's spec) and
 * returns them with defaults; every problem at once, as lines `field: value (expected: ...)`.
 */
export function checkRateLimit(options: unknown, root: string): { ok: true; settings: RateLimitSettings } | { ok: false; problems: string[] } {
  const result = rateLimitSchema.safeParse(options, { reportInput: true });
  if (!result.success) return { ok: false, problems: formatIssues(result.error.issues, root) };
  const r = result.data;
  return {
    ok: true,
    settings: {
      bucket: r.tokenBucket === undefined ? undefined : bucketSettings(r.tokenBucket),
      descriptors: (r.descriptors ?? []).map((d, i) => ({
        name: d.name ?? `descriptors[${i}]`,
        exact: d.path !== undefined && 'exact' in d.path ? d.path.exact : undefined,
        prefix: d.path !== undefined && 'prefix' in d.path ? d.path.prefix : undefined,
        methods: d.methods === undefined ? undefined : new Set(d.methods),
        header: d.header,
        peer: d.peer === true,
        key: d.key,
        bucket: bucketSettings(d.tokenBucket),
        maxKeys: d.maxKeys ?? 10_000,
      })),
      alwaysConsumeDefault: r.alwaysConsumeDefaultTokenBucket ?? true,
      responseHeaders: r.responseHeaders ?? false,
      status: r.status ?? 429,
    },
  };
}

/** {@link checkRateLimit} for code options: throws `InvalidOptionError`. */
export function rateLimitSettings(options: RateLimitOptions, where: string): RateLimitSettings {
  const checked = checkRateLimit(options, 'rateLimit');
  if (!checked.ok) throw new InvalidOptionError(where, checked.problems);
  return checked.settings;
}
