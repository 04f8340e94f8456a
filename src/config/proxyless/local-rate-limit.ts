import * as z from 'zod';
import { metadataSchema } from '../resource.js';
import { labelsSchema } from '../istio/common.js';
import { checkRateLimit, rateLimitSchema, type RateLimitSettings } from '../settings/rate-limit.js';

/** The API version of proxyless's own kinds. */
export const PROXYLESS_API_VERSION = 'proxyless.dev/v1alpha1';

/**
 * `LocalRateLimit` (`proxyless.dev/v1alpha1`): local rate limiting for the workloads it
 * selects, with the fields of the `rateLimit` option (Envoy's token buckets), in the
 * mesh YAML. `selector.matchLabels` selects workloads by their labels (the mesh's
 * `labels` option) in the resource's namespace, as Istio's security resources do; no
 * selector: every workload of the namespace.
 */
export const localRateLimitSchema = z.strictObject({
  apiVersion: z.literal(PROXYLESS_API_VERSION),
  kind: z.literal('LocalRateLimit'),
  metadata: metadataSchema,
  spec: z
    .looseObject({ selector: z.strictObject({ matchLabels: labelsSchema }).optional() })
    .superRefine((spec, ctx) => {
      const { selector: _selector, ...rest } = spec;
      const result = rateLimitSchema.safeParse(rest, { reportInput: true });
      // The rate limit's own issues, at their own paths under spec.
      if (!result.success) for (const issue of result.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
    }),
});

/** A validated `LocalRateLimit`. */
export type LocalRateLimitResource = z.infer<typeof localRateLimitSchema>;

/** Its settings (validated with the resource). */
export function localRateLimitSettings(resource: LocalRateLimitResource): RateLimitSettings {
  const { selector: _selector, ...rest } = resource.spec;
  const checked = checkRateLimit(rest, '');
  if (!checked.ok) throw new TypeError(`LocalRateLimit/${resource.metadata.name} was not validated: ${checked.problems.join('; ')}`);
  return checked.settings;
}
