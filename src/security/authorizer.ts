import type { AuthzDecision, CompiledPolicy } from './authz-compile.js';
import { PolicyGroup } from './rule-index.js';
import { askProvider, type ProviderDenial, type ResolvedProvider } from './authz-providers.js';
import type { AuthzRequest } from './request-view.js';

/**
 * The AuthorizationPolicies of one workload, compiled, deciding requests as Istio's
 * sidecar does (istio/istio pilot/pkg/security/authz/builder/builder.go and Envoy's RBAC
 * and ext_authz filters, in their order):
 *
 * 1. CUSTOM: for each provider (by name) whose CUSTOM policies match the request, the
 *    provider decides; a denial ends there.
 * 2. AUDIT: a matching AUDIT policy marks the request ({@link Authorizer.audited}); it
 *    never decides.
 * 3. DENY: a matching DENY policy denies.
 * 4. ALLOW: with no ALLOW policy, allow; otherwise a matching ALLOW policy is needed.
 *
 * A dry-run (`istio.io/dry-run`) ALLOW or DENY policy is evaluated as a shadow where its
 * action's step is reached: the result is counted and reported, never enforced, and a
 * dry-run ALLOW policy does not count as an ALLOW policy for step 4.
 *
 * A denial is HTTP 403 with the body {@link AUTHZ_DENIED_BODY}.
 *
 * @module
 */

/** The status of a request denied by an AuthorizationPolicy. */
export const AUTHZ_DENIED_STATUS = 403;
/** The body of a request denied by an AuthorizationPolicy (Envoy's RBAC filter's). */
export const AUTHZ_DENIED_BODY = 'RBAC: access denied';

/** What a dry-run evaluation found, for one action's shadow policies. */
export interface DryRunResult {
  /** The action of the shadow policies (`ALLOW` or `DENY`). */
  readonly action: 'ALLOW' | 'DENY';
  /** What enforcing them would have done to this request. */
  readonly wouldAllow: boolean;
  /** The matching shadow rule's decision, or undefined when none matched. */
  readonly matched: AuthzDecision | undefined;
}

/** Counters of dry-run results (as Envoy's `istio_dry_run_*_shadow_allowed/denied`). */
export interface DryRunCounters {
  /** Dry-run ALLOW policies would have allowed. */
  allowShadowAllowed: number;
  /** Dry-run ALLOW policies would have denied (none matched). */
  allowShadowDenied: number;
  /** Dry-run DENY policies would have allowed (none matched). */
  denyShadowAllowed: number;
  /** Dry-run DENY policies would have denied. */
  denyShadowDenied: number;
}

/** Options of an {@link Authorizer}. */
export interface AuthorizerOptions {
  /** Providers of CUSTOM policies, by name. */
  readonly providers?: ReadonlyMap<string, ResolvedProvider>;
  /** Called with each dry-run result (log it). Gets the request as it is: do not keep it. */
  readonly onDryRun?: (result: DryRunResult, req: AuthzRequest) => void;
}

/** The outcome of {@link Authorizer.authorize}: the policy decision, or a provider's denial. */
export type AuthorizeOutcome =
  | {
      /** Decided by the policies (after the providers, if any, allowed). */
      readonly kind: 'decision';
      /** The decision. */
      readonly decision: AuthzDecision;
      /** Headers allowing providers asked to set on the request. */
      readonly providerHeaders?: Readonly<Record<string, string>>;
    }
  | {
      /** A CUSTOM provider denied. */
      readonly kind: 'provider-denied';
      /** Its answer. */
      readonly outcome: ProviderDenial;
    };

function decision(allowed: boolean, reason: AuthzDecision['reason']): AuthzDecision {
  return Object.freeze({ allowed, reason, dryRun: false });
}

const NO_POLICY = decision(true, 'no-policy');
const NO_ALLOW_POLICY = decision(true, 'no-allow-policy');
const NO_ALLOW_MATCH = decision(false, 'no-allow-match');

/** The AuthorizationPolicies of one workload, compiled (see the module comment). */
export class Authorizer {
  /** Every applicable policy, in Istio's order (root namespace first, oldest first). */
  readonly policies: readonly CompiledPolicy[];
  private readonly custom: readonly { readonly provider: ResolvedProvider; readonly policies: PolicyGroup }[];
  private readonly audit: PolicyGroup;
  private readonly deny: PolicyGroup;
  private readonly allow: PolicyGroup;
  private readonly shadowDeny: PolicyGroup;
  private readonly shadowAllow: PolicyGroup;
  private readonly onDryRun: AuthorizerOptions['onDryRun'];
  /** Dry-run results so far. */
  readonly dryRunCounters: DryRunCounters = { allowShadowAllowed: 0, allowShadowDenied: 0, denyShadowAllowed: 0, denyShadowDenied: 0 };
  private readonly shadowResults: Record<'ALLOW' | 'DENY', Map<AuthzDecision | undefined, DryRunResult>>;

