import type { ServiceNamer } from '../discovery/service-name.js';
import { byCreation } from './creation-order.js';
import type { DestinationRuleResource, Located } from './load-config.js';

type Spec = DestinationRuleResource['spec'];
type TrafficPolicy = NonNullable<Spec['trafficPolicy']>;
type Subset = NonNullable<Spec['subsets']>[number];

/** The mesh as a client: its namespace, Istio's root namespace and its own labels. */
export interface RuleClient {
  /** The namespace this workload runs in (Istio's proxy namespace). */
  readonly namespace: string;
  /** Istio's config root namespace (MeshConfig `rootNamespace`, default `istio-system`). */
  readonly rootNamespace: string;
  /** This workload's labels, for `workloadSelector`. */
  readonly labels: Readonly<Record<string, string>>;
}

/** One or more DestinationRules for one host, merged as Istio merges them. */
export interface EffectiveDestinationRule {
  /** The host, resolved (an FQDN, or a wildcard as written, lower case). */
  readonly host: string;
  /** The namespace the rules are in. */
  readonly namespace: string;
  /** The top-level traffic policy in force: the oldest rule's that has one. */
  readonly trafficPolicy: TrafficPolicy | undefined;
  /** The subsets of every merged rule, the first definition of a name kept. */
  readonly subsets: readonly Subset[];
  /** The merged rules, oldest first. */
  readonly rules: readonly Located<DestinationRuleResource>[];
  /** `workloadSelector.matchLabels`, when the rules have one. */
  readonly selector: Readonly<Record<string, string>> | undefined;
  /** The rules' annotations (our extensions), each key from the oldest rule that has it. */
  readonly annotations: Readonly<Record<string, unknown>>;
  /** The rules, for messages: `DestinationRule/a (mesh.yaml#1) + DestinationRule/b (mesh.yaml#3)`. */
  readonly where: string;
}

interface Consolidated {
  readonly rule: MutableRule;
  /** `exportTo` as written (Istio compares the raw sets when merging). */
  readonly exportTo: ReadonlySet<string>;
}

interface MutableRule {
  host: string;
  namespace: string;
  trafficPolicy: TrafficPolicy | undefined;
  subsets: Subset[];
  rules: Array<Located<DestinationRuleResource>>;
  selector: Readonly<Record<string, string>> | undefined;
  annotations: Readonly<Record<string, unknown>>;
  where: string;
}

/** Rules by host: exact hosts and wildcards apart, as Istio indexes them. */
class HostRules {
  readonly specific = new Map<string, Consolidated[]>();
  readonly wildcard = new Map<string, Consolidated[]>();
}

function selectorOf(rule: DestinationRuleResource): Readonly<Record<string, string>> | undefined {
  const selector = rule.spec.workloadSelector;
  return selector === undefined ? undefined : (selector.matchLabels ?? {});
}

function sameLabels(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  const ak = Object.keys(a ?? {});
  if (ak.length !== Object.keys(b ?? {}).length) return false;
  return ak.every((k) => a![k] === b?.[k]);
}

function isSubsetOf(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const key in selector) if (labels[key] !== selector[key]) return false;
  return true;
}

