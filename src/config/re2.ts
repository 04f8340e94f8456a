import { RE2JS } from 're2js';

/**
 * Regular expressions of the config (VirtualService `regex` matches and
 * `uriRegexRewrite`) run on request data, which an attacker may control. They use RE2, as
 * Istio and Envoy do: matching is linear in the input whatever the pattern (no
 * backtracking), and the syntax is RE2's (`(?i)`, `[[:digit:]]`, `\pL`; no
 * backreferences, no lookarounds). We use `re2js`, a pure JavaScript port of RE2.
 *
 * Bounds, so a pattern's cost is bounded too:
 * - {@link MAX_REGEX_LENGTH} characters (Istio's own validation limit);
 * - {@link MAX_PROGRAM_SIZE} RE2 instructions: matching costs at worst the input length
 *   times the program size, and `[a-z]{1000}` repeated fits in 1024 characters.
 *
 * Compiled patterns are cached by text and flags, so a reload that keeps a pattern does
 * not compile it again, and validation and route compilation compile it once.
 */

/** The longest pattern accepted, in characters: Istio refuses longer ones. */
export const MAX_REGEX_LENGTH = 1024;
/** The largest RE2 program accepted, in instructions (`RE2JS.programSize()`). */
export const MAX_PROGRAM_SIZE = 10_000;
/** Patterns kept compiled; the cache is emptied when it fills (configs hold far fewer). */
const MAX_CACHED = 4096;

/** A compiled pattern and what its literal prefix lets us decide without running it. */
interface Compiled {
  readonly re: RE2JS;
  /** A literal every full match starts with ('' when none). */
  readonly prefix: string;
  /** The pattern is exactly that literal. */
  readonly literal: boolean;
  readonly groups: number;
}

const cache = new Map<string, Compiled | string>();

/**
 * Compiles a pattern with RE2, or returns why it cannot be used, in words that name RE2.
 * Results (either way) are cached.
 */
function compile(pattern: string, ignoreCase: boolean): Compiled | string {
  const key = `${ignoreCase ? 'i' : '-'}${pattern}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const result = compileUncached(pattern, ignoreCase);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, result);
  return result;
}

function compileUncached(pattern: string, ignoreCase: boolean): Compiled | string {
  if (pattern.length > MAX_REGEX_LENGTH) {
    return `an RE2 regular expression of at most ${MAX_REGEX_LENGTH} characters (Istio's limit); this one has ${pattern.length}`;
  }
  const estimate = estimateProgramSize(pattern);
  // The estimate runs before compiling, so a huge program costs no compile time; it can
  // overshoot, so only far beyond the limit is it trusted to refuse on its own.
  if (estimate > 4 * MAX_PROGRAM_SIZE) return programTooLarge(`about ${estimate}`);
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (error) {
    const reason = (error as Error).message.replace(/^error parsing regexp:\s*/, '');
    const hint = /invalid escape sequence: `\\[1-9]|invalid or unsupported Perl syntax: `\(\?[=!<]/.test((error as Error).message)
      ? ' (RE2 has no backreferences or lookarounds)'
      : '';
    return `an RE2 regular expression; RE2 says: ${reason}${hint}`;
  }
  const size = re.programSize();
  if (size > MAX_PROGRAM_SIZE) return programTooLarge(String(size));
  const re2 = re.re2();
  const prefix = typeof re2.prefix === 'string' ? re2.prefix : '';
  return { re, prefix, literal: prefix !== '' && re2.prefixComplete === true, groups: re.groupCount() };
}

function programTooLarge(size: string): string {
  return `an RE2 regular expression that compiles to at most ${MAX_PROGRAM_SIZE} instructions (this one: ${size}); large counted repetitions such as {1000} cost the most`;
}

/**
 * An upper estimate of the RE2 program size of a pattern, from its text: each atom
 * counts 1, a counted repetition `{n,m}` multiplies what it repeats by its largest count,
 * nested groups multiply through. Cheap and without compiling.
 */
export function estimateProgramSize(pattern: string): number {
  // One frame per open group: the size so far, and the size of the last atom (what a
  // following quantifier repeats).
  const stack: Array<{ total: number; last: number }> = [{ total: 0, last: 0 }];
  const top = (): { total: number; last: number } => stack[stack.length - 1]!;
  const atom = (size: number): void => {
    const frame = top();
    frame.total += size;
    frame.last = size;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      // \p{Greek}, \x{263a}: the braces belong to the escape.
      if (pattern[i + 1] === '{' && /[pPx]/.test(pattern[i] ?? '')) i = Math.max(i, pattern.indexOf('}', i));
      atom(1);
    } else if (c === '[') {
      // A character class is one instruction; skip to its closing bracket.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : pattern.startsWith('[:', j) ? Math.max(2, pattern.indexOf(':]', j) + 2 - j) : 1;
      i = j;
      atom(1);
    } else if (c === '(') {
      stack.push({ total: 2, last: 0 });
    } else if (c === ')') {
      if (stack.length > 1) {
        const group = stack.pop()!;
        atom(group.total);
      }
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 16));
      if (m === null) {
        atom(1);
        continue;
      }
      const count = Math.max(Number(m[1]), m[3] ? Number(m[3]) : 0, 1);
      const frame = top();
      frame.total += frame.last * (count - 1) + count;
      frame.last *= count;
      i += m[0].length - 1;
    } else if (c === '*' || c === '+' || c === '?') {
      top().total += 1;
    } else if (c === '|') {
      top().total += 1;
      top().last = 0;
    } else {
      atom(1);
    }
  }
  while (stack.length > 1) atom(stack.pop()!.total);
  return stack[0]!.total + 2;
}

