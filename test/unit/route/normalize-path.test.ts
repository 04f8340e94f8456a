import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from 'proxyless';
import { normalizePath, pathSteps, type PathNormalization } from '../../../src/route/normalize-path.js';

const MODES: readonly PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];
const norm = (path: string, mode: PathNormalization): string => normalizePath(path, pathSteps(mode));
/** The normal form, or undefined where the path is refused (pieces can spell %00). */
const normOrRefused = (path: string, mode: PathNormalization): string | undefined => {
  try {
    return norm(path, mode);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRequestError);
    return undefined;
  }
};

/** Path characters that exercise every rule: dots, slashes, escapes (valid, invalid, encoded dots and slashes). */
const PIECES = ['/', '//', '\\', '.', '..', 'a', 'B', '0', '-', '~', '%2e', '%2E', '%2f', '%2F', '%5c', '%61', '%41', '%25', '%20', '%', '%z', '%3', ' ', '"', 'é', '!', '@', ':', '?', '=', '&'];
const pathArb = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((parts) => `/${parts.join('')}`);

describe('normalizePath', () => {
  it.each<[string, PathNormalization, string]>([
    ['/%61dmin', 'BASE', '/admin'],
    ['/x/../admin', 'BASE', '/admin'],
    ['/x/%2e%2e/admin', 'BASE', '/admin'],
    ['/x/%2E%2e/admin', 'BASE', '/admin'],
    ['/x\\..\\admin', 'BASE', '/admin'],
    ['/a/./b/.', 'BASE', '/a/b/'],
    ['/a/b/..', 'BASE', '/a/'],
    ['/../../admin', 'BASE', '/admin'],
    ['/a/..b/c.', 'BASE', '/a/..b/c.'],
    ['/%7e%7E%41%2d%5f', 'BASE', '/~~A-_'],
    ['/a%2Fb/../c', 'BASE', '/c'],
    ['/a%2fb', 'BASE', '/a%2fb'],
    ['/a b"<>^`{|}', 'BASE', '/a%20b%22%3C%3E%5E%60%7B%7C%7D'],
    ['/é', 'BASE', '/%E9'],
    ['/%zz%', 'BASE', '/%zz%'],
    ['/%%30', 'BASE', '/%250'],
    // A stray % in a segment that .. removes is gone: it must not turn a later decoded
    // digit into "%25..." (it did, when the output was cut as a string).
    ['/%3 /../%31', 'BASE', '/1'],
    ['/%\\..//%31', 'DECODE_AND_MERGE_SLASHES', '/1'],
    ['//admin//x', 'BASE', '//admin//x'],
    ['//admin//x', 'MERGE_SLASHES', '/admin/x'],
    ['/a%2fb', 'DECODE_AND_MERGE_SLASHES', '/a/b'],
    ['/a%2F%2Fb', 'DECODE_AND_MERGE_SLASHES', '/a/b'],
    ['/x%5c..%5cadmin', 'DECODE_AND_MERGE_SLASHES', '/admin'],
    ['/x%5c..%5cadmin', 'MERGE_SLASHES', '/x%5c..%5cadmin'],
    ['/a?x=/../%61&y=//', 'DECODE_AND_MERGE_SLASHES', '/a?x=/../%61&y=//'],
    ['/a/../b?q', 'BASE', '/b?q'],
    ['/a#frag', 'BASE', '/a'],
    ['/a#frag', 'NONE', '/a'],
    ['/%61/../x', 'NONE', '/%61/../x'],
  ])('%s with %s → %s', (path, mode, expected) => {
    expect(norm(path, mode)).toBe(expected);
  });

  it('leaves a normal path as the same string (no copy on the hot path)', () => {
    const path = '/api/v1/reviews/123.json?x=1&y=%20';
    for (const mode of MODES) expect(norm(path, mode)).toBe(path);
  });

  it('refuses a NUL byte (Istio answers 400) and characters HTTP cannot carry', () => {
    expect(() => norm('/a%00b', 'BASE')).toThrow(InvalidRequestError);
    expect(() => norm('/a%00b', 'BASE')).toThrow('request path "/a%00b" has %00 (a NUL byte), which Istio refuses with 400');
    expect(() => norm('/a\0b', 'BASE')).toThrow('has a NUL byte');
    expect(() => norm('/a\u2603', 'BASE')).toThrow('has a character above \\xFF');
  });

  it('is idempotent in every mode (property)', () => {
    fc.assert(
      fc.property(pathArb, fc.constantFrom(...MODES), (path, mode) => {
        const once = normOrRefused(path, mode);
        if (once !== undefined) expect(norm(once, mode)).toBe(once);
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves no dot segment, backslash, encoded unreserved character or (when merging) double slash (property)', () => {
    fc.assert(
      fc.property(pathArb, fc.constantFrom<PathNormalization>('BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'), (path, mode) => {
        const out = normOrRefused(path, mode)?.split('?')[0];
        if (out === undefined) return;
        expect(out).not.toMatch(/\/\.\.?(\/|$)/);
        expect(out).not.toContain('\\');
        expect(out).not.toMatch(/%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/);
        if (mode !== 'BASE') expect(out).not.toContain('//');
        if (mode === 'DECODE_AND_MERGE_SLASHES') expect(out).not.toMatch(/%(2f|5c)/i);
      }),
      { numRuns: 3000 },
    );
  });

  it('resolves dot segments as the WHATWG URL parser does (property, against node:url)', () => {
    // Only characters both treat alike: letters, slashes, backslashes, dots and %2e.
    const simple = fc.array(fc.constantFrom('/', '\\', '.', '..', 'a', 'b', '%2e', '%2E'), { maxLength: 12 }).map((parts) => `/${parts.join('')}`);
    fc.assert(
      fc.property(simple, (path) => {
        const whatwg = new URL(`http://h${path}`).pathname.replace(/%2e/gi, '.');
        expect(norm(path, 'BASE')).toBe(whatwg);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws but InvalidRequestError on any string (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.constantFrom(...MODES), (tail, mode) => {
        try {
          norm(`/${tail}`, mode);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidRequestError);
        }
      }),
    );
  });
});
