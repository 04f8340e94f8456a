/**
 * The shapes of Istio's security resources as the decision code reads them
 * (`security.istio.io/v1` and `v1beta1`, which share one schema), the workload they are
 * compiled for, and the findings compiling reports.
 *
 * These are the resources **after** validation (the config loader checks them as Istio
 * does, field by field): the types list only what the decisions read, so a validated
 * resource of the loader's own type can be passed as it is.
 *
 * @module
 */

/** `metadata` as the decisions read it. */
export interface SecurityMetadata {
  /** The resource's name. */
  readonly name: string;
  /** Its namespace; absent means the workload's namespace (what `istioctl validate` assumes for a file). */
  readonly namespace?: string | undefined;
  /** Annotations; `istio.io/dry-run` is read on AuthorizationPolicies. */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /**
   * When the resource was created (RFC 3339, as `kubectl get -o yaml` prints it). Decides
   * which of two policies of the same scope wins (the older); absent is older than any
   * time, as Go's zero time is in Istio.
   */
  readonly creationTimestamp?: string | Date | undefined;
}

/** `istio.type.v1beta1.WorkloadSelector`. */
export interface WorkloadSelectorSpec {
  /** Labels a workload must all have (with these values) to be selected. */
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
}

/** `istio.type.v1beta1.PolicyTargetReference`: never selects an in-process workload. */
export interface TargetRefSpec {
  readonly group?: string | undefined;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string | undefined;
}

/** A PeerAuthentication mTLS mode as written (`UNSET` inherits). */
export type PeerAuthenticationMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** The mode a server port runs in once PeerAuthentications are composed. */
export type MtlsMode = 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** A PeerAuthentication resource. */
export interface PeerAuthenticationResource {
  readonly kind?: 'PeerAuthentication';
  readonly metadata: SecurityMetadata;
  readonly spec: {
    readonly selector?: WorkloadSelectorSpec | undefined;
    readonly mtls?: { readonly mode?: PeerAuthenticationMode | undefined } | undefined;
    /** Keys are the workload's (server) port numbers, as strings. */
    readonly portLevelMtls?: Readonly<Record<string, { readonly mode?: PeerAuthenticationMode | undefined }>> | undefined;
  };
}

/** `Source` of an AuthorizationPolicy rule. */
export interface AuthorizationSourceSpec {
  readonly principals?: readonly string[] | undefined;
  readonly notPrincipals?: readonly string[] | undefined;
  readonly requestPrincipals?: readonly string[] | undefined;
  readonly notRequestPrincipals?: readonly string[] | undefined;
  readonly namespaces?: readonly string[] | undefined;
  readonly notNamespaces?: readonly string[] | undefined;
  readonly serviceAccounts?: readonly string[] | undefined;
  readonly notServiceAccounts?: readonly string[] | undefined;
  readonly ipBlocks?: readonly string[] | undefined;
  readonly notIpBlocks?: readonly string[] | undefined;
  readonly remoteIpBlocks?: readonly string[] | undefined;
  readonly notRemoteIpBlocks?: readonly string[] | undefined;
  readonly trustDomains?: readonly string[] | undefined;
  readonly notTrustDomains?: readonly string[] | undefined;
}

/** `Operation` of an AuthorizationPolicy rule. */
export interface AuthorizationOperationSpec {
  readonly hosts?: readonly string[] | undefined;
  readonly notHosts?: readonly string[] | undefined;
  readonly ports?: readonly string[] | undefined;
  readonly notPorts?: readonly string[] | undefined;
  readonly methods?: readonly string[] | undefined;
  readonly notMethods?: readonly string[] | undefined;
  readonly paths?: readonly string[] | undefined;
  readonly notPaths?: readonly string[] | undefined;
}

/** `Condition` (a `when` entry) of an AuthorizationPolicy rule. */
export interface AuthorizationConditionSpec {
  readonly key: string;
  readonly values?: readonly string[] | undefined;
  readonly notValues?: readonly string[] | undefined;
}

/** `Rule` of an AuthorizationPolicy. */
export interface AuthorizationRuleSpec {
  readonly from?: readonly { readonly source?: AuthorizationSourceSpec | undefined }[] | undefined;
  readonly to?: readonly { readonly operation?: AuthorizationOperationSpec | undefined }[] | undefined;
  readonly when?: readonly AuthorizationConditionSpec[] | undefined;
}