  /**
   * @param policies compiled policies in Istio's order
   * @throws Error when a CUSTOM policy names a provider not in `options.providers`
   *   (compile with `compileAuthorization`, which reports it as a config error)
   */
  constructor(policies: readonly CompiledPolicy[], options: AuthorizerOptions = {}) {
    this.policies = policies;
    const of = (action: CompiledPolicy['action'], dryRun: boolean): CompiledPolicy[] => policies.filter((p) => p.action === action && p.dryRun === dryRun);
    const group = (action: CompiledPolicy['action'], dryRun: boolean): PolicyGroup => new PolicyGroup(of(action, dryRun));
    const providers = options.providers ?? new Map<string, ResolvedProvider>();
    const names = [...new Set(of('CUSTOM', false).map((p) => p.provider!))].sort();
    this.custom = names.map((name) => {
      const provider = providers.get(name);
      if (provider === undefined) throw new Error(`no authorization provider "${name}"`);
      return { provider, policies: new PolicyGroup(of('CUSTOM', false).filter((p) => p.provider === name)) };
    });
    this.audit = group('AUDIT', false);
    this.deny = group('DENY', false);
    this.allow = group('ALLOW', false);
    this.shadowDeny = group('DENY', true);
    this.shadowAllow = group('ALLOW', true);
    this.onDryRun = options.onDryRun;
    // Every dry-run result a request can get, made now: reporting one allocates nothing.
    this.shadowResults = { ALLOW: new Map(), DENY: new Map() };
    for (const action of ['ALLOW', 'DENY'] as const) {
      const results = this.shadowResults[action];
      results.set(undefined, Object.freeze({ action, wouldAllow: action === 'DENY', matched: undefined }));
      for (const policy of (action === 'ALLOW' ? this.shadowAllow : this.shadowDeny).policies) {
        for (const rule of policy.rules) results.set(rule.decision, Object.freeze({ action, wouldAllow: action === 'ALLOW', matched: rule.decision }));
      }
    }
  }

  /** Whether CUSTOM policies apply (then use {@link Authorizer.authorize}; otherwise {@link Authorizer.decide} is enough). */
  get hasCustom(): boolean {
    return this.custom.length > 0;
  }

  /**
   * The DENY/ALLOW decision for a request (steps 3 and 4; CUSTOM is left to
   * {@link Authorizer.authorize}), with dry-run policies evaluated as shadows. Returns
   * one of the decisions built at compile time: allocates nothing.
   */
  decide(req: AuthzRequest): AuthzDecision {
    if (this.shadowDeny.policies.length > 0) this.shadow('DENY', this.shadowDeny, req);
    const denied = this.deny.firstMatch(req);
    if (denied !== undefined) return denied;
    if (this.shadowAllow.policies.length > 0) this.shadow('ALLOW', this.shadowAllow, req);
    if (this.allow.policies.length === 0) return this.deny.policies.length === 0 ? NO_POLICY : NO_ALLOW_POLICY;
    return this.allow.firstMatch(req) ?? NO_ALLOW_MATCH;
  }

  /** The first AUDIT policy rule the request matches (it should be audited), or undefined. */
  audited(req: AuthzRequest): AuthzDecision | undefined {
    return this.audit.firstMatch(req);
  }

  /**
   * The whole decision: CUSTOM providers first (each provider whose CUSTOM policies match
   * is asked, in name order; its denial ends it), then {@link Authorizer.decide}. Headers
   * providers set on allowing are returned for the inbound path to set on the request;
   * set them before calling again for the same request, as `request.headers` conditions
   * are evaluated on the request as it is.
   */
  async authorize(req: AuthzRequest): Promise<AuthorizeOutcome> {
    let providerHeaders: Record<string, string> | undefined;
    for (const { provider, policies } of this.custom) {
      if (policies.firstMatch(req) === undefined) continue;
      const outcome = await askProvider(provider, req);
      if (!outcome.allowed) return { kind: 'provider-denied', outcome };
      if (outcome.headers !== undefined) providerHeaders = { ...providerHeaders, ...outcome.headers };
    }
    const decided = this.decide(req);
    return providerHeaders === undefined ? { kind: 'decision', decision: decided } : { kind: 'decision', decision: decided, providerHeaders };
  }

  private shadow(action: 'ALLOW' | 'DENY', policies: PolicyGroup, req: AuthzRequest): void {
    const matched = policies.firstMatch(req);
    const result = this.shadowResults[action].get(matched)!;
    const counters = this.dryRunCounters;
    if (action === 'ALLOW') {
      if (result.wouldAllow) counters.allowShadowAllowed++;
      else counters.allowShadowDenied++;
    } else if (result.wouldAllow) counters.denyShadowAllowed++;
    else counters.denyShadowDenied++;
    if (this.onDryRun !== undefined) {
      try {
        this.onDryRun(result, req);
      } catch {
        // A failing logger must not change a decision it only observes.
      }
    }
  }
}
