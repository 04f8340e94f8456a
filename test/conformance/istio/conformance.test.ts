// Runs the Istio conformance corpus (cases/*.yaml) through the real loader: checkConfig,
// the same reading, validation and compilation createMesh, applyConfig and `proxyless
// check` use. Each case must get Istio's verdict (accept, accept with a warning, reject)
// and name the field the corpus names; see README.md beside this file for the contract.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkConfig, type ConfigCheck } from '../../../src/compile/check-config.js';
import { renderDiagnostic, type ConfigDiagnostic } from '../../../src/core/errors/index.js';

type Verdict = 'accept' | 'accept-with-warning' | 'reject';

interface Case {
  name: string;
  rule: string;
  expect: Verdict;
  field?: string;
  strict?: Verdict;
  warns?: string[];
  skips?: string[];
  yaml: string;
}

const CASES_DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'cases');

/**
 * Cases proxyless cannot honour yet, each with its reason. A case listed here is checked
 * to still fail, so the list shrinks as soon as one passes.
 */
const KNOWN_GAPS: Readonly<Record<string, string>> = {};

const corpus = readdirSync(CASES_DIR)
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .flatMap((file) => (parse(readFileSync(join(CASES_DIR, file), 'utf8')) as { cases: Case[] }).cases.map((c) => ({ ...c, file })));

/** A reported path names the expected field when it is the field or continues it. */
function names(path: string, field: string): boolean {
  return path === field || path.startsWith(`${field}.`) || path.startsWith(`${field}[`);
}

function verdictOf(result: ConfigCheck, field: string | undefined): Verdict {
  if (result.errors.length > 0) return 'reject';
  if (field !== undefined && result.warnings.some((w) => names(w.path, field))) return 'accept-with-warning';
  return 'accept';
}

function report(c: Case & { file: string }, result: ConfigCheck): string {
  const lines = (label: string, list: readonly ConfigDiagnostic[]): string[] => list.map((d) => `  ${label}: [${d.path}] ${renderDiagnostic(d)}`);
  return [`case "${c.name}" (${c.file})`, `rule: ${c.rule}`, ...lines('error', result.errors), ...lines('warning', result.warnings), ...lines('note', result.notes)].join('\n');
}

/** Problems of one case under one mode; empty when it passes. */
function problemsOf(c: Case & { file: string }): string[] {
  const problems: string[] = [];
  const check = (mode: 'warn' | 'error', expected: Verdict): ConfigCheck => {
    const result = checkConfig(c.yaml, { namespace: 'default', unknownFields: mode });
    const verdict = verdictOf(result, c.field);
    if (expected === 'accept' && verdict === 'reject') problems.push(`${mode}: expected accept, got errors`);
    if (expected === 'accept-with-warning' && verdict !== 'accept-with-warning') problems.push(`${mode}: expected a warning naming ${c.field}, got ${verdict}`);
    if (expected === 'reject') {
      if (verdict !== 'reject') problems.push(`${mode}: expected an error naming ${c.field}, got ${verdict}`);
      else if (!result.errors.some((e) => names(e.path, c.field!))) problems.push(`${mode}: no error names ${c.field}`);
    }
    if (problems.length > 0) problems.push(report(c, result));
    return result;
  };
  const result = check('warn', c.expect);
  for (const field of c.warns ?? []) {
    if (!result.warnings.some((w) => names(w.path, field))) problems.push(`no warning names ${field}\n${report(c, result)}`);
  }
  for (const skip of c.skips ?? []) {
    const [kind, name] = skip.split('/');
    if (!result.skipped.some((s) => s.kind === kind && s.name === name)) problems.push(`${skip} is not reported as skipped\n${report(c, result)}`);
  }
  if (c.strict !== undefined) check('error', c.strict);
  return problems;
}

describe('Istio conformance corpus through the proxyless loader', () => {
  it('has cases to run (the corpus is where README.md says)', () => {
    expect(corpus.length).toBeGreaterThan(700);
  });

  it.each(corpus.map((c) => [`${c.file}: ${c.name}`, c] as const))('%s', (_title, c) => {
    const problems = problemsOf(c);
    const gap = KNOWN_GAPS[c.name];
    if (gap !== undefined) {
      expect(problems, `known gap "${c.name}" (${gap}) passes now: remove it from KNOWN_GAPS`).not.toEqual([]);
      return;
    }
    expect(problems.join('\n'), problems.join('\n')).toBe('');
  });
});
