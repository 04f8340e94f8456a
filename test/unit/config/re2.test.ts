import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { createMesh, InvalidConfigError } from 'proxyless';
import { estimateProgramSize, fullMatcher, MAX_PROGRAM_SIZE, re2Problem, regexRewriter, rewriteProblem } from '../../../src/config/re2.js';

function configProblems(config: string): readonly string[] {
  try {
    void createMesh({ config }).close();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return (error as InvalidConfigError).problems;
  }
  throw new Error('the config was accepted');
}

const VS = (http: string) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n${http}`;

describe('config regexes are RE2', () => {
  it('match the whole value, with RE2 syntax: (?i), POSIX classes, \\pL', () => {
    expect(fullMatcher('abc').test('abc')).toBe(true);
    expect(fullMatcher('abc').test('xabc')).toBe(false);
    expect(fullMatcher('abc').test('abcx')).toBe(false);
    expect(fullMatcher('a|ab').test('ab')).toBe(true);
    expect(fullMatcher('(?i)mobile').test('MoBiLe')).toBe(true);
    expect(fullMatcher('[[:digit:]]+').test('2024')).toBe(true);
    expect(fullMatcher('[[:digit:]]+').test('20a4')).toBe(false);
    expect(fullMatcher('\\pL+').test('héllo')).toBe(true);
    expect(fullMatcher('/api/v[0-9]+/.*').test('/api/v2/users')).toBe(true);
    expect(fullMatcher('/api/v[0-9]+/.*').test('/apx/v2/users')).toBe(false);
    expect(fullMatcher('abc', true).test('ABC')).toBe(true);
  });

  it('the literal-prefix shortcut answers as RE2 does (property)', () => {
    const atoms = ['a', 'b', 'ab', '.', '[ab]', '[^a]', '\\d', '(?i)', '(?m)', '^', '$', '|', '(', ')', '*', '+', '?', '{2}', '{1,3}', '(?:', '\\b', '[[:digit:]]', '\\pL', 'x{0}'];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...atoms), { maxLength: 10 }),
        fc.array(fc.string({ unit: fc.constantFrom('a', 'b', 'A', '1', '\n', 'x') }), { maxLength: 5 }),
        fc.boolean(),
        (parts, inputs, ignoreCase) => {
          const pattern = parts.join('');
          if (re2Problem(pattern, ignoreCase) !== undefined) return;
          const reference = RE2JS.compile(pattern, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
          const matcher = fullMatcher(pattern, ignoreCase);
          for (const input of inputs) expect(matcher.test(input), `${pattern} on ${JSON.stringify(input)}`).toBe(reference.testExact(input));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it.each<[string, string, RegExp]>([
    ['a backreference', '(a)\\1', /^an RE2 regular expression; RE2 says: invalid escape sequence: `\\1` \(RE2 has no backreferences or lookarounds\)$/],
    ['a lookahead', 'a(?=b)', /RE2 says: invalid or unsupported Perl syntax: `\(\?=` \(RE2 has no backreferences or lookarounds\)/],
    ['an unclosed class', '[a-z', /^an RE2 regular expression; RE2 says: missing closing \]: `\[a-z`$/],
    ['a pattern over 1024 characters', 'a'.repeat(1025), /^an RE2 regular expression of at most 1024 characters \(Istio's limit\); this one has 1025$/],
    ['a program over the limit', '[a-z]{1000}'.repeat(11), /^an RE2 regular expression that compiles to at most 10000 instructions/],
    ['a program far over the limit (refused before compiling)', '[a-z]{1000}'.repeat(90), /this one: about \d+\)/],
  ])('refuses %s, saying RE2', (_name, pattern, expected) => {
    expect(re2Problem(pattern)).toMatch(expected);
  });

  it('estimates program sizes from the text within 4x of the real size for the large ones', () => {
    for (const pattern of ['[a-z]{1000}', '(?:[a-z]{100}){9}', '(abc|def){300}', '\\p{Greek}{500}', '([0-9]{1,3}\\.){3}[0-9]{1,3}'.repeat(50)]) {
      const real = RE2JS.compile(pattern).programSize();
      const estimate = estimateProgramSize(pattern);
      expect(estimate, pattern).toBeLessThanOrEqual(4 * real);
      expect(estimate * 4, pattern).toBeGreaterThanOrEqual(real);
    }
    expect(re2Problem('[a-z]{1000}'.repeat(9))).toBeUndefined();
    expect(MAX_PROGRAM_SIZE).toBe(10_000);
  });

  // Regression: the config loader checked regexes with JavaScript's RegExp, which took
  // backreferences and lookarounds (then backtracked on request data) and refused RE2's
  // POSIX classes.
  it('config errors name the field, the pattern and RE2', () => {
    const lines = configProblems(VS('  - match: [{ uri: { regex: "([a-z" }, headers: { x-id: { regex: "(a)\\\\1" } } }]\n    route: [{ destination: { host: reviews } }]\n'));
    expect(lines).toEqual([
      'VirtualService/reviews (config[0]#1): spec.http[0].match[0].uri.regex: "([a-z" (expected: an RE2 regular expression; RE2 says: missing closing ]: `[a-z`)',
      'VirtualService/reviews (config[0]#1): spec.http[0].match[0].headers.x-id.regex: "(a)\\\\1" (expected: an RE2 regular expression; RE2 says: invalid escape sequence: `\\1` (RE2 has no backreferences or lookarounds))',
    ]);
    const ok = createMesh({ config: VS('  - match: [{ headers: { x-id: { regex: "[[:digit:]]+" } } }]\n    route: [{ destination: { host: reviews } }]\n') });
    void ok.close();
  });

  // Regression: an invalid uriRegexRewrite.match threw a bare SyntaxError naming nothing.
  it('an invalid uriRegexRewrite is an InvalidConfigError naming the field', () => {
    const lines = configProblems(VS('  - rewrite: { uriRegexRewrite: { match: "^/old/(.*", rewrite: "/new/\\\\1" } }\n    route: [{ destination: { host: reviews } }]\n'));
    expect(lines).toEqual(['VirtualService/reviews (config[0]#1): spec.http[0].rewrite.uriRegexRewrite.match: "^/old/(.*" (expected: an RE2 regular expression; RE2 says: missing closing ): `^/old/(.*`)']);
    const group = configProblems(VS('  - rewrite: { uriRegexRewrite: { match: "^/old/(.*)$", rewrite: "/new/\\\\2" } }\n    route: [{ destination: { host: reviews } }]\n'));
    expect(group).toEqual(['VirtualService/reviews (config[0]#1): spec.http[0].rewrite.uriRegexRewrite.rewrite: "/new/\\\\2" (expected: a rewrite whose \\N references exist: \\2 but the match has 1 group(s))']);
  });
});

describe('uriRegexRewrite as RE2 global replace', () => {
  it.each<[string, string, string, string]>([
    ['a group', '^/old/(.*)$', '/new/\\1', '/new/a/b'],
    ['every match', '/', '-', '-old-a-b'],
    ['the whole match as \\0', 'a', '[\\0]', '/old/[a]/b'],
    ['a literal $ (not a JavaScript group)', '^/old/(.*)$', '/$1/\\1', '/$1/a/b'],
    ['a literal backslash', '^/old', '/x\\\\y', '/x\\y/a/b'],
    ['empty matches between characters', 'x*', '-', '-/-o-l-d-/-a-/-b-'],
  ])('%s', (_name, match, template, expected) => {
    expect(rewriteProblem(match, template)).toBeUndefined();
    expect(regexRewriter(match, template).rewrite('/old/a/b')).toBe(expected);
  });

  it('refuses templates RE2 refuses', () => {
    expect(rewriteProblem('(a)', '\\x')).toContain('a backslash starts \\0..\\9');
    expect(rewriteProblem('(a)', 'end\\')).toContain('a backslash starts \\0..\\9');
    expect(rewriteProblem('(a)', '\\2')).toBe('a rewrite whose \\N references exist: \\2 but the match has 1 group(s)');
  });
});
