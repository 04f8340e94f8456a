import { indexedValue, type IndexedAttribute, type IndexKey } from './authz-attributes.js';
import type { AuthzDecision, Clause, CompiledPolicy, CompiledRule, Predicate } from './authz-compile.js';
import { ruleMatches } from './authz-evaluate.js';
import type { AuthzRequest } from './request-view.js';

/**
 * The rules of a list of policies (one action's), indexed so a request is matched only
 * against rules it could match: a rule that can only match requests whose peer, path,
 * method, port or a header is one of a few exact values is filed under those values
 * (a rule needs a `from` source, a `to` operation and every `when` condition, so a field
 * that every source, or every operation, or one condition requires exactly is such a
 * key). A request looks its own values up, marks the rules found, and is matched in order
 * against those and the rules without a key. Marks are stamped with a per-request
 * number in a typed array made once: nothing is allocated per request.
 *
 * @module
 */

/** Past this many found rules, scanning every rule beats sorting them. */
const SORT_LIMIT = 32;

/** Which key a rule is filed under, in order of preference (the most selective first). */
const PREFERENCE: readonly ((attribute: IndexedAttribute) => boolean)[] = [(a) => a === 'peer', (a) => a === 'path', (a) => a.startsWith('header:'), (a) => a === 'port', (a) => a === 'method'];

/** The positive keyed predicates of a clause, by attribute (values merged). */
function clauseKeys(clause: Clause): Map<IndexedAttribute, Set<string | number>> {
  const keys = new Map<IndexedAttribute, Set<string | number>>();
  for (const p of clause.predicates) {
    if (p.negate || p.matcher.key === undefined) continue;
    // Two predicates on one attribute both hold: either one's values bound it; keep the first.
    if (!keys.has(p.matcher.key.attribute)) keys.set(p.matcher.key.attribute, new Set(p.matcher.key.values));
  }
  return keys;
}

/** Keys that hold for every clause of a non-empty list (the rule needs one clause to match). */
function everyClauseKeys(clauses: readonly Clause[]): IndexKey[] {
  if (clauses.length === 0) return [];
  const per = clauses.map(clauseKeys);
  const out: IndexKey[] = [];
  for (const attribute of per[0]!.keys()) {
    if (!per.every((keys) => keys.has(attribute))) continue;
    const values = new Set<string | number>();
    for (const keys of per) for (const v of keys.get(attribute)!) values.add(v);
    out.push({ attribute, values: [...values] });
  }
  return out;
}

/** The one predicate of a rule made of one field, or undefined. */
function singlePredicate(rule: CompiledRule): Predicate | undefined {
  const clauses = [...rule.sources, ...rule.operations];
  if (rule.conditions.length === 0 && clauses.length === 1 && clauses[0]!.predicates.length === 1) return clauses[0]!.predicates[0];
  if (rule.conditions.length === 1 && clauses.length === 0) return rule.conditions[0];
  return undefined;
}

/** The key a rule is filed under, or undefined when it has none (it is tried for every request). */
export function ruleKey(rule: CompiledRule): IndexKey | undefined {
  const conditionKeys = rule.conditions.filter((p: Predicate) => !p.negate && p.matcher.key !== undefined).map((p) => p.matcher.key!);
  const candidates = [...everyClauseKeys(rule.sources), ...everyClauseKeys(rule.operations), ...conditionKeys];
  for (const preferred of PREFERENCE) {
    const found = candidates.filter((k) => preferred(k.attribute)).sort((a, b) => a.values.length - b.values.length)[0];
    if (found !== undefined) return found;
  }
  return undefined;
}

interface AttributeIndex {
  readonly attribute: IndexedAttribute;
  readonly rules: ReadonlyMap<string | number, Uint32Array>;
}

/** The rules of some policies, in order, indexed (see the module comment). */
export class PolicyGroup {
  /** The policies, in order. */
  readonly policies: readonly CompiledPolicy[];
  private readonly rules: readonly CompiledRule[];
  /** For a rule that is one field (`from: [{source: {namespaces: [dev]}}]`, the common case): that field, tested directly. */
  private readonly single: readonly (Predicate | undefined)[];
  private readonly owners: readonly CompiledPolicy[];
  /** 1 for a rule without a key. */
  private readonly always: Uint8Array;
  /** The rules without a key, ascending. */
  private readonly unkeyed: Uint32Array;
  private readonly marks: Uint32Array;
  /** The keyed rules a request found, gathered here before they are sorted. */
  private readonly found: Uint32Array;
  private readonly indexes: readonly AttributeIndex[];
  private epoch = 0;

