import * as z from 'zod';

/** The Istio API versions of networking resources we read (all three carry the same fields). */
export const NETWORKING_API_VERSIONS = [
  'networking.istio.io/v1',
  'networking.istio.io/v1beta1',
  'networking.istio.io/v1alpha3',
] as const;

/** Kubernetes object metadata: only `name` and `namespace` matter to the mesh. */
export const metadataSchema = z.looseObject({
  name: z.string({ error: 'a resource name' }).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {
    error: 'a DNS-1123 name such as "reviews-rule"',
  }),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: 'a namespace name' }).optional(),
});

/** The metadata of an Istio resource. */
export type ResourceMetadata = z.infer<typeof metadataSchema>;

/** Any resource as written: the envelope is checked before the kind's own schema. */
export const envelopeSchema = z.looseObject({
  apiVersion: z.string({ error: 'an apiVersion such as "networking.istio.io/v1"' }),
  kind: z.string({ error: 'a kind such as "DestinationRule"' }),
  metadata: metadataSchema,
  spec: z.record(z.string(), z.unknown(), { error: 'an object' }),
});
