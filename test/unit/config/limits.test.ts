import { describe, expect, it } from 'vitest';
import { createMesh, InvalidConfigError } from 'proxyless';
import { parseMeshYaml } from 'proxyless/config';
import { MAX_CONFIG_DEPTH, MAX_CONFIG_VALUES, shapeProblem } from '../../../src/config/limits.js';

/** The problems of an InvalidConfigError thrown by `f`; fails on any other outcome. */
function problemsOf(f: () => unknown): readonly string[] {
  let thrown: unknown;
  try {
    const mesh = f() as { close?: () => Promise<void> } | undefined;
    void mesh?.close?.();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InvalidConfigError);
  return (thrown as InvalidConfigError).problems;
}

const VS = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\n';

/** Nine aliases of nine aliases of ...: 9^7 strings if expanded. */
const ALIAS_BOMB = `${VS}spec:\n  a: &a ["x","x","x","x","x","x","x","x","x"]\n${['b', 'c', 'd', 'e', 'f', 'g']
  .map((name, i) => `  ${name}: &${name} [${Array.from({ length: 9 }, () => `*${'abcdefg'[i]}`).join(',')}]`)
  .join('\n')}\n`;

function nested(depth: number): unknown {
  let value: unknown = {};
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

// Regression: each of these escaped createMesh/applyConfig as a bare ReferenceError,
// RangeError or the getter's own Error.
describe('hostile config shapes give InvalidConfigError naming where, never another error', () => {
  it('a YAML alias bomb', () => {
    expect(problemsOf(() => createMesh({ config: ALIAS_BOMB }))).toEqual([
      'config[0]: document 1: more YAML aliases than the 100 allowed (an alias "bomb" expands exponentially); write the values out instead',
    ]);
  });

  it('a 20,000-deep YAML document', () => {
    const [line] = problemsOf(() => createMesh({ config: `${VS}spec: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n` }));
    expect(line).toMatch(/^config\[0\]:4:\d+: document 1: nested too deeply to parse \(expected: at most 100 levels\)$/);
  });

  it('a 20,000-deep resource object, in createMesh and in applyConfig', () => {
    const resource = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r' }, spec: { hosts: ['r'], x: nested(20_000) } };
    const expected = `VirtualService/r (config[0]): spec.x${'.a'.repeat(MAX_CONFIG_DEPTH - 3)}`.slice(0, 157);
    const [line] = problemsOf(() => createMesh({ config: [resource] }));
    expect(line!.startsWith(expected), line).toBe(true);
    expect(line).toMatch(/\.\.\.: nested more than 100 levels deep \(the limit\), or a cycle$/);
    const mesh = createMesh({});
    expect(problemsOf(() => mesh.applyConfig([resource]))[0]).toContain('nested more than 100 levels deep');
    void mesh.close();
  });

  it('a cycle, a graph of shared parts, a throwing getter, and non-config values', () => {
    const cyclic: Record<string, unknown> = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r' } };
    cyclic.spec = { hosts: ['r'], http: [cyclic] };
    expect(problemsOf(() => createMesh({ config: [cyclic] }))[0]).toMatch(/^VirtualService\/r \(config\[0\]\): spec\.http\[0\]\.spec.*: nested more than 100 levels deep/);
    let shared: unknown = 'x';
    for (let i = 0; i < 60; i++) shared = [shared, shared]; // 2^60 paths, 61 objects
    expect(problemsOf(() => createMesh({ config: [{ kind: 'VirtualService', spec: shared }] }))[0]).toMatch(/: more than 100000 values in one resource \(the limit\)$/);
    const getter = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'r' }, get spec(): unknown { throw new Error('boom'); } };
    expect(problemsOf(() => createMesh({ config: [getter] }))).toEqual(['VirtualService/r (config[0]): cannot be read: boom']);
    const mesh = createMesh({});
    expect(problemsOf(() => mesh.applyConfig(null as never))).toEqual(['config[0]: null (expected: YAML text, a file or directory path, an Istio resource object or a config source)']);
    expect(problemsOf(() => mesh.applyConfig(['./mesh.yaml']))[0]).toContain('config[0]: "./mesh.yaml" looks like a file path');
    void mesh.close();
  });

  it('config text over 8 MiB is refused before parsing, naming the size and the limit', () => {
    const text = `${VS}spec: {}\n#${'x'.repeat(9 * 1024 * 1024)}\n`;
    expect(problemsOf(() => createMesh({ config: text }))).toEqual([
      `config[0]: ${Buffer.byteLength(text)} bytes of config text (expected: at most 8388608 bytes, 8 MiB, per file or text; split the config into several files)`,
    ]);
    expect(() => parseMeshYaml(text, 'etcd:/mesh')).toThrow('etcd:/mesh: ');
  });

  it('a deep annotation is bounded like the resource around it', () => {
    const rule = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'r', annotations: { 'proxyless.dev/health-check': `${'{"a":'.repeat(5000)}{}${'}'.repeat(5000)}` } },
      spec: { host: 'r' },
    };
    expect(problemsOf(() => createMesh({ config: [rule] }))[0]).toMatch(/^DestinationRule\/r \(config\[0\]\): metadata\.annotations\["proxyless\.dev\/health-check"\]: a\.a.*: nested more than 100 levels/);
  });
});

describe('shapeProblem', () => {
  it('accepts what Istio resources look like, at the limits', () => {
    expect(shapeProblem(nested(MAX_CONFIG_DEPTH - 1))).toBeUndefined();
    expect(shapeProblem(nested(MAX_CONFIG_DEPTH))).toMatch(/nested more than/);
    expect(shapeProblem(Array.from({ length: MAX_CONFIG_VALUES - 1 }, () => 1))).toBeUndefined();
    expect(shapeProblem(Array.from({ length: MAX_CONFIG_VALUES }, () => 1))).toBe('(root): more than 100000 values in one resource (the limit)');
  });
});
