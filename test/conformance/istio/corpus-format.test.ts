// Checks the Istio conformance corpus itself: its shape, unique names, YAML that parses
// and field paths that point into their documents. It does not run proxyless against
// the cases; the runners of issues 10 and 14 do (see README.md beside this file).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CASES_DIR = join(HERE, 'cases');
const VERDICTS = ['accept', 'accept-with-warning', 'reject'] as const;
type Verdict = (typeof VERDICTS)[number];
const CASE_KEYS = new Set(['name', 'rule', 'expect', 'field', 'strict', 'warns', 'skips', 'note', 'yaml']);

interface Case {
  name: string;
  rule: string;
  expect: Verdict;
  field?: string;
  strict?: Verdict;
  warns?: string[];
  skips?: string[];
  note?: string;
  yaml: string;
}

interface CorpusFile {
  file: string;
  path: string;
  cases: Case[];
}

function loadCorpus(): CorpusFile[] {
  return readdirSync(CASES_DIR)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => {
      const path = join(CASES_DIR, name);
      const data = parse(readFileSync(path, 'utf8')) as { file: string; cases: Case[] };
      return { file: data.file, path: name, cases: data.cases };
    });
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Renders a path in the corpus format: `spec.http[0].headers["@x"]`. */
function formatPath(parts: readonly (string | number)[]): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (IDENTIFIER.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** Parses a corpus path; returns undefined when the text is not in the format. */
function parsePath(text: string): (string | number)[] | undefined {
  const parts: (string | number)[] = [];
  const token = /\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  let at = 0;
  while (at < text.length) {
    token.lastIndex = at;
    const m = token.exec(text);
    if (!m || (at === 0 && text[0] === '.')) return undefined;
    if (m[1] !== undefined) parts.push(m[1]);
    else if (m[2] !== undefined) parts.push(Number(m[2]));
    else parts.push(JSON.parse(m[3]!) as string);
    at = token.lastIndex;
  }
  return parts.length > 0 && formatPath(parts) === text ? parts : undefined;
}

/** How many leading parts of `path` exist in `value`. */
function resolvedDepth(value: unknown, path: readonly (string | number)[]): number {
  let current = value;
  for (let i = 0; i < path.length; i++) {
    const part = path[i]!;
    if (typeof part === 'number') {
      if (!Array.isArray(current) || part >= current.length) return i;
      current = current[part];
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current) || !(part in current)) return i;
      current = (current as Record<string, unknown>)[part];
    }
  }
  return path.length;
}

/** The case's documents read as YAML 1.1 (as Istio reads them), or the first syntax error. */
function readDocuments(text: string): { docs: unknown[]; error?: string } {
  const docs: unknown[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1', merge: true, uniqueKeys: true })) {
    if (doc.errors.length > 0) return { docs, error: doc.errors[0]!.message };
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) docs.push(value);
  }
  return { docs };
}

const corpus = loadCorpus();
const allCases = corpus.flatMap((f) => f.cases.map((c) => ({ ...c, file: f.path })));

