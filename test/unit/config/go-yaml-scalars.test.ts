// Plain YAML scalars read as Istio's tools read them (go-yaml v2 via sigs.k8s.io/yaml):
// YAML 1.1 booleans, Go's integer syntax, go-yaml's float pattern. See
// test/conformance/istio/semantics.md §1.2.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { resolveGoYamlPlain } from '../../../src/config/go-yaml-scalars.js';
import { parseMeshYaml } from '../../../src/config/parse-mesh-yaml.js';

describe('go-yaml v2 plain scalars', () => {
  it.each<[string, unknown]>([
    ['yes', true], ['Yes', true], ['YES', true], ['y', true], ['Y', true], ['on', true], ['ON', true], ['true', true], ['True', true],
    ['no', false], ['n', false], ['N', false], ['off', false], ['Off', false], ['false', false], ['FALSE', false],
    ['yEs', 'yEs'], ['oN', 'oN'], ['tRue', 'tRue'],
    ['~', null], ['null', null], ['Null', null], ['NULL', null], ['', null], ['nULL', 'nULL'],
    ['0144', 100], ['-012', -10], ['0o17', 15], ['0O17', 15], ['0x1F', 31], ['-0x1F', -31], ['0b101', 5], ['+7', 7], ['0', 0], ['-0', 0],
    ['1_000', 1000], ['0_1_0', 8], ['08', 8], ['09.5', 9.5],
    ['1.5', 1.5], ['3.0', 3], ['.5', 0.5], ['+.5', 0.5], ['1e3', 1000], ['1.', 1], ['-2.5e-1', -0.25],
    ['.inf', Infinity], ['-.Inf', -Infinity], ['+.INF', Infinity], ['.iNf', '.iNf'],
    ['1:30', '1:30'], ['2001-12-14', '2001-12-14'], ['0x', '0x'], ['0b2', '0b2'], ['1e', '1e'], ['+', '+'], ['.', '.'], ['-.', '-.'],
    ['99999999999999999999', 1e20], ['0xFFFFFFFFFFFFFFFFF', '0xFFFFFFFFFFFFFFFFF'],
    ['reviews', 'reviews'], ['<<', '<<'],
  ])('%j is %j', (text, expected) => {
    expect(resolveGoYamlPlain(text)).toEqual(expected);
  });

  it('.nan is NaN', () => {
    expect(resolveGoYamlPlain('.nan')).toBeNaN();
    expect(resolveGoYamlPlain('.NaN')).toBeNaN();
  });

  // Regression: a scalar of a megabyte of digits went to BigInt(), which parses decimal
  // text in quadratic time (0.5 s per MB, 30 s for an 8 MiB file). Out of range is decided
  // from the length now; BigInt only ever sees a short literal.
  it('a megabyte of digits is resolved without parsing it as an integer (out of range: a float)', () => {
    const bigInt = vi.spyOn(globalThis, 'BigInt');
    try {
      expect(resolveGoYamlPlain(`1${'0'.repeat(1_000_000)}`)).toBe(Infinity);
      expect(resolveGoYamlPlain(`0x${'f'.repeat(1_000_000)}`)).toBe(`0x${'f'.repeat(1_000_000)}`);
      expect(resolveGoYamlPlain(`0x${'0'.repeat(1_000_000)}1`)).toBe(1);
      for (const [arg] of bigInt.mock.calls) expect(String(arg).length).toBeLessThan(70);
    } finally {
      bigInt.mockRestore();
    }
  });

  it('any decimal integer in the safe range reads as itself, with or without underscores (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: 3 }), (n, split) => {
        const text = String(n);
        expect(resolveGoYamlPlain(text)).toBe(n === 0 ? 0 : n);
        if (text.length > split + 1 && !text.startsWith('-')) {
          const underscored = `${text.slice(0, split + 1)}_${text.slice(split + 1)}`;
          // A leading 0 makes Go read octal; skip those.
          if (!underscored.startsWith('0')) expect(resolveGoYamlPlain(underscored)).toBe(n);
        }
      }),
    );
  });

  it('any octal, hexadecimal or binary literal reads as its value (property)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), (n) => {
        expect(resolveGoYamlPlain(`0${n.toString(8)}`)).toBe(n);
        expect(resolveGoYamlPlain(`0o${n.toString(8)}`)).toBe(n);
        expect(resolveGoYamlPlain(`0x${n.toString(16)}`)).toBe(n);
        expect(resolveGoYamlPlain(`0b${n.toString(2)}`)).toBe(n);
      }),
    );
  });

  it('never throws, and gives a string back unless the text has a number or keyword form (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const value = resolveGoYamlPlain(text);
        if (typeof value === 'string') expect(value).toBe(text);
        else expect(['boolean', 'number', 'object']).toContain(typeof value);
      }),
    );
  });
});

describe('mesh YAML is read as YAML 1.1, the way go-yaml reads it', () => {
  it('quoted scalars stay strings, plain ones resolve, keys become strings as sigs.k8s.io/yaml makes them', () => {
    const [doc] = parseMeshYaml('a: yes\nb: "yes"\nc: 0144\nd: "0144"\ne: !!str 80\nf: {80: x, y: n}\ng: 2001-12-14\n', 'test');
    // go-yaml resolves keys too: `y:` is the key "true", and the value n is false.
    expect(doc).toEqual({ a: true, b: 'yes', c: 100, d: '0144', e: '80', f: { '80': 'x', true: false }, g: '2001-12-14' });
  });

  it('merge keys merge (YAML 1.1), the document\'s own keys win', () => {
    const [doc] = parseMeshYaml('base: &b {p: 1, q: 2}\nuse: {<<: *b, q: 3}\n', 'test');
    expect((doc as { use: unknown }).use).toEqual({ p: 1, q: 3 });
  });

  it('a duplicate key is an error naming the key (istioctl reads files strictly)', () => {
    expect(() => parseMeshYaml('spec:\n  host: a\n  host: b\n', 'mesh.yaml')).toThrow(/mesh\.yaml:3:3: document 1: spec\.host: Map keys must be unique/);
  });
});