/** `b` holds every entry of `a`. */
function supersetOf(b: ReadonlySet<string>, a: ReadonlySet<string>): boolean {
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function equalSets(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && supersetOf(b, a);
}

/**
 * Which DestinationRule applies to a service, as Istio decides it for a sidecar (Pilot
 * model/push_context.go: setDestinationRules, destinationRule,
 * getExportedDestinationRuleFromNamespace; model/destination_rule.go:
 * mergeDestinationRule; model/sidecar.go: SidecarScope.DestinationRule; semantics.md §5):
 *
 * 1. the rules of the mesh's own namespace visible there (exportTo unset, `*`, `.` or
 *    the namespace) — in the root namespace, only its private rules;
 * 2. else the rules of the service's namespace exported to the mesh's namespace;
 * 3. else those of the root namespace exported to it.
 *
 * At each step the most specific host wins: the exact host, else the longest wildcard
 * (`*.tenants.example` before `*.example`, `*` last). Rules for one host in one namespace
 * are merged, oldest first: subsets concatenated (a repeated name keeps its first
 * definition), the top-level traffic policy of the oldest rule that has one. A rule
 * with a `workloadSelector` applies only to a workload whose labels it selects, is
 * never exported, and is preferred over one without.
 */
export class DestinationRuleIndex {
  readonly #namespaceLocal = new Map<string, HostRules>();
  readonly #exported = new Map<string, HostRules>();
  readonly #rootLocal = new HostRules();
  readonly #client: RuleClient;
  readonly #warnings = new Set<string>();
  /** Every rule loaded, in Istio's order (for checks that go over all of them). */
  readonly all: readonly Located<DestinationRuleResource>[];

  constructor(rules: readonly Located<DestinationRuleResource>[], namer: ServiceNamer, client: RuleClient) {
    this.#client = client;
    // Rules with a selector first, then oldest first (sortConfigBySelectorAndCreationTime).
    const ordered = byCreation(rules);
    const sorted = [...ordered.filter((r) => selectorOf(r.resource) !== undefined), ...ordered.filter((r) => selectorOf(r.resource) === undefined)];
    this.all = sorted;
    for (const located of sorted) {
      const { resource, namespace } = located;
      const raw = resource.spec.host.toLowerCase();
      const host = raw.startsWith('*') ? raw : namer.nameIn(raw, namespace).fqdn;
      const selector = selectorOf(resource);
      // A rule with a workloadSelector is never exported (it behaves as exportTo: ["."]).
      const exportTo = new Set<string>(selector === undefined ? (resource.spec.exportTo ?? []) : ['.']);
      if (exportTo.size === 0 || exportTo.has('*') || exportTo.has('.') || exportTo.has(namespace)) {
        this.#merge(this.#bucket(this.#namespaceLocal, namespace), host, located, exportTo, selector);
      }
      const privateOnly = exportTo.size === 1 && (exportTo.has('.') || exportTo.has(namespace));
      if (!privateOnly) this.#merge(this.#bucket(this.#exported, namespace), host, located, exportTo, selector);
      else if (namespace === client.rootNamespace) this.#merge(this.#rootLocal, host, located, exportTo, selector);
    }
  }

  /** What merging found: repeated subsets, traffic policies set aside (each once). */
  get warnings(): readonly string[] {
    return [...this.#warnings];
  }

  #bucket(map: Map<string, HostRules>, namespace: string): HostRules {
    let rules = map.get(namespace);
    if (rules === undefined) map.set(namespace, (rules = new HostRules()));
    return rules;
  }

  #merge(index: HostRules, host: string, located: Located<DestinationRuleResource>, exportTo: ReadonlySet<string>, selector: Readonly<Record<string, string>> | undefined): void {
    const map = host.startsWith('*') ? index.wildcard : index.specific;
    const list = map.get(host);
    const spec = located.resource.spec;
    if (list === undefined) {
      map.set(host, [{ rule: fresh(host, located, selector), exportTo }]);
      return;
    }
    let separately = true;
    for (const existing of list) {
      // ENABLE_ENHANCED_DESTINATIONRULE_MERGE (on): only rules with the same exportTo merge
      // into one; a rule whose exportTo is a superset of the other's also merges and is
      // kept on its own as well.
      if (equalSets(exportTo, existing.exportTo)) separately = false;
      else if (existing.exportTo.size > 0 && supersetOf(exportTo, existing.exportTo)) separately = true;
      else {
        separately = true;
        continue;
      }
      const mergedSelector = existing.rule.selector;
      const bothWith = mergedSelector !== undefined && selector !== undefined;
      if (bothWith && !sameLabels(mergedSelector, selector)) {
        separately = true;
        continue;
      }
      if ((mergedSelector === undefined && selector === undefined) || bothWith) separately = false;
      const target = existing.rule;
      target.rules = [...target.rules, located];
      target.where = `${target.where} + ${located.where}`;
      const names = new Set(target.subsets.map((s) => s.name));
      const added: Subset[] = [];
      for (const subset of spec.subsets ?? []) {
        if (names.has(subset.name)) {
          this.#warnings.add(`${located.where}: subset "${subset.name}" of host ${host} is already defined by ${target.rules[0]!.where}; Istio keeps the first definition and ignores this one`);
        } else {
          names.add(subset.name);
          added.push(subset);
        }
      }
      target.subsets = [...target.subsets, ...added];
      target.annotations = { ...annotationsOf(located), ...target.annotations };
      if (target.trafficPolicy === undefined) target.trafficPolicy = spec.trafficPolicy;
      else if (spec.trafficPolicy !== undefined) {
        this.#warnings.add(
          `${located.where}: spec.trafficPolicy is ignored: ${target.rules[0]!.where} applies to host ${host} too and is older; Istio merges the two rules' subsets and keeps the oldest rule's traffic policy (move the policy there, or into a subset)`,
        );
      }
    }
    if (separately) list.push({ rule: fresh(host, located, selector), exportTo });
  }

  /**
   * The rule in force for calls from this mesh to the service named `fqdn` (also
   * spelled `host`), whose own namespace is `serviceNamespace` (undefined when
   * unknown: an external name no ServiceEntry declares).
   */
  lookup(fqdn: string, host: string, serviceNamespace: string | undefined): EffectiveDestinationRule | undefined {
    const { namespace: client, rootNamespace: root } = this.#client;
    let found = client !== root ? mostSpecific(this.#namespaceLocal.get(client), fqdn, host) : mostSpecific(this.#rootLocal, fqdn, host);
    if (found === undefined && serviceNamespace !== undefined) found = this.#exportedFrom(serviceNamespace, fqdn, host);
    if (found === undefined) found = this.#exportedFrom(root, fqdn, host);
    if (found === undefined) return undefined;
    let catchAll: Consolidated | undefined;
    for (const candidate of found) {
      const selector = candidate.rule.selector;
      if (selector === undefined) catchAll = candidate;
      else if (candidate.rule.namespace === client && isSubsetOf(selector, this.#client.labels)) return candidate.rule;
    }
    return catchAll?.rule;
  }

  #exportedFrom(namespace: string, fqdn: string, host: string): Consolidated[] | undefined {
    const found = mostSpecific(this.#exported.get(namespace), fqdn, host);
    if (found === undefined) return undefined;
    const client = this.#client.namespace;
    const visible = found.filter((c) => c.exportTo.size === 0 || c.exportTo.has('*') || c.exportTo.has(client));
    return visible.length > 0 ? visible : undefined;
  }
}

function fresh(host: string, located: Located<DestinationRuleResource>, selector: Readonly<Record<string, string>> | undefined): MutableRule {
  const spec = located.resource.spec;
  return { host, namespace: located.namespace, trafficPolicy: spec.trafficPolicy, subsets: [...(spec.subsets ?? [])], rules: [located], selector, annotations: annotationsOf(located), where: located.where };
}

function annotationsOf(located: Located<DestinationRuleResource>): Readonly<Record<string, unknown>> {
  const annotations = located.resource.metadata['annotations'];
  return annotations !== null && typeof annotations === 'object' ? (annotations as Record<string, unknown>) : {};
}

/**
 * Istio's MostSpecificHostMatch for a service: the exact host, else the most specific
 * wildcard whose suffix the name ends with (longest first, then alphabetical).
 */
function mostSpecific(index: HostRules | undefined, fqdn: string, host: string): Consolidated[] | undefined {
  if (index === undefined) return undefined;
  const exact = index.specific.get(fqdn);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  for (const pattern of index.wildcard.keys()) {
    const suffix = pattern.slice(1);
    if (!fqdn.endsWith(suffix) && !host.endsWith(suffix)) continue;
    if (best === undefined || pattern.length > best.length || (pattern.length === best.length && pattern < best)) best = pattern;
  }
  return best === undefined ? undefined : index.wildcard.get(best);
}
