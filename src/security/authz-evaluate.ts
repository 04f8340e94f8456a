import type { AuthzDecision, Clause, CompiledPolicy, CompiledRule, Predicate } from './authz-compile.js';
import type { AuthzRequest } from './request-view.js';

/**
 * Matching a request against compiled policies: plain loops over the compiled
 * predicates, returning as soon as the answer is known, allocating nothing.
 *
 * @module
 */

/** Whether a predicate holds: a value matches, or for a `not` form, none does. */
export function predicateHolds(predicate: Predicate, req: AuthzRequest): boolean {
  return predicate.matcher.matches(req) !== predicate.negate;
}

function clauseHolds(clause: Clause, req: AuthzRequest): boolean {
  const predicates = clause.predicates;
  for (let i = 0; i < predicates.length; i++) if (!predicateHolds(predicates[i]!, req)) return false;
  return true;
}

function anyClause(clauses: readonly Clause[], req: AuthzRequest): boolean {
  if (clauses.length === 0) return true;
  for (let i = 0; i < clauses.length; i++) if (clauseHolds(clauses[i]!, req)) return true;
  return false;
}

/** Whether a rule matches: any operation, any source, every condition. */
export function ruleMatches(rule: CompiledRule, req: AuthzRequest): boolean {
  if (!anyClause(rule.operations, req)) return false;
  if (!anyClause(rule.sources, req)) return false;
  const conditions = rule.conditions;
  for (let i = 0; i < conditions.length; i++) if (!predicateHolds(conditions[i]!, req)) return false;
  return true;
}

/** The first rule of the policy that matches, or undefined (a policy without rules matches nothing). */
export function matchingRule(policy: CompiledPolicy, req: AuthzRequest): CompiledRule | undefined {
  const rules = policy.rules;
  for (let i = 0; i < rules.length; i++) if (ruleMatches(rules[i]!, req)) return rules[i];
  return undefined;
}

/** The decision of the first matching rule among `policies`, counting the match; undefined when none matches. */
export function firstMatch(policies: readonly CompiledPolicy[], req: AuthzRequest): AuthzDecision | undefined {
  for (let i = 0; i < policies.length; i++) {
    const policy = policies[i]!;
    const rule = matchingRule(policy, req);
    if (rule !== undefined) {
      policy.matched++;
      return rule.decision;
    }
  }
  return undefined;
}
