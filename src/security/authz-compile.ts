import { compileCondition, compileField, type AttributeContext, type AttributeMatcher, type FieldName } from './authz-attributes.js';
import { applicable, DEFAULT_ROOT_NAMESPACE, hasTargetRefs, targetRefsFinding, type Scoped } from './policy-scope.js';
import type { AuthorizationAction, AuthorizationPolicyResource, AuthorizationRuleSpec, SecurityFinding, SecurityWorkload } from './types.js';

/**
 * AuthorizationPolicies compiled once per config version into matchers: each rule into
 * lists of predicates (one per field set), cheap ones first, each decision a request can
 * get built in advance so evaluating allocates nothing. What compiles to what follows
 * Istio's model (istio/istio pilot/pkg/security/authz/model/model.go New): a rule matches
 * when any of its sources, any of its operations and all of its conditions match; a
 * field's `values` when any value matches, its `not` form when none does.
 *
 * @module
 */

/** One field of a source, operation or condition, compiled. */
export interface Predicate {
  /** Its field path in the policy (`spec.rules[0].from[1].source.notPrincipals`). */
  readonly path: string;
  /** The values as written. */
  readonly values: readonly string[];
  /** True for a `not...` field or `notValues`: the request must match none of the values. */
  readonly negate: boolean;
  /** What tests it. */
  readonly matcher: AttributeMatcher;
}

/** A source or an operation: every predicate must hold. */
export interface Clause {
  /** `spec.rules[0].from[1].source` */
  readonly path: string;
  /** Its fields, each needed. */
  readonly predicates: readonly Predicate[];
}

/** The decision a request gets, built at compile time (evaluation returns one of these). */
export interface AuthzDecision {
  /** Whether the request may go on. */
  readonly allowed: boolean;
  /**
   * Why: `no-policy` (no ALLOW or DENY policy for this workload), `no-allow-policy`
   * (DENY policies only, none matched), `allow-policy` (an ALLOW rule matched),
   * `deny-policy` (a DENY rule matched), `no-allow-match` (ALLOW policies exist, none matched).
   */
  readonly reason: 'no-policy' | 'no-allow-policy' | 'allow-policy' | 'deny-policy' | 'no-allow-match';
  /** The policy whose rule decided (`namespace/name`), for `allow-policy` and `deny-policy`. */
  readonly policy?: string;
  /** The index of the rule that matched in `spec.rules`. */
  readonly rule?: number;
  /** Whether the deciding policy is a dry-run one (only in dry-run results, never enforced). */
  readonly dryRun: boolean;
}

/** A compiled rule. */
export interface CompiledRule {
  /** Its index in `spec.rules`. */
  readonly index: number;
  /** Empty: any source. */
  readonly sources: readonly Clause[];
  /** Empty: any operation. */
  readonly operations: readonly Clause[];
  /** The `when` conditions, each needed. */
  readonly conditions: readonly Predicate[];
  /** What a match of this rule decides (for ALLOW and DENY policies). */
  readonly decision: AuthzDecision;
}

/** A compiled policy. */
export interface CompiledPolicy {
  /** `namespace/name`. */
  readonly id: string;
  /** Its action. */
  readonly action: AuthorizationAction;
  /** Whether it is a dry-run policy. */
  readonly dryRun: boolean;
  /** The CUSTOM provider's name. */
  readonly provider?: string;
  /** No rules: the policy matches nothing. */
  readonly rules: readonly CompiledRule[];
  /** Requests this policy matched (a dry-run policy's counter is its whole effect). */
  matched: number;
}

/** Options of {@link compilePolicies}. */
export interface CompilePoliciesOptions {
  /** Istio's root namespace. Default `istio-system`. */
  readonly rootNamespace?: string;
  /** The mesh's trust domain. Default `cluster.local`. */
  readonly trustDomain?: string;
  /** Its aliases. */
  readonly trustDomainAliases?: readonly string[];
}

/** The policies that apply to the workload, compiled, in Istio's order, and what compiling found. */
export interface CompiledPolicies {
  /** The policies. */
  readonly policies: readonly CompiledPolicy[];
  /** What compiling found. */
  readonly findings: readonly SecurityFinding[];
}

/** `strconv.ParseBool`, as Istio reads `istio.io/dry-run`; unreadable is false. */
export function parseDryRun(value: string | undefined): boolean {
  return value !== undefined && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value);
}

const SOURCE_FIELDS: readonly FieldName[] = ['principals', 'requestPrincipals', 'namespaces', 'serviceAccounts', 'ipBlocks', 'remoteIpBlocks', 'trustDomains'];
const OPERATION_FIELDS: readonly FieldName[] = ['hosts', 'ports', 'methods', 'paths'];

const notName = (field: string): string => `not${field[0]!.toUpperCase()}${field.slice(1)}`;

/** Raised inside rule compilation: what went wrong, and where. */
class RuleProblem extends Error {
  constructor(
    readonly path: string,
    message: string,
    /** Istio drops the whole rule whatever the action (an unknown condition key). */
    readonly wholeRule: boolean,
  ) {
    super(message);
  }
}

function byCost(a: Predicate, b: Predicate): number {
  return a.matcher.cost - b.matcher.cost;
}

/**
 * Compiles one rule. A value that does not compile (validation refuses all of them) is
 * handled as Istio's builder handles it: the rule is dropped from an ALLOW policy (it
 * allows less), the value is dropped from a DENY, AUDIT or CUSTOM one (it matches more).
 */
