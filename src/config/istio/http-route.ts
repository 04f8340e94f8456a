import * as z from 'zod';
import {
  destinationSchema,
  faultPercentSchema,
  headersSchema,
  istioDuration,
  int32,
  labelsSchema,
  plainPercentSchema,
  regexSchema,
  stringMatch,
  uint32,
} from './common.js';
import { deprecated, notApplicable, notSupported, supported } from './field-support.js';
import { rewriteProblem } from '../re2.js';
import { authoritySchema, httpBodySchema, matchHeadersSchema, pathSchema } from './http-fields.js';

/**
 * Istio `HTTPRoute` and what it holds (istio/api networking/v1alpha3/virtual_service.proto),
 * as the structure a cluster's CRD schema accepts. Rules across fields (what a route may
 * combine, gateway names, JWT claim routes) are in virtual-service-rules.ts.
 *
 * @module
 */

/** A port in a match: 0 is unset (protobuf), otherwise 1..65535. */
export const matchPortSchema = uint32.refine((p) => p === 0 || p <= 65535, { error: 'a port number from 1 to 65535' });

/** A list of gateway names (`mesh`, `namespace/name`); checked in virtual-service-rules.ts. */
export const gatewayNamesSchema = z.array(z.string({ error: 'a gateway name such as "mesh" or "istio-system/ingress"' }));

/** Istio `HTTPMatchRequest`: every condition given must hold (AND). */
export const httpMatchSchema = z.strictObject({
  name: supported(z.string().optional(), 'named in explain output'),
  uri: supported(stringMatch({ emptyPrefix: true }).optional(), '`exact`, `prefix`, `regex` (RE2, whole-value match), on the path after [path normalisation](traffic-management.md#path-normalisation)'),
  scheme: stringMatch().optional(),
  method: stringMatch().optional(),
  authority: stringMatch().optional(),
  headers: supported(matchHeadersSchema(stringMatch()).optional(), '`exact`/`prefix`/`regex`; `{}` matches presence'),
  withoutHeaders: supported(matchHeadersSchema(stringMatch({ presenceRegex: true })).optional(), 'the request must not match; `{}` and `regex: "*"` mean presence'),
  queryParams: supported(z.record(z.string(), stringMatch()).optional(), 'on decoded values; `exact: ""` matches a bare key'),
  port: supported(matchPortSchema.optional(), 'the port the caller used'),
  sourceLabels: supported(labelsSchema.optional(), "against this workload's `labels` option"),
  sourceNamespace: supported(z.string().optional(), "against this workload's `namespace` option"),
  ignoreUriCase: supported(z.boolean().optional(), 'for `uri` exact and prefix matches'),
  gateways: supported(gatewayNamesSchema.optional(), 'a match listing gateways holds for in-process traffic only if it lists `mesh`, and then ignores `sourceLabels`/`sourceNamespace`, as Istio'),
  statPrefix: notApplicable(z.string().optional(), "Envoy adds it to the names of the route's statistics"),
});

/** Istio `HTTPRouteDestination`. */
export const httpRouteDestinationSchema = z.strictObject({
  destination: destinationSchema,
  weight: int32.min(0, { error: 'a weight >= 0' }).optional(),
  headers: headersSchema.optional(),
});

/** Istio `HTTPRetry`. */
export const retrySchema = z.strictObject({
  attempts: int32.min(0, { error: 'a number of retries >= 0' }).optional(),
  perTryTimeout: istioDuration().optional(),
  retryOn: z.string({ error: 'a comma-separated list such as "5xx,reset,connect-failure"' }).optional(),
  retryRemoteLocalities: supported(z.boolean().optional(), 'retries avoid the locality priorities already tried (Envoy previous_priorities, update frequency 2)'),
  retryIgnorePreviousHosts: z.boolean().optional(),
  // Not applied, so no timer bound: Istio's own rules only.
  backoff: supported(istioDuration({ max: Infinity }).optional(), 'the base interval of the full-jitter back-off (default 25 ms), capped at 10 times it, as Envoy'),
});

const grpcStatusSchema = z.enum(
  ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'],
  { error: 'a gRPC status name such as "UNAVAILABLE" or "NOT_FOUND"' },
);

/** Istio `HTTPFaultInjection`. */
export const faultSchema = z.strictObject({
  delay: z
    .strictObject({
      fixedDelay: istioDuration().optional(),
      exponentialDelay: istioDuration().optional(),
      percentage: faultPercentSchema.optional(),
      percent: deprecated(int32.min(0).max(100).optional(), 'Istio honours it when `percentage` is unset, as proxyless does; write `percentage: {value: N}`'),
    })
    .optional(),
  abort: z
    .strictObject({
      httpStatus: int32.optional(),
      grpcStatus: supported(grpcStatusSchema.optional(), 'a gRPC trailers-only response: HTTP 200, `content-type: application/grpc`, `grpc-status: <code>`, as Envoy\'s fault filter'),
      http2Error: z.string().optional(),
      percentage: faultPercentSchema.optional(),
    })
    .optional(),
});

/** Istio `HTTPRedirect`. */
export const redirectSchema = z.strictObject({
  uri: pathSchema.optional(),
  authority: authoritySchema.optional(),
  port: uint32.optional(),
  derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
  scheme: z.string().optional(),
  redirectCode: uint32.optional(),
  prefixRewrite: notSupported(z.string().optional(), 'redirects to the path with the matched prefix replaced by this one'),
});

/** Istio `HTTPDirectResponse`. */
export const directResponseSchema = z.strictObject({
  status: uint32,
  body: httpBodySchema.optional(),
});

