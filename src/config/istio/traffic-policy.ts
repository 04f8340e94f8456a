import * as z from 'zod';
import { anyDurationSchema, int32, istioDuration, uint32, uint64 } from './common.js';
import { deprecated, notApplicable, notSupported, supported } from './field-support.js';

/**
 * Istio `TrafficPolicy` and what it holds (istio/api networking/v1alpha3/destination_rule.proto),
 * as the structure a cluster's CRD schema accepts. Rules across fields are in
 * destination-rule-rules.ts.
 *
 * @module
 */

/** A ring size Envoy accepts (1 .. 8M). */
const ringSize = uint64.max(8_388_608, { error: 'a ring size of at most 8388608 (Envoy\'s limit)' });

const httpCookieSchema = z.strictObject({
  name: z.string({ error: 'a cookie name' }),
  path: notSupported(z.string().optional(), 'the path of the cookie Envoy generates when the request has none'),
  // The cookie's lifetime is no timer of ours: Go's own limit is the only bound.
  ttl: notSupported(anyDurationSchema.optional(), 'Envoy generates the cookie, with this lifetime, when the request has none; proxyless places such a request at random and sets no cookie'),
  attributes: notSupported(
    z.array(z.strictObject({ name: z.string({ error: 'a cookie attribute name' }), value: z.string().optional() })).optional(),
    'adds these attributes to the cookie Envoy generates when the request has none',
  ),
});

const consistentHashSchema = z.strictObject({
  httpHeaderName: z.string().optional(),
  httpCookie: httpCookieSchema.optional(),
  useSourceIp: supported(z.boolean().optional(), "hashes this process's own address: every request of this workload goes to one endpoint"),
  httpQueryParameterName: z.string().optional(),
  ringHash: z.strictObject({ minimumRingSize: ringSize.optional() }).optional(),
  maglev: notSupported(z.strictObject({ tableSize: uint64.optional() }).optional(), 'hashes with Maglev instead of a ring; proxyless uses its ring hash, equally consistent but with a different mapping'),
  minimumRingSize: deprecated(ringSize.optional(), 'Istio uses it as the ring size when `ringHash` is unset, as proxyless does; write `ringHash: {minimumRingSize: N}`'),
});

const localityFailoverSchema = z.strictObject({ from: z.string().optional(), to: z.string().optional() });

/** Istio `LocalityLoadBalancerSetting`. */
export const localityLbSettingSchema = z.strictObject({
  distribute: z.array(z.strictObject({ from: z.string().optional(), to: z.record(z.string(), uint32).optional() })).optional(),
  failover: z.array(localityFailoverSchema).optional(),
  failoverPriority: z.array(z.string()).optional(),
  enabled: z.boolean().optional(),
});

const zoneAwareLbSettingSchema = z.strictObject({
  enabled: z.boolean().optional(),
  failover: z.array(localityFailoverSchema).optional(),
  failoverPriority: z.array(z.string()).optional(),
  minClusterSize: uint64.min(1).optional(),
});

/** Istio `WarmupConfiguration` (Envoy's slow start); no upper bound on the window (no timer runs it). */
const warmupSchema = z.strictObject({
  duration: istioDuration({ max: Infinity }),
  minimumPercent: z.number({ error: 'a percentage from 0 to 100' }).min(0, { error: 'a percentage from 0 to 100' }).max(100, { error: 'a percentage from 0 to 100' }).optional(),
  aggression: z.number({ error: 'a number > 0 (1 ramps linearly)' }).optional(),
});

