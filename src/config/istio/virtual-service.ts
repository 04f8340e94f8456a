import * as z from 'zod';
import { metadataSchema, NETWORKING_API_VERSIONS } from '../resource.js';
import { supported } from './field-support.js';
import { gatewayNamesSchema, httpRouteSchema, tcpRoutesField, tlsRoutesField } from './http-route.js';

export { httpMatchSchema, httpRouteSchema } from './http-route.js';

/**
 * An Istio VirtualService (istio/api networking/v1alpha3/virtual_service.proto, served as
 * v1, v1beta1 and v1alpha3), every field of it. Rules across fields are in
 * virtual-service-rules.ts; what proxyless does with each field is marked on it (see
 * field-support.ts and docs/istio-fields.md).
 */
export const virtualServiceSpecSchema = z.strictObject({
  hosts: supported(z.array(z.string({ error: 'a host such as "reviews" or "*.example.com"' })).default([]), 'short names resolve in the resource\'s namespace; FQDNs, `*.example.com`; none: a delegate'),
  gateways: supported(gatewayNamesSchema.optional(), 'a VirtualService bound only to gateways does not apply to in-process traffic; `mesh` means this mesh'),
  http: z.array(httpRouteSchema).optional(),
  tls: tlsRoutesField,
  tcp: tcpRoutesField,
  exportTo: supported(z.array(z.string({ error: 'a namespace name, "." or "*"' })).optional(), "applies only when exported to the mesh's `namespace`; see [how config applies](traffic-management.md#how-istio-config-applies-to-this-mesh)"),
});

/** A VirtualService as the mesh reads it. */
export const virtualServiceSchema = z.strictObject({
  apiVersion: z.enum(NETWORKING_API_VERSIONS),
  kind: z.literal('VirtualService'),
  metadata: metadataSchema,
  spec: virtualServiceSpecSchema,
});
