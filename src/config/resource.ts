import * as z from 'zod';

/** The Istio API versions of networking resources we read (all three carry the same fields). */
export const NETWORKING_API_VERSIONS = [
  'networking.istio.io/v1',
  'networking.istio.io/v1beta1',
  'networking.istio.io/v1alpha3',
] as const;

/** The Istio API versions of security resources (both carry the same fields). */
export const SECURITY_API_VERSIONS = ['security.istio.io/v1', 'security.istio.io/v1beta1'] as const;

const stringMap = (what: string) => z.record(z.string(), z.string({ error: `${what} (a string: quote values such as "true" or "1.0")` }));

/**
 * Kubernetes object metadata: `name` (a DNS-1123 subdomain) and `namespace` matter to
 * the mesh; `labels` and `annotations` are maps of strings; the rest (uid, generation,
 * managedFields, ...) is accepted and not used.
 */
export const metadataSchema = z.looseObject({
  name: z
    .string({ error: 'a resource name' })
    .max(253, { error: 'a resource name of at most 253 characters' })
    .regex(/^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/, { error: 'a lower-case DNS-1123 name such as "reviews-rule"' }),
  namespace: z
    .string()
    .max(63, { error: 'a namespace name of at most 63 characters' })
    .regex(/^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/, { error: 'a namespace name (a lower-case DNS-1123 label)' })
    .optional(),
  labels: stringMap('a label value').optional(),
  annotations: stringMap('an annotation value').optional(),
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