/** Istio `LoadBalancerSettings`. */
export const loadBalancerSchema = z.strictObject({
  simple: z.enum(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'], { error: 'one of UNSPECIFIED, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST (upper case)' }).optional(),
  consistentHash: consistentHashSchema.optional(),
  backendUtilization: notSupported(
    z.strictObject({
      errorUtilizationPenaltyPercent: uint32.optional(),
      metricNamesForComputingUtilization: z.array(z.string()).optional(),
      weightExpirationPeriod: anyDurationSchema.optional(),
      weightStabilizationPeriod: anyDurationSchema.optional(),
      weightUpdatePeriod: anyDurationSchema.optional(),
    }).optional(),
    'weights endpoints by the utilization they report (ORCA load reports)',
  ),
  localityLbSetting: supported(localityLbSettingSchema.optional(), 'distribute, failover, failoverPriority, enabled; see [Locality load balancing](load-balancing.md#locality-load-balancing)'),
  zoneAwareLbSetting: notSupported(zoneAwareLbSettingSchema.optional(), "has Envoy route by zone within the caller's region"),
  warmupDurationSecs: deprecated(istioDuration({ max: Infinity }).optional(), 'Istio ramps traffic to new endpoints over this time (Envoy slow start), as proxyless does when `warmup` is unset; write `warmup: {duration: ...}`'),
  warmup: supported(warmupSchema.optional(), 'ramps traffic to new endpoints (Envoy slow start) with ROUND_ROBIN, LEAST_REQUEST and the default balancer; ignored, with a warning, with RANDOM, PASSTHROUGH and consistentHash, as in Envoy'),
});

/** Istio `ConnectionPoolSettings`. */
export const connectionPoolSchema = z.strictObject({
  tcp: z
    .strictObject({
      maxConnections: int32.optional(),
      connectTimeout: istioDuration().optional(),
      tcpKeepalive: notSupported(
        z.strictObject({ probes: uint32.optional(), time: istioDuration({ max: Infinity }).optional(), interval: istioDuration({ max: Infinity }).optional() }).optional(),
        'turns on TCP keepalive probes on upstream connections',
      ),
      // Not applied, so no timer bound: Istio's own rules only.
      maxConnectionDuration: notSupported(istioDuration({ max: Infinity }).optional(), 'closes upstream connections this long after they opened'),
      idleTimeout: istioDuration({ zero: true }).optional(),
    })
    .optional(),
  http: z
    .strictObject({
      http1MaxPendingRequests: int32.optional(),
      http2MaxRequests: int32.optional(),
      maxRequestsPerConnection: int32.optional(),
      maxRetries: int32.optional(),
      idleTimeout: istioDuration().optional(),
      h2UpgradePolicy: notSupported(z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(), 'upgrades HTTP/1.1 connections to HTTP/2'),
      useClientProtocol: notSupported(z.boolean().optional(), "speaks the caller's own HTTP version to the endpoint"),
      maxConcurrentStreams: notSupported(int32.optional(), 'limits the streams of one HTTP/2 connection'),
      http2KeepAlive: notSupported(
        z.strictObject({ interval: istioDuration({ max: Infinity }).optional(), timeout: istioDuration({ max: Infinity }).optional() }).optional(),
        'sends HTTP/2 PING frames on idle connections',
      ),
    })
    .optional(),
});

/** Istio `OutlierDetection`. */
export const outlierDetectionSchema = z.strictObject({
  consecutiveErrors: notSupported(
    int32.optional(),
    'deprecated; Istio has ignored it since 1.7, so Envoy\'s defaults apply (ejection after 5 consecutive 5xx); write `consecutiveGatewayErrors` (502, 503, 504, connection failures) or `consecutive5xxErrors`',
  ),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: uint32.optional(),
  consecutiveGatewayErrors: uint32.optional(),
  consecutive5xxErrors: uint32.optional(),
  interval: istioDuration().optional(),
  baseEjectionTime: istioDuration().optional(),
  maxEjectionPercent: int32.optional(),
  minHealthPercent: int32.optional(),
  outlierDetectionHttpErrorCodes: notSupported(
    z.array(uint32.min(100, { error: 'an HTTP status from 100 to 599' }).max(599, { error: 'an HTTP status from 100 to 599' })).optional(),
    'counts these response codes as errors for ejection, instead of 5xx',
  ),
});

/** Istio `ClientTLSSettings`. */
export const clientTlsSchema = z.strictObject({
  mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: notSupported(z.string().optional(), 'reads the client certificate, key and CA from a Kubernetes Secret (proxyless reads files: clientCertificate, privateKey, caCertificates)'),
  subjectAltNames: z.array(z.string()).optional(),
  sni: z.string().optional(),
  insecureSkipVerify: z.boolean().optional(),
  caCrl: notSupported(z.string().optional(), 'refuses server certificates listed in this certificate revocation list'),
});

const tlsField = () => supported(clientTlsSchema.optional(), 'for http:// calls: DISABLE, SIMPLE, MUTUAL (files), ISTIO_MUTUAL (the workload SVID); unset: auto mTLS by endpoint label; see [Client side](security.md#client-side-destinationrule-tls-and-auto-mtls)');

/** Istio `PortSelector` in port-level settings: any number (Istio checks no range; see the rules' warning). */
const portLevelPortSchema = z.strictObject({ number: uint32.optional() });

/** Istio `TrafficPolicy.PortTrafficPolicy`. */
export const portTrafficPolicySchema = z.strictObject({
  port: portLevelPortSchema,
  loadBalancer: loadBalancerSchema.optional(),
  connectionPool: connectionPoolSchema.optional(),
  outlierDetection: outlierDetectionSchema.optional(),
  tls: tlsField(),
});

/** Istio `TrafficPolicy`. */
export const trafficPolicySchema = z.strictObject({
  loadBalancer: supported(loadBalancerSchema.optional(), 'unset: P2C Peak EWMA (Istio: LEAST_REQUEST); see [Load balancing](load-balancing.md)'),
  connectionPool: supported(connectionPoolSchema.optional(), 'see [Connection-pool limits](endpoint-pools.md#connection-pool-limits)'),
  outlierDetection: supported(outlierDetectionSchema.optional(), 'see [Outlier detection](resilience.md#outlier-detection)'),
  tls: tlsField(),
  portLevelSettings: supported(z.array(portTrafficPolicySchema).max(4096).optional(), 'per port, overriding the policy\'s own settings'),
  tunnel: notApplicable(
    z.strictObject({ protocol: z.string().optional(), targetHost: z.string({ error: 'a target host' }), targetPort: uint32 }).optional(),
    'tunnels the connections through an HTTP proxy (CONNECT or POST) at targetHost:targetPort',
  ),
  proxyProtocol: notSupported(z.strictObject({ version: z.enum(['V1', 'V2']).optional() }).optional(), 'sends a PROXY protocol header on each upstream connection'),
  retryBudget: notSupported(
    z.strictObject({
      percent: z.number({ error: 'a percentage from 0 to 100' }).min(0, { error: 'a percentage from 0 to 100' }).max(100, { error: 'a percentage from 0 to 100' }).optional(),
      minRetryConcurrency: uint32.optional(),
      budgetInterval: anyDurationSchema.optional(),
    }).optional(),
    'limits retries to a percentage of active requests; proxyless has its own retry budget (20 % of requests, 10/s floor; the proxyless.dev/retry-budget annotation)',
  ),
});
