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
  /** The API group. */
  readonly group?: string | undefined;
  /** The kind (`Gateway`). */
  readonly kind: string;
  /** The name. */
  readonly name: string;
  /** The namespace (none: the policy's). */
  readonly namespace?: string | undefined;
}

/** A PeerAuthentication mTLS mode as written (`UNSET` inherits). */
export type PeerAuthenticationMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** The mode a server port runs in once PeerAuthentications are composed. */
export type MtlsMode = 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/** A PeerAuthentication resource. */
export interface PeerAuthenticationResource {
  /** `PeerAuthentication`. */
  readonly kind?: 'PeerAuthentication';
  /** Name, namespace, creation time. */
  readonly metadata: SecurityMetadata;
  /** The policy. */
  readonly spec: {
    /** Workloads it applies to (absent or without labels: the namespace, or the mesh in the root namespace). */
    readonly selector?: WorkloadSelectorSpec | undefined;
    /** The mode of the workload's ports. */
    readonly mtls?: PeerAuthenticationMtls | undefined;
    /** Modes by the workload's (server) port number, as strings; `UNSET` takes the workload's. */
    readonly portLevelMtls?: Readonly<Record<string, PeerAuthenticationMtls>> | undefined;
  };
}

/** `Source` of an AuthorizationPolicy rule. */
export interface AuthorizationSourceSpec {
  /** Peer identities (`<trust-domain>/ns/<ns>/sa/<sa>`), matched with `spiffe://` in front. */
  readonly principals?: readonly string[] | undefined;
  /** None of these: peer identities (`<trust-domain>/ns/<ns>/sa/<sa>`), matched with `spiffe://` in front. */
  readonly notPrincipals?: readonly string[] | undefined;
  /** Request principals (`<iss>/<sub>` of a validated token). */
  readonly requestPrincipals?: readonly string[] | undefined;
  /** None of these: request principals (`<iss>/<sub>` of a validated token). */
  readonly notRequestPrincipals?: readonly string[] | undefined;
  /** Namespaces of the peer identity. */
  readonly namespaces?: readonly string[] | undefined;
  /** None of these: namespaces of the peer identity. */
  readonly notNamespaces?: readonly string[] | undefined;
  /** Service accounts (`sa` in the policy namespace, or `ns/sa`). */
  readonly serviceAccounts?: readonly string[] | undefined;
  /** None of these: service accounts (`sa` in the policy namespace, or `ns/sa`). */
  readonly notServiceAccounts?: readonly string[] | undefined;
  /** Addresses or CIDR blocks of the connection peer. */
  readonly ipBlocks?: readonly string[] | undefined;
  /** None of these: addresses or CIDR blocks of the connection peer. */
  readonly notIpBlocks?: readonly string[] | undefined;
  /** Addresses or CIDR blocks of the original client. */
  readonly remoteIpBlocks?: readonly string[] | undefined;
  /** None of these: addresses or CIDR blocks of the original client. */
  readonly notRemoteIpBlocks?: readonly string[] | undefined;
  /** Trust domains of the peer identity. */
  readonly trustDomains?: readonly string[] | undefined;
  /** None of these: trust domains of the peer identity. */
  readonly notTrustDomains?: readonly string[] | undefined;
}

/** `Operation` of an AuthorizationPolicy rule. */
export interface AuthorizationOperationSpec {
  /** `Host` values (case-insensitive, port included when sent). */
  readonly hosts?: readonly string[] | undefined;
  /** None of these: `Host` values (case-insensitive, port included when sent). */
  readonly notHosts?: readonly string[] | undefined;
  /** Destination ports, as strings. */
  readonly ports?: readonly string[] | undefined;
  /** None of these: destination ports, as strings. */
  readonly notPorts?: readonly string[] | undefined;
  /** HTTP methods. */
  readonly methods?: readonly string[] | undefined;
  /** None of these: hTTP methods. */
  readonly notMethods?: readonly string[] | undefined;
  /** Paths (exact, `prefix*`, `*suffix`, `*`, or templates with `{*}` and `{**}`). */
  readonly paths?: readonly string[] | undefined;
  /** None of these: paths (exact, `prefix*`, `*suffix`, `*`, or templates with `{*}` and `{**}`). */
  readonly notPaths?: readonly string[] | undefined;
}

/** `Condition` (a `when` entry) of an AuthorizationPolicy rule. */
export interface AuthorizationConditionSpec {
  /** The attribute (`request.headers[x-token]`, `source.ip`, `request.auth.claims[groups]`, ...). */
  readonly key: string;
  /** Values, any of which may match. */
  readonly values?: readonly string[] | undefined;
  /** Values none of which may match. */
  readonly notValues?: readonly string[] | undefined;
}