describe('Istio conformance corpus format', () => {
  it('has the eight documented files, each naming itself and holding cases', () => {
    expect(corpus.map((f) => f.path)).toEqual([
      'authorization-policy.yaml',
      'destination-rule.yaml',
      'loading.yaml',
      'peer-authentication.yaml',
      'request-authentication.yaml',
      'samples.yaml',
      'service-entry.yaml',
      'virtual-service.yaml',
    ]);
    for (const f of corpus) {
      expect(`${f.file}.yaml`, f.path).toBe(f.path);
      expect(f.cases.length, f.path).toBeGreaterThan(0);
    }
  });

  it('gives every case only the documented keys, a rule, a verdict and the fields its verdict needs', () => {
    const problems: string[] = [];
    for (const c of allCases) {
      const where = `${c.file}: ${c.name}`;
      for (const key of Object.keys(c)) if (key !== 'file' && !CASE_KEYS.has(key)) problems.push(`${where}: unknown key ${key}`);
      if (typeof c.name !== 'string' || c.name.trim() === '') problems.push(`${where}: no name`);
      if (typeof c.rule !== 'string' || c.rule.trim() === '') problems.push(`${where}: no rule`);
      if (!VERDICTS.includes(c.expect)) problems.push(`${where}: expect ${String(c.expect)}`);
      if (c.expect !== 'accept' && typeof c.field !== 'string') problems.push(`${where}: ${c.expect} without field`);
      if (c.strict !== undefined && (!VERDICTS.includes(c.strict) || c.strict === c.expect)) problems.push(`${where}: strict ${String(c.strict)}`);
      if (c.strict !== undefined && c.field === undefined) problems.push(`${where}: strict without field`);
      if (typeof c.yaml !== 'string' || c.yaml.trim() === '') problems.push(`${where}: no yaml`);
      for (const s of c.skips ?? []) if (!/^[A-Za-z][A-Za-z0-9]*\/[a-z0-9.-]+$/.test(s)) problems.push(`${where}: skip ${s} is not Kind/name`);
    }
    expect(problems).toEqual([]);
  });

  it('names every case once across all files', () => {
    const seen = new Map<string, string>();
    const duplicates: string[] = [];
    for (const c of allCases) {
      const first = seen.get(c.name);
      if (first !== undefined) duplicates.push(`${c.name} (${first} and ${c.file})`);
      seen.set(c.name, c.file);
    }
    expect(duplicates).toEqual([]);
  });

  it('writes every field, warns and strict path in the one path format', () => {
    const bad: string[] = [];
    for (const c of allCases) {
      for (const p of [c.field, ...(c.warns ?? [])]) {
        if (p !== undefined && parsePath(p) === undefined) bad.push(`${c.name}: ${p}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('reads every case as YAML 1.1, except rejected cases whose fault is the YAML itself', () => {
    const unreadable: string[] = [];
    for (const c of allCases) {
      const { error } = readDocuments(c.yaml);
      if (error !== undefined && c.expect !== 'reject') unreadable.push(`${c.name}: ${error}`);
    }
    expect(unreadable).toEqual([]);
    // The YAML-level rejections exist and really fail to parse.
    const yamlFaults = allCases.filter((c) => c.expect === 'reject' && readDocuments(c.yaml).error !== undefined);
    expect(yamlFaults.map((c) => c.name).sort()).toEqual(['yaml duplicate keys are rejected', 'yaml tab indentation is rejected']);
  });

  it('points every field into its first document (all but the last segment exist)', () => {
    const dangling: string[] = [];
    for (const c of allCases) {
      if (c.field === undefined) continue;
      const { docs, error } = readDocuments(c.yaml);
      if (error !== undefined) continue;
      const path = parsePath(c.field);
      if (path === undefined || docs.length === 0) continue;
      if (resolvedDepth(docs[0], path) < path.length - 1) dangling.push(`${c.name}: ${c.field}`);
    }
    expect(dangling).toEqual([]);
  });

  it('covers both directions for every kind file', () => {
    for (const f of corpus) {
      if (f.path === 'samples.yaml') continue;
      const verdicts = new Set(f.cases.map((c) => c.expect));
      expect([...verdicts].sort(), f.path).toEqual(['accept', 'accept-with-warning', 'reject']);
    }
  });

  it('matches the counts in README.md', () => {
    const readme = readFileSync(join(HERE, 'README.md'), 'utf8');
    for (const f of corpus) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`cases/${f.path}\``));
      expect(row, f.path).toBeDefined();
      const cells = row!.split('|').map((cell) => cell.trim());
      const counts = VERDICTS.map((v) => f.cases.filter((c) => c.expect === v).length);
      expect(cells.slice(3, 6).map(Number), f.path).toEqual(counts);
    }
    expect(readme).toContain(`**total ${allCases.length}**`);
  });
});

describe('corpus field path format', () => {
  const key = fc.oneof(
    fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,12}$/),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('@request.auth.claims[group]', 'app.kubernetes.io/name', '8080', '', ':authority', 'a"b\\c'),
  );
  const part = fc.oneof(key, fc.nat({ max: 99 }));

  it('parses back every path it formats (property)', () => {
    fc.assert(
      fc.property(key, fc.array(part, { maxLength: 6 }), (first, rest) => {
        const parts = [first, ...rest];
        expect(parsePath(formatPath(parts))).toEqual(parts);
      }),
    );
  });

  it('refuses text that is not in the format', () => {
    for (const text of ['', '.spec', 'spec..host', 'spec[x]', 'spec["unterminated]', 'spec[-1]', 'spec.[0]', 'spec["plain"]']) {
      expect(parsePath(text), text).toBeUndefined();
    }
  });
});
