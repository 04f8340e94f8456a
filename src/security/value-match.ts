/**
 * The string matches of AuthorizationPolicy values, compiled once into sets that test a
 * request's value without allocating. Istio turns each value into an Envoy matcher
 * (istio/istio pilot/pkg/security/authz/matcher string.go, header.go); the four forms
 * are exact `abc`, prefix `abc*`, suffix `*abc` and `*`, and what `*` means depends on
 * the attribute:
 *
 * - `plain` (paths, namespaces in conditions, SNI, claims): `*` is a non-empty value
 *   (Envoy's regex `.+`);
 * - `header` (request headers, methods): `*` is a header that is present, even empty;
 * - `host`: as `header`, compared without regard to ASCII case;
 * - `spiffe` (principals): the value with `spiffe://` put in front, so `*` is any
 *   non-empty identity and `*-reader` is `spiffe://` followed by anything ending in
 *   `-reader`.
 *
 * Our own code, from the matcher semantics above.
 *
 * @module
 */
import { RememberingSet } from './remembering-set.js';

/** How `*` and case work for one attribute (see the module comment). */
export type ValueKind = 'plain' | 'header' | 'host' | 'spiffe';

const SPIFFE = 'spiffe://';

/** A prefix and a suffix that must both hold, without overlapping. */
interface Affix {
  readonly prefix: string;
  readonly suffix: string;
  readonly minLength: number;
}

/** ASCII lower case (the case folding Envoy's `ignore_case` does). */
function lowerAscii(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 65 && c <= 90) return value.toLowerCase();
  }
  return value;
}

/** Whether `value` starts with `prefix` and ends with `suffix` without the two overlapping. */
function affixMatches(value: string, affix: Affix): boolean {
  return value.length >= affix.minLength && value.startsWith(affix.prefix) && value.endsWith(affix.suffix);
}

/** Whether `value[at, at + lower.length)` is `lower` (already lower case) ignoring ASCII case. */
function regionIgnoringCase(value: string, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = value.charCodeAt(at + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function hasUpperAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

/**
 * A compiled list of values (any may match). `matches(undefined)` is false: an absent
 * attribute matches no value, so the `not` form of a list matches it.
 */
export class ValueSet extends RememberingSet {
  private readonly exact: ReadonlySet<string>;
  /** The exact values as a list, for comparisons ignoring case. */
  private readonly exactList: readonly string[];
  private readonly affixes: readonly Affix[];
  /** `*` was listed: any present (header, host) or non-empty (plain, spiffe) value. */
  private readonly any: boolean;
  private readonly presentIsEnough: boolean;
  private readonly ignoreCase: boolean;
  constructor(values: readonly string[], kind: ValueKind) {
    super(values);
    const exact = new Set<string>();
    const affixes: Affix[] = [];
    let any = false;
    const ignoreCase = kind === 'host';
    const front = kind === 'spiffe' ? SPIFFE : '';
    for (const raw of values) {
      const value = ignoreCase ? lowerAscii(raw) : raw;
      if (value === '*') any = true;
      else if (value.startsWith('*')) affixes.push({ prefix: front, suffix: value.slice(1), minLength: front.length + value.length - 1 });
      else if (value.endsWith('*')) affixes.push({ prefix: front + value.slice(0, -1), suffix: '', minLength: front.length + value.length - 1 });
      else exact.add(front + value);
    }
    this.exact = exact;
    this.exactList = [...exact];
    this.affixes = affixes;
    this.any = any;
    this.presentIsEnough = kind === 'header' || kind === 'host';
    this.ignoreCase = ignoreCase;
  }

  protected override compute(value: string): boolean {
    if (this.any && (this.presentIsEnough || value.length > 0)) return true;
    // Hosts are nearly always lower case already; a mixed-case one is compared letter by letter.
    if (this.ignoreCase && hasUpperAscii(value)) return this.matchesIgnoringCase(value);
    if (this.exact.has(value)) return true;
    const affixes = this.affixes;
    for (let i = 0; i < affixes.length; i++) if (affixMatches(value, affixes[i]!)) return true;
    return false;
  }

  private matchesIgnoringCase(value: string): boolean {
    const exact = this.exactList;
    for (let i = 0; i < exact.length; i++) if (exact[i]!.length === value.length && regionIgnoringCase(value, 0, exact[i]!)) return true;
    const affixes = this.affixes;
    for (let i = 0; i < affixes.length; i++) {
      const { prefix, suffix, minLength } = affixes[i]!;
      if (value.length >= minLength && regionIgnoringCase(value, 0, prefix) && regionIgnoringCase(value, value.length - suffix.length, suffix)) return true;
    }
    return false;
  }

  /**
   * The values when they are all exact (no `*` form) and case matters, else undefined:
   * then a value matches exactly when it is one of these, which an index can use.
   */
  exactValues(): readonly string[] | undefined {
    return this.any || this.affixes.length > 0 || this.ignoreCase ? undefined : this.exactList;
  }

  /** Whether one of `values` (a list claim) matches. */
  matchesAny(values: readonly unknown[]): boolean {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v === 'string' && this.matches(v)) return true;
    }
    return false;
  }
}
