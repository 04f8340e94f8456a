import * as z from 'zod';
import { metadataSchema, NETWORKING_API_VERSIONS } from '../resource.js';
import { hostSchema, labelsSchema, workloadSelectorSchema } from './common.js';
import { supported } from './field-support.js';
import { trafficPolicySchema } from './traffic-policy.js';

export { clientTlsSchema, connectionPoolSchema, loadBalancerSchema, outlierDetectionSchema, trafficPolicySchema } from './traffic-policy.js';

/** Istio `Subset`: a named group of endpoints by labels, with an optional policy override. */
export const subsetSchema = z.strictObject({
  name: z.string({ error: 'a subset name such as "v1"' }),
  labels: labelsSchema.optional(),
  trafficPolicy: trafficPolicySchema.optional(),
});

/**
 * An Istio DestinationRule (istio/api networking/v1alpha3/destination_rule.proto), every
 * field of it. Rules across fields are in destination-rule-rules.ts.
 */
export const destinationRuleSpecSchema = z.strictObject({
  host: supported(hostSchema, 'a short host resolves in the rule\'s namespace'),
  trafficPolicy: trafficPolicySchema.optional(),
  subsets: supported(z.array(subsetSchema).optional(), 'a subset selects the endpoints carrying all its labels; its trafficPolicy overrides the rule\'s'),
  exportTo: supported(z.array(z.string({ error: 'a namespace name, "." or "*"' })).optional(), "Istio's lookup: the mesh's namespace, the service's, then the root namespace; see [how config applies](traffic-management.md#how-istio-config-applies-to-this-mesh)"),
  workloadSelector: supported(workloadSelectorSchema.optional(), "the rule applies when it selects the mesh's `labels` (in its own namespace), before a rule without selector"),
});

/** A DestinationRule as the mesh reads it. */
export const destinationRuleSchema = z.strictObject({
  apiVersion: z.enum(NETWORKING_API_VERSIONS),
  kind: z.literal('DestinationRule'),
  metadata: metadataSchema,
  spec: destinationRuleSpecSchema,
});
