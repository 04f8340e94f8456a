import type { VirtualServiceResource } from '../config/load-config.js';
import type { RequestView } from './request-view.js';
import { fullMatcher, type RegexMatcher } from '../config/re2.js';
import { compileStringMatch } from './string-matcher.js';

type MatchSpec = NonNullable<NonNullable<VirtualServiceResource['spec']['http']>[number]['match']>[number];

/** A compiled `HTTPMatchRequest`: every condition must hold. */
export interface CompiledMatch {
  /** The match's `name`, or its index, for explain output. */
  readonly name: string;
  /** True when the request satisfies every condition. */
  test(request: RequestView): boolean;
  /** The first condition that fails, in words, for explain output (undefined when it matches). */
  explainMiss(request: RequestView): string | undefined;
  /** The URI prefix this match tests, if it is a prefix match (a rewrite replaces it). */
  readonly uriPrefix: string | undefined;
  /**
   * The URI condition, kept apart so route lookup can test it inline, without calls:
   * with many routes most are ruled out by the path alone.
   */
  readonly uriKind: UriKind;
  /** For `exact` and `prefix` (lower case when `uriIgnoreCase`). */
  readonly uriValue: string;
  /** For `regex`: an RE2 full match, case-insensitive when `uriIgnoreCase`. */
  readonly uriRegex: RegexMatcher | undefined;
  /** Compare the lower-cased path (`ignoreUriCase`). */
  readonly uriIgnoreCase: boolean;
  /** Every condition except the URI, or undefined when there is none. */
  readonly rest: ((request: RequestView) => boolean) | undefined;
  /**
   * False when the match can never hold for this workload (gateways without "mesh",
   * sourceLabels or sourceNamespace that are not this workload's): Istio leaves such a
   * match out of the sidecar's routes.
   */
  readonly applies: boolean;
  /** The match's `port`, if any (the route applies to requests on that port only). */
  readonly port: number | undefined;
}

/** How a match tests the URI path. */
export enum UriKind {
  Any = 0,
  Exact = 1,
  Prefix = 2,
  Regex = 3,
}

interface Condition {
  readonly label: string;
  readonly test: (request: RequestView) => boolean;
}

/**
 * Compiles one match block. `workloadLabels` and `workloadNamespace` are this process's
 * own: `gateways`, `sourceLabels` and `sourceNamespace` are decided here, once (a match
 * that can never hold for this workload compiles to `never` and `applies: false`).
 */
