import * as z from 'zod';
import { durationField } from '../../core/duration.js';
import { re2Problem } from '../re2.js';
import { headerOperationsSchema, requestHeaderOperationsSchema } from './http-fields.js';
import { labelKeyProblem, labelValueProblem, wildcardDomainProblem } from './names.js';

/** A host as written (`reviews`, `*.example.com`); which forms a field takes is checked where it is used. */
export const hostSchema = z.string({ error: 'a host such as "reviews", "reviews.bookinfo.svc.cluster.local" or "*.example.com"' });

export { durationToMs, durationField, MAX_TIMER_MS } from '../../core/duration.js';

/**
 * A duration field as Istio checks it (`ValidateDuration` and the CRD's
 * `duration(self) >= duration('1ms')`): Go syntax, at least 1 ms, and a whole number of
 * milliseconds (`1500us` is refused, `1000us` is 1 ms). Options: `zero` also accepts
 * `0s` (tcp `idleTimeout`: disabled); `seconds` wants whole seconds (CORS `maxAge`);
 * `max` (ms) bounds fields that become a timer here (default: Node's timer limit).
 */
export function istioDuration(options: { zero?: boolean; seconds?: boolean; max?: number } = {}): z.ZodType<string> {
  return durationField({
    min: 1,
    minReason: `Istio's minimum${options.zero ? '; 0s turns it off' : ''}`,
    zero: options.zero,
    whole: options.seconds ? 's' : 'ms',
    max: options.max,
  });
}

/**
 * A duration of our own extensions (annotations), from 0 to Node's timer limit: every
 * duration the mesh runs becomes a timer. See {@link durationField}.
 */
export const durationSchema = durationField();

/** A duration Istio only parses (Go syntax, any length): `consistentHash.httpCookie.ttl`, `retryBudget.budgetInterval`. */
export const anyDurationSchema = durationField({ max: Infinity });

/** A protobuf `int32`. */
export const int32 = z.number({ error: 'an integer' }).int().min(-2147483648).max(2147483647);
/** A protobuf `uint32`. */
export const uint32 = z.number({ error: 'an integer >= 0' }).int().min(0).max(4294967295);
/** A protobuf `uint64` (as far as JavaScript numbers are exact). */
export const uint64 = z.number({ error: 'an integer >= 0' }).int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Istio `Percent` (`{ value }`), a double; the ranges each field takes are checked where it is used. */
export const percentSchema = z.strictObject({ value: z.number({ error: 'a percentage such as 10 or 0.5' }).optional() });

/** A percentage of fault injection (`validatePercentage`): 0, or from 0.0001 to 100. */
export const faultPercentSchema = z.strictObject({
  value: z
    .number({ error: 'a percentage such as 10 or 0.5' })
    .refine((v) => v === 0 || (v >= 0.0001 && v <= 100), { error: 'a percentage of 0 or from 0.0001 to 100' })
    .optional(),
});

/** A percentage from 0 to 100 (mirrors). */
export const plainPercentSchema = z.strictObject({
  value: z.number({ error: 'a percentage from 0 to 100' }).min(0, { error: 'a percentage from 0 to 100' }).max(100, { error: 'a percentage from 0 to 100' }).optional(),
});

/**
 * A regex of the config: RE2 syntax, at most 1024 characters (Istio's limit), a bounded
 * program (see src/config/re2.ts). The message says "RE2" and what RE2 objected to.
 */
export const regexSchema = z.string({ error: 'an RE2 regular expression (a string)' }).superRefine((pattern, ctx) => {
  const problem = pattern === '' ? 'a non-empty RE2 regular expression' : re2Problem(pattern);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', input: pattern, message: problem });
});

/**
 * Istio `StringMatch`: one of exact, prefix, regex (`{}` is valid where presence is
 * meant). `emptyPrefix`: whether `prefix: ""` is allowed (a URI prefix; Envoy refuses an
 * empty prefix for other matchers). `presenceRegex`: `regex: "*"` means presence
 * (`withoutHeaders`, where Istio turns it into a present match).
 */