/** Istio `Delegate`. */
export const delegateSchema = z.strictObject({ name: z.string().optional(), namespace: z.string().optional() });

/** Istio `HTTPRewrite`. */
export const rewriteSchema = z.strictObject({
  uri: pathSchema.optional(),
  authority: authoritySchema.optional(),
  uriRegexRewrite: z
    .strictObject({ match: regexSchema, rewrite: z.string({ error: 'a rewrite template such as "/v2/\\1"' }) })
    .superRefine((r, ctx) => {
      // The template's \N must name groups the match has (RE2's own check).
      const problem = r.rewrite === '' ? 'a non-empty rewrite template' : rewriteProblem(r.match, r.rewrite);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['rewrite'], input: r.rewrite, message: problem });
    })
    .optional(),
});

/** Istio `HTTPMirrorPolicy`. */
export const mirrorPolicySchema = z.strictObject({ destination: destinationSchema, percentage: plainPercentSchema.optional() });

const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', '*'] as const;

/** Istio `CorsPolicy`. */
export const corsPolicySchema = z.strictObject({
  allowOrigin: deprecated(z.array(z.string()).optional(), 'Istio reads these as exact origins when `allowOrigins` is unset; write `allowOrigins: [{exact: ...}]`'),
  allowOrigins: z.array(stringMatch()).optional(),
  allowMethods: z.array(z.enum(CORS_METHODS, { error: `an HTTP method: ${CORS_METHODS.join(', ')}` })).optional(),
  allowHeaders: z.array(z.string()).optional(),
  exposeHeaders: z.array(z.string()).optional(),
  maxAge: istioDuration({ seconds: true, max: Infinity }).optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
});

/** Istio `HTTPRoute`. */
export const httpRouteSchema = z.strictObject({
  name: supported(z.string().optional(), 'named in explain output'),
  match: z.array(httpMatchSchema).optional(),
  route: supported(z.array(httpRouteDestinationSchema).optional(), 'weights are relative; none given: equal shares; no route matched: 404 from the mesh, as Envoy'),
  redirect: redirectSchema.optional(),
  directResponse: supported(directResponseSchema.optional(), '`body.bytes` (base64) sent exactly as decoded; at most 1 MB (Istio\'s limit)'),
  delegate: supported(delegateSchema.optional(), "the delegate's routes merged in this route's place, as Istio merges them; see [Delegate VirtualServices](traffic-management.md#delegate-virtualservices)"),
  rewrite: supported(
    rewriteSchema.optional(),
    'a prefix match has its prefix replaced, otherwise the whole path; `uriRegexRewrite` replaces every RE2 match, `\\1` inserts a group, `\\0` the match',
  ),
  timeout: supported(istioDuration().optional(), 'covers every try; see [Resilience](resilience.md)'),
  retries: supported(retrySchema.optional(), 'see [Retries](resilience.md#retries)'),
  fault: supported(faultSchema.optional(), 'no percentage means no fault (Istio\'s rule); an abort is answered by the mesh; the caller\'s abort ends a delay at once and nothing is sent'),
  mirror: supported(
    destinationSchema.optional(),
    'fire and forget, as Envoy\'s shadowing: `-shadow` authority, no retries, no hedging, the route\'s `timeout` as its own (15 s when it has none), never the caller\'s deadline; a streamed body is copied once read, when it fits in `requestBufferLimit`',
  ),
  mirrors: supported(z.array(mirrorPolicySchema).optional(), 'as `mirror`, each with its own percentage'),
  mirrorPercent: deprecated(uint32.optional(), 'Istio mirrors this percentage of requests when `mirrorPercentage` is unset, as proxyless does; write `mirrorPercentage: {value: N}`'),
  mirror_percent: notSupported(uint32.optional(), 'deprecated spelling of `mirrorPercent`; write `mirrorPercentage: {value: N}`'),
  mirrorPercentage: plainPercentSchema.optional(),
  corsPolicy: notSupported(corsPolicySchema.optional(), 'answers CORS preflight requests for the route and adds the CORS response headers'),
  headers: supported(headersSchema.optional(), 'set, add, remove, for requests and responses; a destination\'s own `headers` apply too'),
});

/** Istio `RouteDestination` (TCP and TLS routes). */
const routeDestinationSchema = z.strictObject({ destination: destinationSchema, weight: int32.min(0, { error: 'a weight >= 0' }).optional() });

const l4Common = {
  destinationSubnets: z.array(z.string()).optional(),
  port: matchPortSchema.optional(),
  sourceLabels: labelsSchema.optional(),
  gateways: gatewayNamesSchema.optional(),
  sourceNamespace: z.string().optional(),
};

/** Istio `TCPRoute`. */
export const tcpRouteSchema = z.strictObject({
  match: z.array(z.strictObject({ ...l4Common, sourceSubnet: z.string().optional() })).optional(),
  route: z.array(routeDestinationSchema).optional(),
});

/** Istio `TLSRoute`. */
export const tlsRouteSchema = z.strictObject({
  match: z.array(z.strictObject({ ...l4Common, sniHosts: z.array(z.string()) })),
  route: z.array(routeDestinationSchema).optional(),
});

/** The parts of a VirtualService spec other modules need: tcp and tls routes are described, not applied. */
export const tcpRoutesField = notApplicable(z.array(tcpRouteSchema).optional(), 'routes TCP connections by port and subnet; proxyless carries HTTP requests');
/** See {@link tcpRoutesField}. */
export const tlsRoutesField = notApplicable(z.array(tlsRouteSchema).optional(), 'routes TLS passthrough connections by SNI; proxyless makes its own TLS connections');