/**
 * Why `pattern` cannot be a config regex (a sentence naming RE2 and what is expected),
 * or `undefined` when it can.
 */
export function re2Problem(pattern: string, ignoreCase = false): string | undefined {
  const result = compile(pattern, ignoreCase);
  return typeof result === 'string' ? result : undefined;
}

/** A compiled match: `test` says whether a value matches the whole pattern. */
export interface RegexMatcher {
  /** The pattern as written. */
  readonly source: string;
  /** True when the pattern matches the whole value (Envoy's `safe_regex` is a full match). */
  test(value: string): boolean;
}

/**
 * A full-match tester for a validated pattern. A literal prefix of the pattern is checked
 * first with `startsWith`, so most non-matching values never reach the RE2 engine (route
 * lookup tries many routes per request). Throws `TypeError` for a pattern that did not
 * pass {@link re2Problem} (validation runs first).
 */
export function fullMatcher(pattern: string, ignoreCase = false): RegexMatcher {
  const compiled = compiled_(pattern, ignoreCase);
  const { re, prefix } = compiled;
  if (compiled.literal) return { source: pattern, test: (value) => value === prefix };
  if (prefix !== '') return { source: pattern, test: (value) => value.startsWith(prefix) && re.testExact(value) };
  return { source: pattern, test: (value) => re.testExact(value) };
}

function compiled_(pattern: string, ignoreCase: boolean): Compiled {
  const compiled = compile(pattern, ignoreCase);
  if (typeof compiled === 'string') throw new TypeError(`regex ${JSON.stringify(pattern)}: expected ${compiled}`);
  return compiled;
}

/** A compiled `uriRegexRewrite`: every match of the pattern in a path is replaced. */
export interface RegexRewriter {
  /** The pattern as written. */
  readonly source: string;
  /**
   * The path with every non-overlapping match replaced (Envoy's `regex_rewrite`), or
   * `undefined` when that took longer than {@link rewriteBudgetMs} allows for the path.
   */
  rewrite(path: string): string | undefined;
}

/**
 * The time a `uriRegexRewrite` may take on one path: 100 ms plus 20 µs per character.
 *
 * Matching once is linear in the path (RE2), but a global replace searches again from
 * the end of each match, and each search may read on to the end of the path before it
 * settles on a short match (`a*b|a` reads every following `a` before `a` wins): the cost
 * is the number of matches times the path's length. RE2 and Envoy share this shape; in
 * JavaScript a 6,000-character path took seconds. Ordinary rewrites take a small fraction
 * of this budget, even the first one (cold code) on a busy machine: a 8,000-character path
 * with 4,000 matches takes 5-100 ms. A hostile path is cut off after time linear in its
 * length. The clock is read after each match.
 */
export function rewriteBudgetMs(pathLength: number): number {
  return 100 + pathLength / 50;
}

/** A rewrite template, parsed: literal text and group numbers. */
type TemplatePart = string | number;

/**
 * Parses an RE2 rewrite template: `\0`..`\9` insert a group (`\0` the whole match), `\\`
 * a backslash; any other backslash is an error, as in RE2. Returns the parts, or why the
 * template is invalid for a pattern with `groups` groups.
 */
function parseTemplate(template: string, groups: number): TemplatePart[] | string {
  const parts: TemplatePart[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '\\') {
      literal += c;
      continue;
    }
    const next = template[++i];
    if (next === '\\') {
      literal += '\\';
    } else if (next !== undefined && next >= '0' && next <= '9') {
      const group = Number(next);
      if (group > groups) return `a rewrite whose \\N references exist: \\${group} but the match has ${groups} group(s)`;
      if (literal !== '') parts.push(literal);
      literal = '';
      parts.push(group);
    } else {
      return `an RE2 rewrite template: a backslash starts \\0..\\9 (a group) or \\\\ (a backslash), not ${JSON.stringify(`\\${next ?? ''}`)}`;
    }
  }
  if (literal !== '') parts.push(literal);
  return parts;
}

/** Why `template` cannot rewrite with `pattern`, or undefined (the pattern itself is checked by {@link re2Problem}). */
export function rewriteProblem(pattern: string, template: string): string | undefined {
  const compiled = compile(pattern, false);
  if (typeof compiled === 'string') return undefined;
  const parts = parseTemplate(template, compiled.groups);
  return typeof parts === 'string' ? parts : undefined;
}

/**
 * A rewriter for a validated `uriRegexRewrite`: every non-overlapping match of `pattern`
 * (leftmost-first, as RE2's global replace) is replaced by `template`, whose `\N` insert
 * groups. `$` has no special meaning in the template (JavaScript's replace would read
 * `$1` there).
 */
export function regexRewriter(pattern: string, template: string): RegexRewriter {
  const { re, groups } = compiled_(pattern, false);
  const parts = parseTemplate(template, groups);
  if (typeof parts === 'string') throw new TypeError(`rewrite ${JSON.stringify(template)}: expected ${parts}`);
  const rewrite = (path: string): string | undefined => {
    const matcher = re.matcher(path);
    const deadline = performance.now() + rewriteBudgetMs(path.length);
    let out = '';
    let copied = 0;
    while (matcher.find()) {
      out += path.slice(copied, matcher.start());
      for (const part of parts) out += typeof part === 'string' ? part : (matcher.group(part) ?? '');
      copied = matcher.end();
      if (performance.now() > deadline) return undefined;
    }
    return copied === 0 && out === '' ? path : out + path.slice(copied);
  };
  return { source: pattern, rewrite };
}
