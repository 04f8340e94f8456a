import * as z from 'zod';
import { metadataSchema, NETWORKING_API_VERSIONS } from '../resource.js';
import { durationField, durationSchema, durationToMs, hostSchema, labelsSchema, portSelectorSchema } from './common.js';

const ringSize = z.number().int().min(1).max(8_388_608);

const consistentHashSchema = z
  .strictObject({
    httpHeaderName: z.string().min(1).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { error: 'a header name' }).optional(),
    // The cookie's lifetime is no timer of ours: Go's own limit is the only bound.
    httpCookie: z.strictObject({ name: z.string().min(1), path: z.string().optional(), ttl: durationField({ max: Infinity }).optional() }).optional(),
    useSourceIp: z.boolean().optional(),
    httpQueryParameterName: z.string().min(1).optional(),
    ringHash: z.strictObject({ minimumRingSize: ringSize.optional() }).optional(),
    /** Deprecated in Istio in favour of `ringHash.minimumRingSize`; still read. */
    minimumRingSize: ringSize.optional(),
  })
  .refine(
    (h) => [h.httpHeaderName, h.httpCookie, h.useSourceIp || undefined, h.httpQueryParameterName].filter((x) => x !== undefined).length === 1,
    { error: 'exactly one of httpHeaderName, httpCookie, useSourceIp: true, httpQueryParameterName' },
  );

/** A warmup window: 1 ms to 24 h (Envoy counts it in seconds; a day is already far beyond a ramp). */
const warmupWindowSchema = durationSchema.refine((d) => durationToMs(d) >= 1 && durationToMs(d) <= 86_400_000, {
  error: 'a duration from 1ms to 24h such as "60s"',
});

/** Istio `WarmupConfiguration` (Envoy `slow_start_config`). */
const warmupSchema = z.strictObject({
  duration: warmupWindowSchema,
  minimumPercent: z.number({ error: 'a percentage from 0 to 100' }).min(0).max(100).optional(),
  aggression: z
    .number({ error: 'a number > 0 (1 ramps linearly), such as 1' })
    .gt(0, { error: 'a number > 0 (1 ramps linearly), such as 1' })
    .max(1000, { error: 'a number > 0 and at most 1000 (1 ramps linearly), such as 1' })
    .optional(),
});

/** Istio `LoadBalancerSettings`: `simple` or `consistentHash`, not both. */
export const loadBalancerSchema = z
  .strictObject({
    simple: z.enum(['UNSPECIFIED', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN']).optional(),
    consistentHash: consistentHashSchema.optional(),
    /** Deprecated by Istio in favour of `warmup`. */
    warmupDurationSecs: warmupWindowSchema.optional(),
    warmup: warmupSchema.optional(),
  })
  .refine((lb) => !(lb.simple && lb.consistentHash), { error: 'either simple or consistentHash, not both' });

const count = z.number().int().min(0);

/** Istio `ConnectionPoolSettings` (validated here; enforced by the resilience layers). */
export const connectionPoolSchema = z.strictObject({
  tcp: z
    .strictObject({
      maxConnections: count.min(1).optional(),
      connectTimeout: durationSchema.optional(),
      idleTimeout: durationSchema.optional(),
      maxConnectionDuration: durationSchema.optional(),
    })
    .optional(),
  http: z
    .strictObject({
      http1MaxPendingRequests: count.min(1).optional(),
      http2MaxRequests: count.min(1).optional(),
      maxRequestsPerConnection: count.optional(),
      maxRetries: count.optional(),
      idleTimeout: durationSchema.optional(),
      maxConcurrentStreams: count.min(1).optional(),
    })
    .optional(),
});

const positiveDuration = durationField({ min: 1 });

/** Istio `OutlierDetection` (validated here; enforced by the resilience layers). */
export const outlierDetectionSchema = z.strictObject({
  consecutive5xxErrors: count.optional(),
  consecutiveGatewayErrors: count.optional(),
  consecutiveLocalOriginFailures: count.optional(),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  // Below 1 ms a sweep interval or an ejection means nothing (and Istio refuses it).
  interval: positiveDuration.optional(),
  baseEjectionTime: positiveDuration.optional(),
  maxEjectionPercent: z.number().int().min(0).max(100).optional(),
  minHealthPercent: z.number().int().min(0).max(100).optional(),
});

/** Istio `ClientTLSSettings` (validated here; applied by the security layers). */
export const clientTlsSchema = z.strictObject({
  mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: z.array(z.string()).optional(),
  sni: z.string().optional(),
  insecureSkipVerify: z.boolean().optional(),
});

const portTrafficPolicySchema = z.strictObject({
  port: portSelectorSchema,
  loadBalancer: loadBalancerSchema.optional(),
  connectionPool: connectionPoolSchema.optional(),
  outlierDetection: outlierDetectionSchema.optional(),
  tls: clientTlsSchema.optional(),
});

/** Istio `TrafficPolicy`. */
export const trafficPolicySchema = z.strictObject({
  loadBalancer: loadBalancerSchema.optional(),
  connectionPool: connectionPoolSchema.optional(),
  outlierDetection: outlierDetectionSchema.optional(),
  tls: clientTlsSchema.optional(),
  portLevelSettings: z.array(portTrafficPolicySchema).optional(),
});

/** Istio `Subset`: a named group of endpoints by labels, with an optional policy override. */
export const subsetSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i, { error: 'a subset name such as "v1"' }),
  labels: labelsSchema.optional(),
  trafficPolicy: trafficPolicySchema.optional(),
});

/** A DestinationRule as the mesh reads it. */
export const destinationRuleSchema = z.strictObject({
  apiVersion: z.enum(NETWORKING_API_VERSIONS),
  kind: z.literal('DestinationRule'),
  metadata: metadataSchema,
  spec: z
    .strictObject({
      host: hostSchema,
      trafficPolicy: trafficPolicySchema.optional(),
      subsets: z.array(subsetSchema).optional(),
      exportTo: z.array(z.string()).optional(),
    })
    .refine((spec) => new Set((spec.subsets ?? []).map((s) => s.name)).size === (spec.subsets ?? []).length, {
      error: 'subset names unique within the rule',
    }),
});
