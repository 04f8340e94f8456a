// Runs the files that meet Node's bundled fetch (dispatcher-modes, the fetch behaviour
// table) under Node 22 (the `node22` devDependency) in a child vitest, since the suite
// itself runs on Node 24. Node 22's bundled fetch is an older undici than Node 24's.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const node22 = `${root}node_modules/node22/bin/node`;
const vitest = `${root}node_modules/vitest/vitest.mjs`;
const FILES = ['test/integration/dispatcher-modes.test.ts', 'test/integration/fetch/fetch-behaviours.test.ts'];
/** This worker's variables minus vitest's own, for child vitest processes. */
const childEnv = (): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS')),
  CI: 'true',
});

/**
 * The titles of the tests FILES declare, as `vitest list` collects them on this Node by
 * running the files' collection (the fetch table makes its tests in a loop, which a
 * static parse cannot see).
 */
function declaredTitles(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [vitest, 'list', '--staticParse=false', ...FILES, '--json'], { cwd: root, env: childEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`vitest list failed: ${error.message}\n${stderr}`));
      const listed = JSON.parse(stdout) as Array<{ name: string }>;
      resolve(listed.map((t) => t.name.split(' > ').at(-1)!));
    });
  });
}

describe('Node 22', () => {
  it('passes every test of dispatcher-modes and the fetch behaviour table (request, global fetch with dispatcher, setGlobalDispatcher, mesh.fetch)', async () => {
    expect(existsSync(node22), `${node22} is installed by npm ci (devDependency node22)`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'proxyless-node22-'));
    const reportFile = join(dir, 'report.json');
    // The child must not inherit this worker's vitest variables.
    const { output, code } = await new Promise<{ output: string; code: number }>((resolve) => {
      execFile(
        node22,
        [vitest, 'run', ...FILES, '--reporter=json', `--outputFile=${reportFile}`],
        { cwd: root, env: childEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
        (error, stdout, stderr) => resolve({ output: stdout + stderr, code: error ? ((error as { code?: number }).code ?? 1) : 0 }),
      );
    });
    expect(existsSync(reportFile), `vitest under Node 22 wrote no report:\n${output}`).toBe(true);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      testResults: { assertionResults: { title: string; fullName: string; status: string; failureMessages: string[] }[] }[];
    };
    const results = report.testResults.flatMap((f) => f.assertionResults);
    expect(results.every((r) => r.fullName.includes('Node v22.'))).toBe(true);
    expect(results.filter((r) => r.status !== 'passed')).toEqual([]);
    // Every test the files declare ran and passed under Node 22: none skipped or left out.
    const declared = await declaredTitles();
    expect(declared.length).toBeGreaterThan(0);
    expect(new Set(declared).size, 'titles are unique, so comparing them compares the tests').toBe(declared.length);
    expect(results.map((r) => r.title).sort()).toEqual([...declared].sort());
    expect(report.numPassedTests).toBe(declared.length);
    expect(code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 150_000);
});