/** `Rule` of an AuthorizationPolicy. */
export interface AuthorizationRuleSpec {
  /** Sources, any of which may match (none: any source). */
  readonly from?: readonly AuthorizationRuleFrom[] | undefined;
  /** Operations, any of which may match (none: any operation). */
  readonly to?: readonly AuthorizationRuleTo[] | undefined;
  /** Conditions, all of which must match. */
  readonly when?: readonly AuthorizationConditionSpec[] | undefined;
}

/** A `from` entry of a rule. */
export interface AuthorizationRuleFrom {
  /** The source. */
  readonly source?: AuthorizationSourceSpec | undefined;
}

/** A `to` entry of a rule. */
export interface AuthorizationRuleTo {
  /** The operation. */
  readonly operation?: AuthorizationOperationSpec | undefined;
}

/** `provider` of a CUSTOM AuthorizationPolicy. */
export interface AuthorizationProviderRef {
  /** The provider's name, as registered in code. */
  readonly name?: string | undefined;
}

/** `mtls` of a PeerAuthentication or of one of its ports. */
export interface PeerAuthenticationMtls {
  /** The mode; absent or `UNSET` inherits. */
  readonly mode?: PeerAuthenticationMode | undefined;
}

/**
 * Whom an AuthorizationPolicy or a RequestAuthentication applies to: a workload selector,
 * or gateway and waypoint targets (which never select an in-process workload).
 */
export interface PolicyTargetsSpec {
  /** Workloads it applies to (absent: all of its namespace, or of the mesh in the root namespace). */
  readonly selector?: WorkloadSelectorSpec | undefined;
  /** A gateway or waypoint target: the policy never applies to an in-process workload. */
  readonly targetRef?: TargetRefSpec | undefined;
  /** Gateway or waypoint targets, as `targetRef`. */
  readonly targetRefs?: readonly TargetRefSpec[] | undefined;
}

/** An AuthorizationPolicy action; absent is `ALLOW`. */
export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

/** An AuthorizationPolicy resource. */
export interface AuthorizationPolicyResource {
  /** `AuthorizationPolicy`. */
  readonly kind?: 'AuthorizationPolicy';
  /** Name, namespace, `istio.io/dry-run`, creation time. */
  readonly metadata: SecurityMetadata;
  /** The policy. */
  readonly spec: PolicyTargetsSpec & {
    /** The rules; none matches nothing, one empty rule matches everything. */
    readonly rules?: readonly AuthorizationRuleSpec[] | undefined;
    /** What a match does; absent is `ALLOW`. */
    readonly action?: AuthorizationAction | undefined;
    /** The provider of a CUSTOM policy. */
    readonly provider?: AuthorizationProviderRef | undefined;
  };
}

/** A header a token may be in. */
export interface JwtHeaderSpec {
  /** The header's name. */
  readonly name: string;
  /** What precedes the token (`Bearer `). */
  readonly prefix?: string | undefined;
}

/** A claim copied to a header. */
export interface ClaimToHeaderSpec {
  /** The header. */
  readonly header: string;
  /** The claim (`nested.claim` for nested ones). */
  readonly claim: string;
}

/** `JWTRule` of a RequestAuthentication. */
export interface JwtRuleSpec {
  /** The `iss` tokens must have. */
  readonly issuer?: string | undefined;
  /** Audiences, one of which a token must have (none: no audience check). */
  readonly audiences?: readonly string[] | undefined;
  /** Where the keys are fetched from. */
  readonly jwksUri?: string | undefined;
  /** The deprecated spelling of `jwksUri`. */
  readonly jwks_uri?: string | undefined;
  /** The keys, inline (a JSON Web Key Set). */
  readonly jwks?: string | undefined;
  /** Headers the token may be in, with a prefix before it. */
  readonly fromHeaders?: readonly JwtHeaderSpec[] | undefined;
  /** Query parameters the token may be in. */
  readonly fromParams?: readonly string[] | undefined;
  /** Cookies the token may be in. */
  readonly fromCookies?: readonly string[] | undefined;
  /** A header to set to the token's payload (base64url). */
  readonly outputPayloadToHeader?: string | undefined;
  /** Keep the token in the request (default: removed). */
  readonly forwardOriginalToken?: boolean | undefined;
  /** Headers to set from claims (`nested.claim` paths). */
  readonly outputClaimToHeaders?: readonly ClaimToHeaderSpec[] | undefined;
  /** The JWKS fetch timeout: a duration string (`5s`, `1.5s`, `500ms`) or milliseconds. */
  readonly timeout?: string | number | undefined;
  /** Claims split on spaces for authorization (besides `scope` and `permission`). */
  readonly spaceDelimitedClaims?: readonly string[] | undefined;
}

/** A RequestAuthentication resource. */
export interface RequestAuthenticationResource {
  /** `RequestAuthentication`. */
  readonly kind?: 'RequestAuthentication';
  /** Name, namespace, creation time. */
  readonly metadata: SecurityMetadata;
  /** The policy. */
  readonly spec: PolicyTargetsSpec & {
    /** The token issuers accepted. */
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