function compileRule(rule: AuthorizationRuleSpec, at: string, index: number, context: AttributeContext, lenient: boolean, decision: AuthzDecision, dropped: (path: string, message: string) => void): CompiledRule {
  const predicate = (path: string, values: readonly string[] | undefined, negate: boolean, compile: (values: readonly string[]) => AttributeMatcher | undefined): Predicate | undefined => {
    if (values === undefined || values.length === 0) return undefined;
    let kept = values;
    try {
      const matcher = compile(values);
      if (matcher === undefined) throw new RuleProblem(path, 'an unknown condition key; Istio skips the whole rule', true);
      return { path, values, negate, matcher };
    } catch (error) {
      if (error instanceof RuleProblem || !lenient) throw error instanceof RuleProblem ? error : new RuleProblem(path, (error as Error).message, false);
      // One value at a time, as Istio's builder skips the values it cannot generate.
      kept = values.filter((v) => {
        try {
          compile([v]);
          return true;
        } catch {
          dropped(path, `${JSON.stringify(v)} cannot be matched and is left out (as Istio leaves it out of a ${negate ? 'not ' : ''}list of this action)`);
          return false;
        }
      });
      return kept.length === 0 ? undefined : { path, values: kept, negate, matcher: compile(kept)! };
    }
  };
  const clause = (path: string, fields: readonly FieldName[], spec: Readonly<Record<string, readonly string[] | undefined>>): Clause => {
    const predicates: Predicate[] = [];
    for (const field of fields) {
      for (const negate of [false, true]) {
        const name = negate ? notName(field) : field;
        const p = predicate(`${path}.${name}`, spec[name], negate, (values) => compileField(field, values, context));
        if (p !== undefined) predicates.push(p);
      }
    }
    return { path, predicates: predicates.sort(byCost) };
  };
  const sources = (rule.from ?? []).map((from, f) => clause(`${at}.from[${f}].source`, SOURCE_FIELDS, (from.source ?? {}) as Record<string, readonly string[] | undefined>));
  const operations = (rule.to ?? []).map((to, t) => clause(`${at}.to[${t}].operation`, OPERATION_FIELDS, (to.operation ?? {}) as Record<string, readonly string[] | undefined>));
  const conditions: Predicate[] = [];
  (rule.when ?? []).forEach((condition, w) => {
    for (const negate of [false, true]) {
      const list = negate ? condition.notValues : condition.values;
      const p = predicate(`${at}.when[${w}].${negate ? 'notValues' : 'values'}`, list, negate, (values) => compileCondition(condition.key, values, context));
      if (p !== undefined) conditions.push(p);
    }
  });
  return { index, sources, operations, conditions: conditions.sort(byCost), decision };
}

/**
 * Compiles the AuthorizationPolicies that apply to `workload` (root namespace and its
 * own, selector matching its labels, no targetRefs), in Istio's order (root namespace
 * first, oldest first). Values validation would refuse are handled as Istio's builder
 * handles them, with a warning.
 */
export function compilePolicies(resources: readonly AuthorizationPolicyResource[], workload: SecurityWorkload, options: CompilePoliciesOptions = {}): CompiledPolicies {
  const root = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const trustDomains = [options.trustDomain ?? 'cluster.local', ...(options.trustDomainAliases ?? [])];
  const findings: SecurityFinding[] = [];
  const policies: CompiledPolicy[] = [];
  for (const resource of resources) {
    if (hasTargetRefs(resource.spec)) findings.push(targetRefsFinding(resource.spec, `AuthorizationPolicy/${resource.metadata.namespace ?? workload.namespace}/${resource.metadata.name}`));
  }
  const sharedMatchers = new Map();
  for (const scoped of applicable(resources, workload, root)) policies.push(compilePolicy(scoped, { policyNamespace: scoped.namespace, trustDomains, shared: sharedMatchers }, findings));
  return { policies, findings };
}

function compilePolicy({ resource, namespace, id }: Scoped<AuthorizationPolicyResource>, context: AttributeContext, findings: SecurityFinding[]): CompiledPolicy {
  const action = resource.spec.action ?? 'ALLOW';
  const dryRun = (action === 'ALLOW' || action === 'DENY') && parseDryRun(resource.metadata.annotations?.['istio.io/dry-run']);
  const where = `AuthorizationPolicy/${namespace}/${resource.metadata.name}`;
  const rules: CompiledRule[] = [];
  (resource.spec.rules ?? []).forEach((rule, index) => {
    const at = `spec.rules[${index}]`;
    const decision: AuthzDecision = Object.freeze({
      allowed: action !== 'DENY',
      reason: action === 'DENY' ? 'deny-policy' : 'allow-policy',
      policy: id,
      rule: index,
      dryRun,
    } as const);
    try {
      rules.push(compileRule(rule ?? {}, at, index, context, action !== 'ALLOW', decision, (path, message) => findings.push({ severity: 'warning', where, path, message })));
    } catch (error) {
      const problem = error as RuleProblem;
      findings.push({ severity: 'warning', where, path: problem.path ?? at, message: `${problem.message}: rule ${index} is left out of this ${action} policy, as Istio leaves it out` });
    }
  });
  return { id, action, dryRun, ...(action === 'CUSTOM' && { provider: resource.spec.provider?.name ?? '' }), rules, matched: 0 };
}
