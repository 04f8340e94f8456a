import type { AuthzDecision, Clause, CompiledPolicy, CompiledRule, Predicate } from './authz-compile.js';
import { predicateHolds, ruleMatches } from './authz-evaluate.js';
import type { Authorizer } from './authorizer.js';
import type { AuthzRequest } from './request-view.js';

/**
 * Why a request is allowed or denied: every applicable policy, whether each rule matched
 * and, when not, which field failed, with what it expected and what the request had. For
 * `mesh.explain` and `proxyless explain`. Explaining evaluates the policies again without
 * counting or reporting anything and never asks CUSTOM providers.
 *
 * @module
 */

/** A field that did not hold. */
export interface FailedCheck {
  /** Its path in the policy (`spec.rules[0].from[0].source.principals`). */
  readonly path: string;
  /** What the policy asked, in words (`one of ["cluster.local/ns/a/sa/b"]`, `none of [...]`). */
  readonly expected: string;
  /** What the request had (`peer spiffe://cluster.local/ns/x/sa/y`). */
  readonly observed: string;
}

/** One rule of a policy, explained. */
export interface RuleExplanation {
  /** Its index in `spec.rules`. */
  readonly rule: number;
  /** Whether it matched. */
  readonly matched: boolean;
  /**
   * Why it did not match: for `from` (or `to`), the first failing field of each source
   * (operation); for `when`, the first failing condition.
   */
  readonly failed: readonly FailedCheck[];
}

/** One policy, explained. */
export interface PolicyExplanation {
  /** `namespace/name`. */
  readonly policy: string;
  /** Its action. */
  readonly action: CompiledPolicy['action'];
  /** Whether it is a dry-run policy (never enforced). */
  readonly dryRun: boolean;
  /** The CUSTOM provider. */
  readonly provider?: string;
  /** Whether one of its rules matched (a policy without rules never does). */
  readonly matched: boolean;
  /** Each rule. */
  readonly rules: readonly RuleExplanation[];
}

/** A CUSTOM provider a request would be sent to. */
export interface ProviderAsked {
  /** The provider. */
  readonly provider: string;
  /** The CUSTOM policy that matched. */
  readonly policy: string;
}

/** Why a request gets its decision. */
export interface AuthzExplanation {
  /** The ALLOW/DENY decision (what happens once CUSTOM providers, if asked, allow). */
  readonly decision: AuthzDecision;
  /** CUSTOM providers that would be asked first, with the policy that matched for each. */
  readonly providers: readonly ProviderAsked[];
  /** AUDIT policies that match (the request is marked for audit). */
  readonly audited: readonly string[];
  /** Every applicable policy, in Istio's order. */
  readonly policies: readonly PolicyExplanation[];
  /** The whole story in sentences, decision first. */
  readonly lines: readonly string[];
}

function expected(predicate: Predicate): string {
  return `${predicate.negate ? 'none of' : 'one of'} ${JSON.stringify(predicate.values)}`;
}

function firstFailure(predicates: readonly Predicate[], req: AuthzRequest): FailedCheck | undefined {
  // In the order of the policy's fields, not the evaluation's cost order.
  const ordered = [...predicates].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const failed = ordered.find((p) => !predicateHolds(p, req));
  return failed === undefined ? undefined : { path: failed.path, expected: expected(failed), observed: failed.matcher.observed(req) };
}

function clauseFailures(clauses: readonly Clause[], req: AuthzRequest): FailedCheck[] {
  const failures: FailedCheck[] = [];
  for (const clause of clauses) {
    const failure = firstFailure(clause.predicates, req);
    if (failure === undefined) return [];
    failures.push(failure);
  }
  return failures;
}

function explainRule(rule: CompiledRule, req: AuthzRequest): RuleExplanation {
  if (ruleMatches(rule, req)) return { rule: rule.index, matched: true, failed: [] };
  const failed = [...clauseFailures(rule.sources, req), ...clauseFailures(rule.operations, req)];
  const condition = firstFailure(rule.conditions, req);
  if (condition !== undefined) failed.push(condition);
  return { rule: rule.index, matched: false, failed };
}