  constructor(policies: readonly CompiledPolicy[]) {
    this.policies = policies;
    const rules: CompiledRule[] = [];
    const owners: CompiledPolicy[] = [];
    for (const policy of policies) {
      for (const rule of policy.rules) {
        rules.push(rule);
        owners.push(policy);
      }
    }
    this.rules = rules;
    this.single = rules.map(singlePredicate);
    this.owners = owners;
    this.always = new Uint8Array(rules.length);
    this.marks = new Uint32Array(rules.length);
    this.found = new Uint32Array(rules.length);
    const byAttribute = new Map<IndexedAttribute, Map<string | number, number[]>>();
    rules.forEach((rule, i) => {
      const key = ruleKey(rule);
      if (key === undefined) {
        this.always[i] = 1;
        return;
      }
      let map = byAttribute.get(key.attribute);
      if (map === undefined) byAttribute.set(key.attribute, (map = new Map()));
      for (const value of key.values) {
        const list = map.get(value);
        if (list === undefined) map.set(value, [i]);
        else if (list[list.length - 1] !== i) list.push(i);
      }
    });
    this.indexes = [...byAttribute].map(([attribute, map]) => ({ attribute, rules: new Map([...map].map(([v, list]) => [v, Uint32Array.from(list)])) }));
    this.unkeyed = Uint32Array.from(rules.keys()).filter((i) => this.always[i] === 1);
  }

  /** How many rules have no key (tried for every request), for diagnostics. */
  get unindexedRules(): number {
    return this.always.reduce((n, a) => n + a, 0);
  }

  /** The decision of the first rule (in policy order) the request matches, counting it; undefined when none does. */
  firstMatch(req: AuthzRequest): AuthzDecision | undefined {
    const rules = this.rules;
    if (rules.length === 0) return undefined;
    let epoch = ++this.epoch;
    if (epoch === 0xffffffff) {
      this.marks.fill(0);
      epoch = this.epoch = 1;
    }
    // Gather the keyed rules this request's values name, each once.
    const marks = this.marks;
    const found = this.found;
    let count = 0;
    const indexes = this.indexes;
    for (let k = 0; k < indexes.length; k++) {
      const index = indexes[k]!;
      const value = indexedValue(index.attribute, req);
      if (value === undefined) continue;
      const list = index.rules.get(value);
      if (list === undefined) continue;
      for (let j = 0; j < list.length; j++) {
        const i = list[j]!;
        if (marks[i] !== epoch) {
          marks[i] = epoch;
          found[count++] = i;
        }
      }
    }
    if (count > SORT_LIMIT) return this.scan(req, epoch);
    // Insertion sort: a request names few rules.
    for (let a = 1; a < count; a++) {
      const v = found[a]!;
      let b = a - 1;
      while (b >= 0 && found[b]! > v) {
        found[b + 1] = found[b]!;
        b--;
      }
      found[b + 1] = v;
    }
    // Try the found rules and the rules without a key, merged in rule order.
    const unkeyed = this.unkeyed;
    let f = 0;
    let u = 0;
    while (f < count || u < unkeyed.length) {
      const i = u === unkeyed.length || (f < count && found[f]! < unkeyed[u]!) ? found[f++]! : unkeyed[u++]!;
      if (this.tryRule(i, req)) return this.matched(i);
    }
    return undefined;
  }

  private tryRule(i: number, req: AuthzRequest): boolean {
    const single = this.single[i];
    return single !== undefined ? single.matcher.matches(req) !== single.negate : ruleMatches(this.rules[i]!, req);
  }

  /** Every rule in order, trying the unkeyed and the marked ones (many rules found). */
  private scan(req: AuthzRequest, epoch: number): AuthzDecision | undefined {
    const rules = this.rules;
    const always = this.always;
    const marks = this.marks;
    for (let i = 0; i < rules.length; i++) {
      if ((always[i] === 1 || marks[i] === epoch) && this.tryRule(i, req)) return this.matched(i);
    }
    return undefined;
  }

  private matched(i: number): AuthzDecision {
    this.owners[i]!.matched++;
    return this.rules[i]!.decision;
  }
}
