import * as z from 'zod';
import { metadataSchema, NETWORKING_API_VERSIONS } from '../resource.js';
import { hostSchema, labelsSchema, uint32 } from './common.js';
import { notSupported, supported } from './field-support.js';

/** A port of a ServiceEntry or an endpoint: 1..65535 (the CRD's rule). */
const portSchema = uint32.refine((p) => p >= 1 && p <= 65535, { error: 'a port number from 1 to 65535' });

/** Istio `ServicePort`. */
export const servicePortSchema = z.strictObject({
  number: portSchema,
  protocol: supported(z.string().max(256).optional(), 'any case, as Istio reads it (`HTTP`, `http`); proxyless carries HTTP over each'),
  name: z.string({ error: 'a port name such as "http"' }).max(256),
  targetPort: portSchema.optional(),
});

/** Istio `WorkloadEntry`, as a ServiceEntry endpoint. */
export const serviceEndpointSchema = z.strictObject({
  address: z.string().max(256).optional(),
  ports: z.record(z.string(), uint32).optional(),
  labels: labelsSchema.optional(),
  network: notSupported(z.string().max(2048).optional(), 'reaches endpoints of another network through that network\'s gateway'),
  locality: supported(z.string().max(2048).optional(), 'region/zone/subzone, for [locality load balancing](load-balancing.md#locality-load-balancing)'),
  weight: uint32.optional(),
  serviceAccount: notSupported(z.string().max(253).optional(), 'the identity the endpoint presents in mutual TLS'),
});

/**
 * An Istio ServiceEntry (istio/api networking/v1alpha3/service_entry.proto), every field
 * of it. Rules across fields are in service-entry-rules.ts.
 */
export const serviceEntrySpecSchema = z.strictObject({
  hosts: supported(z.array(hostSchema).min(1, { error: 'at least one host' }).max(256, { error: 'at most 256 hosts' }), 'taken literally (no namespace is added); `*.example.com` wildcards'),
  addresses: notSupported(z.array(z.string().max(64)).max(256).optional(), 'captures traffic sent to these IP addresses or CIDR blocks (for TCP ports and hosts without DNS)'),
  ports: supported(z.array(servicePortSchema).max(256).default([]), 'a request to a port the entry does not declare is not the entry\'s'),
  location: supported(z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(), 'accepted; Istio uses it for mTLS and telemetry, which do not change here'),
  resolution: supported(
    z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS'], { error: 'one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS (upper case)' }).optional(),
    'NONE (the default): sent where the caller addressed it; STATIC, DNS, DNS_ROUND_ROBIN: the endpoints, or the host itself; DYNAMIC_DNS: the requested host, resolved when connecting',
  ),
  endpoints: supported(z.array(serviceEndpointSchema).max(4096).optional(), 'an endpoint\'s port: its `ports[<port name>]`, else the port\'s `targetPort`, else its `number`'),
  workloadSelector: notSupported(
    z.strictObject({
      labels: z
        .record(z.string(), z.string({ error: 'a label value (a string)' }).max(63))
        .superRefine((labels, ctx) => {
          for (const [key, value] of Object.entries(labels)) {
            if (key.includes('*')) ctx.addIssue({ code: 'custom', path: [key], input: key, message: 'a label key without "*" (a selector has no wildcards)' });
            if (value.includes('*')) ctx.addIssue({ code: 'custom', path: [key], input: value, message: 'a label value without "*" (a selector has no wildcards)' });
          }
        })
        .optional(),
    }).optional(),
    'selects pods and WorkloadEntries as the endpoints',
  ),
  exportTo: supported(z.array(z.string({ error: 'a namespace name, ".", "*" or "~"' })).optional(), 'an entry not exported to the mesh\'s `namespace` declares nothing ("~": exported to none)'),
  subjectAltNames: notSupported(z.array(z.string()).optional(), 'the identities the endpoints must present in mutual TLS'),
});

/** A ServiceEntry as the mesh reads it. */
export const serviceEntrySchema = z.strictObject({
  apiVersion: z.enum(NETWORKING_API_VERSIONS),
  kind: z.literal('ServiceEntry'),
  metadata: metadataSchema,
  spec: serviceEntrySpecSchema,
});
