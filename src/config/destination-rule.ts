import * as z from 'zod';
import { metadataSchema, NETWORKING_API_VERSIONS } from './resource.js';
import type { DestinationRule } from './types.js';

/** Istio's `Duration` string, e.g. `10s`, `1.5s`, `100ms`, `1h`. */
const durationSchema = z.string().regex(/^\d+(\.\d+)?(h|m|s|ms|us|µs|ns)$/, { error: 'a duration such as "10s" or "100ms"' });

const consistentHashSchema = z
  .strictObject({
    httpHeaderName: z.string().min(1).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'a header name' }).optional(),
    httpCookie: z
      .strictObject({
        name: z.string().min(1),
        path: z.string().optional(),
        ttl: durationSchema.optional(),
      })
      .optional(),
    useSourceIp: z.boolean().optional(),
    httpQueryParameterName: z.string().min(1).optional(),
    ringHash: z.strictObject({ minimumRingSize: z.number().int().min(1).max(8_388_608).optional() }).optional(),
    /** Deprecated in Istio in favour of `ringHash.minimumRingSize`; still read. */
    minimumRingSize: z.number().int().min(1).max(8_388_608).optional(),
  })
  .refine(
    (h) =>
      [h.httpHeaderName, h.httpCookie, h.useSourceIp || undefined, h.httpQueryParameterName].filter((x) => x !== undefined)
        .length === 1,
    { error: 'exactly one of httpHeaderName, httpCookie, useSourceIp: true, httpQueryParameterName' },
  );

/** Istio `LoadBalancerSettings`: `simple` or `consistentHash`, not both. */
export const loadBalancerSchema = z
  .strictObject({
    simple: z.enum(['UNSPECIFIED', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN']).optional(),
    consistentHash: consistentHashSchema.optional(),
  })
  .refine((lb) => !(lb.simple && lb.consistentHash), { error: 'either simple or consistentHash, not both' });

const trafficPolicySchema = z.strictObject({
  loadBalancer: loadBalancerSchema.optional(),
});

/** The DestinationRule spec fields the mesh reads today. */
const destinationRuleSpecSchema = z.strictObject({
  host: z
    .string({ error: 'a service host such as "reviews" or "reviews.bookinfo.svc.cluster.local"' })
    .min(1)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i, {
      error: 'a service host such as "reviews" (wildcard hosts are not supported yet)',
    }),
  trafficPolicy: trafficPolicySchema.optional(),
});

/** A DestinationRule as the mesh reads it. */
export const destinationRuleSchema = z.strictObject({
  apiVersion: z.enum(NETWORKING_API_VERSIONS),
  kind: z.literal('DestinationRule'),
  metadata: metadataSchema,
  spec: destinationRuleSpecSchema,
});

// The schema's output must stay assignable to the public type.
type Parsed = z.infer<typeof destinationRuleSchema>;
const _sameShape: (p: Parsed) => DestinationRule = (p) => p;
void _sameShape;
