import * as z from 'zod';
import { SECURITY_API_VERSIONS, metadataSchema } from '../../resource.js';
import { istioDuration, workloadSelectorSchema } from '../common.js';

/**
 * Istio's security resources (istio/api security/v1: PeerAuthentication,
 * AuthorizationPolicy, RequestAuthentication), as the structure a cluster's CRD schema
 * accepts. Rules across fields are in security-rules.ts. They are validated here so
 * `proxyless check` is a CI gate for them too; applying them comes with the security
 * layers.
 *
 * @module
 */

const mtlsMode = z.enum(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'], { error: 'one of UNSET, DISABLE, PERMISSIVE, STRICT (upper case)' });

/** `istio.type.v1beta1.PolicyTargetReference`, with the CRD's checks. */
export const targetRefSchema = z.strictObject({
  group: z.string().max(253).regex(/^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, { error: 'an API group such as "gateway.networking.k8s.io" ("" for the core group)' }).optional(),
  kind: z.string({ error: 'a kind such as "Gateway"' }).min(1).max(63).regex(/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/, { error: 'a kind such as "Gateway"' }),
  name: z.string({ error: 'the name of the target' }).min(1, { error: 'the name of the target' }).max(253),
  namespace: z.string().optional(),
});

/** A PeerAuthentication. */
export const peerAuthenticationSchema = z.strictObject({
  apiVersion: z.enum(SECURITY_API_VERSIONS),
  kind: z.literal('PeerAuthentication'),
  metadata: metadataSchema,
  spec: z.strictObject({
    selector: workloadSelectorSchema.optional(),
    mtls: z.strictObject({ mode: mtlsMode.optional() }).optional(),
    portLevelMtls: z.record(z.string(), z.strictObject({ mode: mtlsMode.optional() })).optional(),
  }),
});

const values = z.array(z.string({ error: 'a string' }));

const sourceSchema = z.strictObject({
  principals: values.optional(),
  notPrincipals: values.optional(),
  requestPrincipals: values.optional(),
  notRequestPrincipals: values.optional(),
  namespaces: values.optional(),
  notNamespaces: values.optional(),
  serviceAccounts: z.array(z.string().max(320, { error: 'a service account of at most 320 characters' })).max(16, { error: 'at most 16 service accounts' }).optional(),
  notServiceAccounts: z.array(z.string().max(320, { error: 'a service account of at most 320 characters' })).max(16, { error: 'at most 16 service accounts' }).optional(),
  ipBlocks: values.optional(),
  notIpBlocks: values.optional(),
  remoteIpBlocks: values.optional(),
  notRemoteIpBlocks: values.optional(),
  trustDomains: values.optional(),
  notTrustDomains: values.optional(),
});

const operationSchema = z.strictObject({
  hosts: values.optional(),
  notHosts: values.optional(),
  ports: values.optional(),
  notPorts: values.optional(),
  methods: values.optional(),
  notMethods: values.optional(),
  paths: values.optional(),
  notPaths: values.optional(),
});

const conditionSchema = z.strictObject({
  key: z.string({ error: 'a condition key such as "request.headers[x-token]"' }),
  values: values.optional(),
  notValues: values.optional(),
});

/** Istio `Rule`. */
export const authorizationRuleSchema = z.strictObject({
  from: z.array(z.strictObject({ source: sourceSchema.optional() })).max(512).optional(),
  to: z.array(z.strictObject({ operation: operationSchema.optional() })).optional(),
  when: z.array(conditionSchema).optional(),
});

/** An AuthorizationPolicy. */
export const authorizationPolicySchema = z.strictObject({
  apiVersion: z.enum(SECURITY_API_VERSIONS),
  kind: z.literal('AuthorizationPolicy'),
  metadata: metadataSchema,
  spec: z.strictObject({
    selector: workloadSelectorSchema.optional(),
    targetRef: targetRefSchema.optional(),
    targetRefs: z.array(targetRefSchema).max(16).optional(),
    rules: z.array(authorizationRuleSchema).max(512, { error: 'at most 512 rules' }).optional(),
    action: z.enum(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'], { error: 'one of ALLOW, DENY, AUDIT, CUSTOM (upper case)' }).optional(),
    provider: z.strictObject({ name: z.string().optional() }).optional(),
  }),
});

const nonEmpty = (what: string) => z.string({ error: what }).min(1, { error: `a non-empty ${what}` });

/** Istio `JWTRule`. */
export const jwtRuleSchema = z.strictObject({
  issuer: nonEmpty('issuer').optional(),
  audiences: z.array(nonEmpty('audience')).optional(),
  jwksUri: nonEmpty('JWKS URI').max(2048).optional(),
  jwks_uri: nonEmpty('JWKS URI').max(2048).optional(),
  jwks: z.string().optional(),
  fromHeaders: z.array(z.strictObject({ name: nonEmpty('header name'), prefix: z.string().optional() })).optional(),
  fromParams: z.array(nonEmpty('query parameter name')).optional(),
  fromCookies: z.array(nonEmpty('cookie name')).optional(),
  outputPayloadToHeader: z.string().optional(),
  forwardOriginalToken: z.boolean().optional(),
  outputClaimToHeaders: z
    .array(
      z.strictObject({
        header: nonEmpty('header name').regex(/^[-_A-Za-z0-9]+$/, { error: 'a header name of letters, digits, "-" and "_"' }),
        claim: nonEmpty('claim name'),
      }),
    )
    .optional(),
  timeout: istioDuration().optional(),
  spaceDelimitedClaims: z.array(nonEmpty('claim name')).max(64).optional(),
  presence: z.enum(['OPTIONAL', 'REQUIRED']).optional(),
});

/** A RequestAuthentication. */
export const requestAuthenticationSchema = z.strictObject({
  apiVersion: z.enum(SECURITY_API_VERSIONS),
  kind: z.literal('RequestAuthentication'),
  metadata: metadataSchema,
  spec: z.strictObject({
    selector: workloadSelectorSchema.optional(),
    targetRef: targetRefSchema.optional(),
    targetRefs: z.array(targetRefSchema).max(16).optional(),
    jwtRules: z.array(jwtRuleSchema).max(4096).optional(),
  }),
});
