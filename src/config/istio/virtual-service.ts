import * as z from 'zod';
import { metadataSchema, NETWORKING_API_VERSIONS } from '../resource.js';
import {
  destinationSchema,
  durationSchema,
  headersSchema,
  hostSchema,
  labelsSchema,
  percentSchema,
  portNumberSchema,
  regexSchema,
  stringMatchSchema,
} from './common.js';
import { rewriteProblem } from '../re2.js';
import { GRPC_STATUS_NAMES } from '../../route/grpc-status.js';
import { authoritySchema, httpBodySchema, matchHeadersSchema, pathSchema } from './http-fields.js';

/** Istio `HTTPMatchRequest`: every condition given must hold (AND). */
export const httpMatchSchema = z.strictObject({
  name: z.string().optional(),
  uri: stringMatchSchema.optional(),
  scheme: stringMatchSchema.optional(),
  method: stringMatchSchema.optional(),
  authority: stringMatchSchema.optional(),
  headers: matchHeadersSchema(stringMatchSchema).optional(),
  withoutHeaders: matchHeadersSchema(stringMatchSchema).optional(),
  queryParams: z.record(z.string(), stringMatchSchema).optional(),
  port: portNumberSchema.optional(),
  sourceLabels: labelsSchema.optional(),
  sourceNamespace: z.string().optional(),
  ignoreUriCase: z.boolean().optional(),
  gateways: z.array(z.string()).optional(),
});

const routeDestinationSchema = z.strictObject({
  destination: destinationSchema,
  weight: z.number().int().min(0).optional(),
  headers: headersSchema.optional(),
});

const retrySchema = z.strictObject({
  attempts: z.number().int().min(0).optional(),
  perTryTimeout: durationSchema.optional(),
  retryOn: z
    .string()
    // Item by item: the single regex this replaces backtracked exponentially on a long
    // list of status codes (each code matched two of its alternatives).
    .refine((list) => list.split(',').every((item) => /^[a-z0-9-]+$/.test(item.trim())), {
      error: 'a comma-separated list such as "5xx,reset,connect-failure"',
    })
    .optional(),
  retryRemoteLocalities: z.boolean().optional(),
  retryIgnorePreviousHosts: z.boolean().optional(),
  // The back-off's base interval (Envoy: the cap is 10 times it).
  backoff: durationSchema.optional(),
});

const faultSchema = z.strictObject({
  delay: z
    .strictObject({ fixedDelay: durationSchema, percentage: percentSchema.optional(), percent: z.number().int().min(0).max(100).optional() })
    .optional(),
  abort: z
    .strictObject({
      httpStatus: z.number().int().min(200).max(599).optional(),
      // Istio's names for gRPC status codes (istio/istio pkg/util/grpc: SupportedGRPCStatus).
      grpcStatus: z.enum(GRPC_STATUS_NAMES).optional(),
      percentage: percentSchema.optional(),
    })
    .refine((a) => a.httpStatus === undefined || a.grpcStatus === undefined, { error: 'at most one of httpStatus, grpcStatus' })
    .optional(),
});

const redirectSchema = z.strictObject({
  uri: pathSchema.optional(),
  authority: authoritySchema.optional(),
  port: portNumberSchema.optional(),
  derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
  // Istio's rule; "" is the API's unset.
  scheme: z
    .enum(['http', 'https', ''], { error: '"http" or "https"' })
    .transform((v) => (v === '' ? undefined : v))
    .optional(),
  redirectCode: z.number().int().min(300).max(399).optional(),
});

const directResponseSchema = z.strictObject({
  status: z.number().int().min(200).max(599),
  body: httpBodySchema.optional(),
});

const rewriteSchema = z.strictObject({
  uri: pathSchema.optional(),
  authority: authoritySchema.optional(),
  uriRegexRewrite: z
    .strictObject({ match: regexSchema, rewrite: z.string() })
    .superRefine((r, ctx) => {
      // The template's \N must name groups the match has (RE2's own check).
      const problem = rewriteProblem(r.match, r.rewrite);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['rewrite'], input: r.rewrite, message: problem });
    })
    .optional(),
});

const mirrorPolicySchema = z.strictObject({ destination: destinationSchema, percentage: percentSchema.optional() });

/** Istio `HTTPRoute`. */
export const httpRouteSchema = z
  .strictObject({
    name: z.string().optional(),
    match: z.array(httpMatchSchema).optional(),
    route: z.array(routeDestinationSchema).min(1).optional(),
    redirect: redirectSchema.optional(),
    directResponse: directResponseSchema.optional(),
    rewrite: rewriteSchema.optional(),
    timeout: durationSchema.optional(),
    retries: retrySchema.optional(),
    fault: faultSchema.optional(),
    mirror: destinationSchema.optional(),
    mirrors: z.array(mirrorPolicySchema).optional(),
    mirrorPercentage: percentSchema.optional(),
    /** Deprecated integer form of mirrorPercentage; Istio still reads it when mirrorPercentage is unset. */
    mirrorPercent: z.number().int().min(0).max(100).optional(),
    headers: headersSchema.optional(),
    // A root VirtualService's route hands its requests to a delegate VirtualService.
    delegate: z.strictObject({ name: z.string().min(1), namespace: z.string().min(1).optional() }).optional(),
  })
  .refine((r) => (r.delegate !== undefined ? r.route === undefined && r.redirect === undefined : [r.route, r.redirect, r.directResponse].filter((x) => x !== undefined).length === 1), {
    error: 'exactly one of route, redirect, directResponse, delegate (a delegate route has no route or redirect)',
  });

/** A VirtualService as the mesh reads it. */
export const virtualServiceSchema = z.strictObject({
  apiVersion: z.enum(NETWORKING_API_VERSIONS),
  kind: z.literal('VirtualService'),
  metadata: metadataSchema,
  spec: z.strictObject({
    // No hosts: a delegate, applied only through a root VirtualService's `delegate`.
    hosts: z.array(hostSchema).optional(),
    gateways: z.array(z.string()).optional(),
    http: z.array(httpRouteSchema).optional(),
    exportTo: z.array(z.string()).optional(),
  }),
});
