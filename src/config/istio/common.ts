import * as z from 'zod';
import { durationField } from '../duration.js';
import { re2Problem } from '../re2.js';
import { headerOperationsSchema } from './http-fields.js';

/** A DNS-style name, optionally with a leading `*.` wildcard (Istio hosts). */
export const hostSchema = z
  .string({ error: 'a host such as "reviews", "reviews.bookinfo.svc.cluster.local" or "*.example.com"' })
  .regex(/^(\*|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$/i, {
    error: 'a host such as "reviews", "reviews.bookinfo.svc.cluster.local" or "*.example.com" (no port, no scheme)',
  });

/**
 * An Istio duration field (Go syntax, see {@link durationField}) from 0 to Node's timer
 * limit: every duration the mesh runs becomes a timer. Fields with other bounds call
 * {@link durationField} themselves.
 */
export const durationSchema = durationField();

export { durationToMs, durationField, MAX_TIMER_MS } from '../duration.js';

/** Istio `Percent`: `{ value: 0..100 }`. */
export const percentSchema = z.strictObject({
  value: z.number({ error: 'a percentage from 0 to 100' }).min(0).max(100),
});

/**
 * A regex of the config: RE2 syntax, at most 1024 characters (Istio's limit), a
 * bounded program (see src/config/re2.ts). The message says "RE2" and what RE2 objected to.
 */
export const regexSchema = z.string({ error: 'an RE2 regular expression (a string)' }).superRefine((pattern, ctx) => {
  const problem = re2Problem(pattern);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', input: pattern, message: problem });
});

/** Istio `StringMatch`: one of exact, prefix, regex; `{}` matches presence (headers). */
export const stringMatchSchema = z
  .strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: regexSchema.optional() })
  .refine((m) => [m.exact, m.prefix, m.regex].filter((x) => x !== undefined).length <= 1, {
    error: 'at most one of exact, prefix, regex',
  });

/** A port number 1..65535. */
export const portNumberSchema = z.number({ error: 'a port number' }).int().min(1).max(65535);

/** Istio `PortSelector`: `{ number }`. */
export const portSelectorSchema = z.strictObject({ number: portNumberSchema });

/** Istio `Destination`: host, subset, port. */
export const destinationSchema = z.strictObject({
  host: hostSchema,
  subset: z.string().min(1).optional(),
  port: portSelectorSchema.optional(),
});

/** Istio `Headers`: request and response set/add/remove. */
export const headersSchema = z.strictObject({
  request: headerOperationsSchema.optional(),
  response: headerOperationsSchema.optional(),
});

/** Label selectors: `{ version: 'v1' }`. */
export const labelsSchema = z.record(z.string(), z.string({ error: 'a label value (string)' }));