function explainPolicy(policy: CompiledPolicy, req: AuthzRequest): PolicyExplanation {
  const rules = policy.rules.map((rule) => explainRule(rule, req));
  return { policy: policy.id, action: policy.action, dryRun: policy.dryRun, ...(policy.provider !== undefined && { provider: policy.provider }), matched: rules.some((r) => r.matched), rules };
}

function describe(p: PolicyExplanation): string {
  const kind = `${p.dryRun ? 'dry-run ' : ''}${p.action} policy ${p.policy}`;
  if (p.rules.length === 0) return `${kind}: no rules, matches nothing`;
  if (p.matched) return `${kind}: rule ${p.rules.find((r) => r.matched)!.rule} matches`;
  const why = p.rules.map((r) => `rule ${r.rule}: ${r.failed.map((f) => `${f.path} wants ${f.expected}, got ${f.observed}`).join('; ')}`);
  return `${kind}: no rule matches (${why.join(' | ')})`;
}

/** Explains the decision `authorizer` makes for `req` (see the module comment). */
export function explainAuthorization(authorizer: Authorizer, req: AuthzRequest): AuthzExplanation {
  const policies = authorizer.policies.map((policy) => explainPolicy(policy, req));
  const enforced = (action: CompiledPolicy['action']): PolicyExplanation[] => policies.filter((p) => p.action === action && !p.dryRun);
  const providers: { provider: string; policy: string }[] = [];
  for (const p of enforced('CUSTOM')) if (p.matched && !providers.some((q) => q.provider === p.provider)) providers.push({ provider: p.provider!, policy: p.policy });
  providers.sort((a, b) => (a.provider < b.provider ? -1 : 1));
  const audited = enforced('AUDIT').filter((p) => p.matched).map((p) => p.policy);
  const firstMatched = (list: PolicyExplanation[]): PolicyExplanation | undefined => list.find((p) => p.matched);
  const decisionOf = (p: PolicyExplanation): AuthzDecision => {
    const compiled = authorizer.policies.find((c) => c.id === p.policy && c.action === p.action)!;
    return compiled.rules.find((r) => r.index === p.rules.find((x) => x.matched)!.rule)!.decision;
  };
  const deny = firstMatched(enforced('DENY'));
  const allows = enforced('ALLOW');
  let decision: AuthzDecision;
  let verdict: string;
  if (deny !== undefined) {
    decision = decisionOf(deny);
    verdict = `DENIED (403) by DENY policy ${deny.policy}, rule ${decision.rule}`;
  } else if (allows.length === 0) {
    decision = { allowed: true, reason: enforced('DENY').length === 0 ? 'no-policy' : 'no-allow-policy', dryRun: false };
    verdict = `ALLOWED: no ALLOW policy applies to this workload${enforced('DENY').length > 0 ? ' and no DENY policy matches' : ''}`;
  } else {
    const allow = firstMatched(allows);
    decision = allow === undefined ? { allowed: false, reason: 'no-allow-match', dryRun: false } : decisionOf(allow);
    verdict = allow === undefined ? `DENIED (403): ${allows.length} ALLOW polic${allows.length === 1 ? 'y applies' : 'ies apply'} and none matches` : `ALLOWED by ALLOW policy ${allow.policy}, rule ${decision.rule}`;
  }
  const lines = [verdict];
  for (const { provider, policy } of providers) lines.push(`CUSTOM policy ${policy} matches: provider "${provider}" decides first (its denial wins)`);
  for (const policy of audited) lines.push(`AUDIT policy ${policy} matches: the request is marked for audit`);
  for (const p of policies) lines.push(describe(p));
  return { decision, providers, audited, policies, lines };
}
