// Runs dispatcher-modes.test.ts under Node 22 (the `node22` devDependency) in a child
// vitest, since the suite itself runs on Node 24. Node 22's bundled fetch speaks an
// older undici handler API than Node 24's.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const node22 = `${root}node_modules/node22/bin/node`;
const vitest = `${root}node_modules/vitest/vitest.mjs`;

describe('Node 22', () => {
  it('passes the dispatcher-modes tests (request, global fetch with dispatcher, setGlobalDispatcher, mesh.fetch)', async () => {
    expect(existsSync(node22), `${node22} is installed by npm ci (devDependency node22)`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'proxyless-node22-'));
    const reportFile = join(dir, 'report.json');
    // The child must not inherit this worker's vitest variables.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
    const { output, code } = await new Promise<{ output: string; code: number }>((resolve) => {
      execFile(
        node22,
        [vitest, 'run', 'test/integration/dispatcher-modes.test.ts', '--reporter=json', `--outputFile=${reportFile}`],
        { cwd: root, env: { ...env, CI: 'true' }, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
        (error, stdout, stderr) => resolve({ output: stdout + stderr, code: error ? ((error as { code?: number }).code ?? 1) : 0 }),
      );
    });
    expect(existsSync(reportFile), `vitest under Node 22 wrote no report:\n${output}`).toBe(true);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      testResults: { assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
    };
    const results = report.testResults.flatMap((f) => f.assertionResults);
    expect(results.every((r) => r.fullName.includes('Node v22.'))).toBe(true);
    expect(results.filter((r) => r.status !== 'passed')).toEqual([]);
    expect(report.numPassedTests).toBe(5);
    expect(code).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 150_000);
});