export function stringMatch(options: { emptyPrefix?: boolean; presenceRegex?: boolean } = {}) {
  return z
    .strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: z.string({ error: 'an RE2 regular expression (a string)' }).optional() })
    .superRefine((m, ctx) => {
      const set = (['exact', 'prefix', 'regex'] as const).filter((k) => m[k] !== undefined);
      if (set.length > 1) ctx.addIssue({ code: 'custom', input: m, message: `one of exact, prefix, regex (this one sets ${set.join(' and ')})` });
      if (m.prefix === '' && !options.emptyPrefix) ctx.addIssue({ code: 'custom', path: ['prefix'], input: '', message: 'a non-empty prefix (Envoy refuses an empty prefix here; leave the matcher out to match anything)' });
      if (m.regex !== undefined && !(options.presenceRegex && m.regex === '*')) {
        const problem = m.regex === '' ? 'a non-empty RE2 regular expression' : re2Problem(m.regex);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['regex'], input: m.regex, message: problem });
      }
    });
}

/** A port number 1..65535 (Istio's `ValidatePort`). */
export const portNumberSchema = z.number({ error: 'a port number' }).int({ error: 'a port number from 1 to 65535' }).min(1, { error: 'a port number from 1 to 65535' }).max(65535, { error: 'a port number from 1 to 65535' });

/** Istio `PortSelector`: `{ number }`. */
export const portSelectorSchema = z.strictObject({ number: portNumberSchema });

/** A destination host: a host name with an optional leading wildcard, never `*` alone (`validateDestination`). */
export const destinationHostSchema = hostSchema.superRefine((host, ctx) => {
  const problem = host === '*' ? 'a destination host other than "*" (a route needs one service)' : wildcardDomainProblem(host);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', input: host, message: problem });
});

/** A subset name: a DNS-1123 label (`validateSubsetName`). */
export const subsetNameSchema = z.string({ error: 'a subset name such as "v1"' }).regex(/^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/, { error: 'a subset name such as "v1" (a DNS-1123 label: letters, digits and inner dashes)' }).max(63, { error: 'a subset name of at most 63 characters' });

/** Istio `Destination`: host, subset, port. */
export const destinationSchema = z.strictObject({
  host: destinationHostSchema,
  subset: subsetNameSchema.optional(),
  port: portSelectorSchema.optional(),
});

/** Istio `Headers`: request and response set/add/remove. */
export const headersSchema = z.strictObject({
  request: requestHeaderOperationsSchema.optional(),
  response: headerOperationsSchema.optional(),
});

/**
 * Kubernetes labels as Istio checks them (`labels.Instance.Validate`): keys with an
 * optional DNS prefix, values of letters, digits, `-`, `_` and `.` (or empty).
 */
export const labelsSchema = z.record(z.string(), z.string({ error: 'a label value (a string; quote values such as "1.0" or "yes")' })).superRefine((labels, ctx) => {
  for (const [key, value] of Object.entries(labels)) {
    const problem = labelKeyProblem(key);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [key], input: key, message: problem });
    else if (typeof value === 'string') {
      const bad = labelValueProblem(value);
      if (bad !== undefined) ctx.addIssue({ code: 'custom', path: [key], input: value, message: bad });
    }
  }
});

/** Label selectors of Istio's `WorkloadSelector` kinds: no `*` in keys or values, keys not empty, values at most 63 characters. */
export const selectorLabelsSchema = z
  .record(z.string(), z.string({ error: 'a label value (a string)' }).max(63, { error: 'a label value of at most 63 characters' }))
  .superRefine((labels, ctx) => {
    const keys = Object.keys(labels);
    if (keys.length > 4096) ctx.addIssue({ code: 'custom', input: `(${keys.length} labels)`, message: 'at most 4096 labels' });
    for (const [key, value] of Object.entries(labels)) {
      if (key === '') ctx.addIssue({ code: 'custom', path: [key], input: key, message: 'a non-empty label key' });
      else if (key.includes('*')) ctx.addIssue({ code: 'custom', path: [key], input: key, message: 'a label key without "*" (a selector has no wildcards)' });
      if (typeof value === 'string' && value.includes('*')) ctx.addIssue({ code: 'custom', path: [key], input: value, message: 'a label value without "*" (a selector has no wildcards)' });
    }
  });

/** `istio.type.v1beta1.WorkloadSelector` (DestinationRule and the security kinds): `{ matchLabels }`. */
export const workloadSelectorSchema = z.strictObject({ matchLabels: selectorLabelsSchema.optional() });