/** An AuthorizationPolicy action; absent is `ALLOW`. */
export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

/** An AuthorizationPolicy resource. */
export interface AuthorizationPolicyResource {
  readonly kind?: 'AuthorizationPolicy';
  readonly metadata: SecurityMetadata;
  readonly spec: {
    readonly selector?: WorkloadSelectorSpec | undefined;
    readonly targetRef?: TargetRefSpec | undefined;
    readonly targetRefs?: readonly TargetRefSpec[] | undefined;
    readonly rules?: readonly AuthorizationRuleSpec[] | undefined;
    readonly action?: AuthorizationAction | undefined;
    readonly provider?: { readonly name?: string | undefined } | undefined;
  };
}

/** `JWTRule` of a RequestAuthentication. */
export interface JwtRuleSpec {
  readonly issuer?: string | undefined;
  readonly audiences?: readonly string[] | undefined;
  readonly jwksUri?: string | undefined;
  /** The deprecated spelling of `jwksUri`. */
  readonly jwks_uri?: string | undefined;
  readonly jwks?: string | undefined;
  readonly fromHeaders?: readonly { readonly name: string; readonly prefix?: string | undefined }[] | undefined;
  readonly fromParams?: readonly string[] | undefined;
  readonly fromCookies?: readonly string[] | undefined;
  readonly outputPayloadToHeader?: string | undefined;
  readonly forwardOriginalToken?: boolean | undefined;
  readonly outputClaimToHeaders?: readonly { readonly header: string; readonly claim: string }[] | undefined;
  /** The JWKS fetch timeout: a duration string (`5s`, `1.5s`, `500ms`) or milliseconds. */
  readonly timeout?: string | number | undefined;
  readonly spaceDelimitedClaims?: readonly string[] | undefined;
}

/** A RequestAuthentication resource. */
export interface RequestAuthenticationResource {
  readonly kind?: 'RequestAuthentication';
  readonly metadata: SecurityMetadata;
  readonly spec: {
    readonly selector?: WorkloadSelectorSpec | undefined;
    readonly targetRef?: TargetRefSpec | undefined;
    readonly targetRefs?: readonly TargetRefSpec[] | undefined;
    readonly jwtRules?: readonly JwtRuleSpec[] | undefined;
  };
}

/** The workload the security resources are compiled for: this process. */
export interface SecurityWorkload {
  /** Its namespace (the mesh's `namespace`). */
  readonly namespace: string;
  /** Its labels (the mesh's own labels), which `selector.matchLabels` are matched against. */
  readonly labels: Readonly<Record<string, string>>;
}

/** Mesh-wide settings the security decisions depend on. */
export interface SecurityMeshSettings {
  /** Istio's root namespace: its policies apply mesh-wide. Default `istio-system`. */
  readonly rootNamespace?: string;
  /**
   * The mesh's trust domain (Istio's `trustDomain`, default `cluster.local`). A policy
   * principal written with trust domain `cluster.local` means this trust domain and its
   * aliases, as Istio rewrites it.
   */
  readonly trustDomain?: string;
  /** Other trust domains treated as this one (Istio's `trustDomainAliases`). */
  readonly trustDomainAliases?: readonly string[];
}

/**
 * A problem or remark found while compiling, in the shape of the loader's diagnostics:
 * where (`AuthorizationPolicy/foo/deny-admin`), the field path inside the resource, and
 * what is wrong or what happens instead.
 */
export interface SecurityFinding {
  /** `error`: the config cannot be applied; `warning`: applied, with the consequence said. */
  readonly severity: 'error' | 'warning';
  /** The resource: `Kind/namespace/name`. */
  readonly where: string;
  /** The field path inside it (`spec.rules[0].when[1].key`), or '' for the whole resource. */
  readonly path: string;
  /** What is wrong and what to change, or what proxyless does instead. */
  readonly message: string;
}

/** A finding as one line: `where: path: message`. */
export function renderFinding(finding: SecurityFinding): string {
  return [finding.where, finding.path, finding.message].filter((part) => part !== '').join(': ');
}
