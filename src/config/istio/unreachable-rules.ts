import type { z } from 'zod';
import type { Findings } from './findings.js';
import type { httpMatchSchema } from './http-route.js';

/**
 * Warnings for http rules that can never be used, as Istio's analysis gives them
 * (istio/istio pkg/config/validation/validation.go: analyzeUnreachableHTTPRules): a rule
 * after a rule without matches (a catch-all), a rule whose every match appeared in an
 * earlier rule, and a prefix match that an earlier prefix match with the same other
 * conditions covers. Our own code.
 *
 * @module
 */

type Match = z.output<typeof httpMatchSchema>;

/** A match's conditions in a canonical text (keys sorted, `name` left out), to find duplicates. */
function canonical(match: Match): string {
  const { name: _name, ...rest } = match;
  return stable(rest);
}

function stable(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stable(v)}`).join(',')}}`;
}

/** `exact:x`, `prefix:x`, or '' (Istio's assignExactOrPrefix). */
function exactOrPrefix(m: { exact?: string | undefined; prefix?: string | undefined } | undefined): string {
  if (m?.exact) return `exact:${m.exact}`;
  if (m?.prefix) return `prefix:${m.prefix}`;
  return '';
}

interface PrefixMatch {
  readonly rule: number;
  readonly match: number;
  readonly prefix: string;
  readonly port: number | undefined;
  readonly method: string;
  readonly authority: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly queryParams: ReadonlyMap<string, string>;
  readonly withoutHeaders: ReadonlyMap<string, string>;
}

function prefixMatch(match: Match, rule: number, index: number): PrefixMatch | undefined {
  const prefix = match.uri?.prefix;
  if (!prefix) return undefined;
  const map = (r: Record<string, { exact?: string | undefined; prefix?: string | undefined }> | undefined): Map<string, string> =>
    new Map(Object.entries(r ?? {}).map(([k, v]) => [k, exactOrPrefix(v)]));
  return {
    rule,
    match: index,
    prefix,
    port: match.port || undefined,
    method: exactOrPrefix(match.method) || 'exact:GET',
    authority: exactOrPrefix(match.authority),
    headers: map(match.headers),
    queryParams: map(match.queryParams),
    withoutHeaders: map(match.withoutHeaders),
  };
}

/** Whether every value of `a` equals or starts with the one `b` has for the same key, and the key sets agree. */
function mapCovers(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) {
    const other = b.get(key);
    if (other === undefined || (value !== other && !value.startsWith(other))) return false;
  }
  return true;
}

/** Istio's coveredValidation: the earlier prefix match `a` takes every request the later `b` would. */
function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix) || a.port !== b.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  return mapCovers(a.headers, b.headers) && mapCovers(a.queryParams, b.queryParams) && mapCovers(a.withoutHeaders, b.withoutHeaders);
}

/**
 * How many prefix comparisons the overlap analysis makes at most: it is quadratic in the
 * number of prefix matches, and only gives warnings, so a huge VirtualService costs a
 * bounded time instead (the analysis says where it stopped).
 */
export const MAX_PREFIX_COMPARISONS = 1_000_000;

/** Warns about http rules and matches that can never be used. */
export function checkUnreachableRules(routes: ReadonlyArray<{ match?: Match[] | undefined }>, findings: Findings): void {
  const seen = new Map<string, number>();
  let catchAll = -1;
  const prefixes: PrefixMatch[] = [];
  routes.forEach((route, r) => {
    const matches = route.match ?? [];
    if (matches.length === 0) {
      if (catchAll >= 0) findings.warn(['spec', 'http', r], `this rule is never used: rule ${catchAll} before it has no match and takes every request (only the last rule may have no match)`);
      catchAll = r;
      return;
    }
    let duplicates = 0;
    matches.forEach((match, m) => {
      if (catchAll >= 0) {
        findings.warn(['spec', 'http', r], `this rule is never used: rule ${catchAll} before it has no match and takes every request`);
        return;
      }
      const key = canonical(match);
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        findings.warn(['spec', 'http', r, 'match', m], `this match is never used: rule ${earlier} has the same match`);
        duplicates++;
        return;
      }
      seen.set(key, r);
      const prefix = prefixMatch(match, r, m);
      if (prefix !== undefined) prefixes.push(prefix);
    });
    if (catchAll < 0 && duplicates === matches.length) findings.warn(['spec', 'http', r], 'this rule is never used: earlier rules have all of its matches');
  });
  let budget = MAX_PREFIX_COMPARISONS;
  for (let i = 0; i < prefixes.length; i++) {
    for (let j = i + 1; j < prefixes.length; j++) {
      if (--budget < 0) {
        findings.warn(['spec', 'http'], `the analysis of overlapping prefix matches stopped after ${MAX_PREFIX_COMPARISONS} comparisons (${prefixes.length} prefix matches); later overlaps are not reported`);
        return;
      }
      const a = prefixes[i]!;
      const b = prefixes[j]!;
      if (a.prefix !== b.prefix && covers(a, b)) {
        findings.warn(['spec', 'http', b.rule, 'match', b.match], `this match is never used: prefix "${a.prefix}" of rule ${a.rule} match ${a.match} takes every request it would`);
      }
    }
  }
}