export function compileMatch(spec: MatchSpec, index: number, workloadLabels: Readonly<Record<string, string>>, workloadNamespace: string): CompiledMatch {
  const conditions: Condition[] = [];
  const add = (label: string, test: (r: RequestView) => boolean): void => void conditions.push({ label, test });
  // Istio's ignoreUriCase reaches Envoy as case_sensitive: false, which Envoy applies to
  // exact and prefix path matches only; a safe_regex path match stays case-sensitive
  // (istio/istio route.go: TranslateRouteMatch; semantics.md §6).
  const ignoreCase = spec.ignoreUriCase === true && spec.uri?.regex === undefined;
  let uriLabel: Condition | undefined;
  if (spec.uri) {
    const m = compileStringMatch(spec.uri, ignoreCase);
    uriLabel = { label: `uri ${describe(spec.uri)}`, test: (r) => m(r.path) };
  }
  if (spec.scheme) {
    const m = compileStringMatch(spec.scheme);
    add(`scheme ${describe(spec.scheme)}`, (r) => m(r.scheme));
  }
  if (spec.method) {
    const m = compileStringMatch(spec.method);
    add(`method ${describe(spec.method)}`, (r) => m(r.method));
  }
  if (spec.authority) {
    const m = compileStringMatch(spec.authority);
    add(`authority ${describe(spec.authority)}`, (r) => m(r.header('host') ?? r.authority));
  }
  for (const [name, match] of Object.entries(spec.headers ?? {})) {
    const header = name.toLowerCase();
    const m = compileStringMatch(match);
    add(`header ${header} ${describe(match)}`, (r) => m(r.header(header)));
  }
  for (const [name, match] of Object.entries(spec.withoutHeaders ?? {})) {
    const header = name.toLowerCase();
    const m = compileStringMatch(match);
    add(`without header ${header} ${describe(match)}`, (r) => !m(r.header(header)));
  }
  for (const [name, match] of Object.entries(spec.queryParams ?? {})) {
    const m = compileStringMatch(match);
    add(`query ${name} ${describe(match)}`, (r) => m(r.query(name)));
  }
  if (spec.port !== undefined) {
    const port = spec.port;
    add(`port ${port}`, (r) => r.port === port);
  }
  // Decided once, for this workload (Istio's sourceMatchHTTP): a match that lists
  // gateways applies to in-process traffic only if it lists "mesh", and then its
  // sourceLabels and sourceNamespace are not looked at; otherwise sourceLabels must be a
  // subset of this workload's labels and sourceNamespace its namespace.
  let applies = true;
  if (spec.gateways !== undefined && spec.gateways.length > 0) {
    applies = spec.gateways.includes('mesh');
    const holds = applies;
    add(`gateways ${JSON.stringify(spec.gateways)} (${holds ? 'includes "mesh"' : 'no "mesh": gateway traffic only'})`, () => holds);
  } else {
    if (spec.sourceLabels) {
      const wanted = Object.entries(spec.sourceLabels);
      const holds = wanted.every(([k, v]) => workloadLabels[k] === v);
      applies &&= holds;
      const label = `sourceLabels ${wanted.map(([k, v]) => `${k}=${v}`).join(',')} (this workload: ${holds ? 'yes' : 'no'})`;
      add(label, () => holds);
    }
    if (spec.sourceNamespace !== undefined && spec.sourceNamespace !== '') {
      const holds = spec.sourceNamespace === workloadNamespace;
      applies &&= holds;
      add(`sourceNamespace ${spec.sourceNamespace} (this workload's: ${workloadNamespace})`, () => holds);
    }
  }
  const name = spec.name ?? `match[${index}]`;
  const uri = spec.uri;
  const uriKind = uri === undefined ? UriKind.Any : uri.exact !== undefined ? UriKind.Exact : uri.prefix !== undefined ? UriKind.Prefix : uri.regex !== undefined ? UriKind.Regex : UriKind.Any;
  const rawValue = uri?.exact ?? uri?.prefix ?? '';
  const rest = conditions.length === 0 ? undefined : conditions.length === 1 ? conditions[0]!.test : allOf(conditions);
  const all = uriLabel ? [uriLabel, ...conditions] : conditions;
  return {
    name,
    uriPrefix: uri?.prefix,
    uriKind,
    uriValue: ignoreCase ? rawValue.toLowerCase() : rawValue,
    uriRegex: uri?.regex !== undefined ? fullMatcher(uri.regex, false) : undefined,
    uriIgnoreCase: ignoreCase,
    rest,
    applies,
    port: spec.port,
    test: (r) => all.every((c) => c.test(r)),
    explainMiss: (r) => all.find((c) => !c.test(r))?.label,
  };
}

function allOf(conditions: readonly Condition[]): (r: RequestView) => boolean {
  const tests = conditions.map((c) => c.test);
  return (r) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(r)) return false;
    return true;
  };
}

function describe(match: { exact?: string | undefined; prefix?: string | undefined; regex?: string | undefined }): string {
  if (match.exact !== undefined) return `exact ${JSON.stringify(match.exact)}`;
  if (match.prefix !== undefined) return `prefix ${JSON.stringify(match.prefix)}`;
  if (match.regex !== undefined) return `regex ${JSON.stringify(match.regex)}`;
  return 'present';
}
