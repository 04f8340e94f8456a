import * as z from 'zod';
import { metadataSchema, NETWORKING_API_VERSIONS } from '../resource.js';
import { isEndpointAddress } from '../../discovery/parse-endpoint.js';
import { hostSchema, labelsSchema, portNumberSchema } from './common.js';

const protocolSchema = z.enum(['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'TLS', 'TCP', 'MONGO', 'REDIS', 'MYSQL'], {
  error: 'a protocol: HTTP, HTTPS, HTTP2, GRPC, TLS, TCP',
});

/** A ServiceEntry as the mesh reads it. */
export const serviceEntrySchema = z.strictObject({
  apiVersion: z.enum(NETWORKING_API_VERSIONS),
  kind: z.literal('ServiceEntry'),
  metadata: metadataSchema,
  spec: z
    .strictObject({
      hosts: z.array(hostSchema).min(1),
      addresses: z.array(z.string()).optional(),
      ports: z
        .array(
          z.strictObject({
            number: portNumberSchema,
            protocol: protocolSchema.optional(),
            name: z.string().min(1),
            targetPort: portNumberSchema.optional(),
          }),
        )
        .min(1),
      location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
      resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']).optional(),
      endpoints: z
        .array(
          z.strictObject({
            address: z.string().refine(isEndpointAddress, {
              error: 'an IP address or host name (no port, "@", "/", "?", "#" or spaces)',
            }),
            ports: z.record(z.string(), portNumberSchema).optional(),
            labels: labelsSchema.optional(),
            weight: z.number().int().min(1).optional(),
            network: z.string().optional(),
            locality: z.string().optional(),
            serviceAccount: z.string().optional(),
          }),
        )
        .optional(),
      exportTo: z.array(z.string()).optional(),
    })
    .refine((spec) => spec.resolution !== 'STATIC' || (spec.endpoints?.length ?? 0) > 0, {
      error: 'endpoints when resolution is STATIC',
    })
    .refine((spec) => !(spec.resolution === 'DNS_ROUND_ROBIN' && (spec.endpoints?.length ?? 0) > 1), {
      error: 'at most one endpoint when resolution is DNS_ROUND_ROBIN',
    }),
});
