// The proxyless command line, run as a user runs it (a child process), on real files.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, startBackends, type Backend } from '../helpers/backends.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs the CLI; `code` is null when it had to be killed (it did not exit by itself within
 * the guard, which only stops a hung child: no test asserts a duration).
 */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      `${root}node_modules/.bin/tsx`,
      ['--conditions=proxyless-source', 'src/cli/main.ts', ...args],
      { cwd: root, env: { ...process.env, PATH: `${root}node_modules/.bin:${process.env.PATH}` }, timeout: 25_000 },
      (error, stdout, stderr) => {
        const killed = error !== null && (error as { killed?: boolean }).killed === true;
        resolve({ code: killed ? null : error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const RULES = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - name: default
    route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: reviews, subset: v2 }, weight: 10 }
`;

describe('proxyless CLI', () => {
  let dir: string;
  let backends: Backend[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'proxyless-cli-'));
    writeFileSync(join(dir, 'good.yaml'), RULES);
    writeFileSync(join(dir, 'bad.yaml'), RULES.replace('weight: 90', 'weight: ninety').replace('kind: DestinationRule', 'kind: DestinationRul'));
    backends = await startBackends(1, 'cli');
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await closeAll(backends);
  });

  it('check: a valid file passes with exit 0', async () => {
    const { code, stdout } = await cli('check', join(dir, 'good.yaml'));
    expect(stdout).toContain('good.yaml: valid');
    expect(stdout).toContain('1 valid, 0 invalid');
    expect(code).toBe(0);
  });

  it('check: an invalid file prints every error and exits 1 (usable in a CI pipeline)', async () => {
    const { code, stderr, stdout } = await cli('check', join(dir, 'good.yaml'), join(dir, 'bad.yaml'));
    expect(stderr).toContain('kind: "DestinationRul" (expected: one of "DestinationRule", "VirtualService", "ServiceEntry", "LocalRateLimit")');
    expect(stderr).toContain('spec.http[1].route[0].weight: "ninety" (expected: a number)');
    expect(stdout).toContain('1 valid, 1 invalid');
    expect(code).toBe(1);
  });

  it('explain: prints the routes tried, the matched one, destinations with shares and endpoints', async () => {
    const { code, stdout } = await cli('explain', '--config', join(dir, 'good.yaml'), 'http://reviews/api', '-H', 'end-user: jason', '--endpoints', `reviews=${backends[0]!.address}`);
    expect(stdout).toContain('virtual service: VirtualService/reviews');
    expect(stdout).toContain('✓ jason: match[0] holds');
    expect(stdout).toContain('→ reviews.default.svc.cluster.local:80/v2  100 %');
    expect(code).toBe(0);
    const other = await cli('explain', '--config', join(dir, 'good.yaml'), 'http://reviews/api');
    expect(other.stdout).toContain('✗ jason: match[0]: header end-user exact "jason" does not hold');
    expect(other.stdout).toContain('/v1  90 %');
    expect(other.stdout).toContain('/v2  10 %');
  });

  it('explain: --endpoints-file reads endpoints with labels, so subsets show their members', async () => {
    writeFileSync(join(dir, 'endpoints.yaml'), `reviews:\n  - { address: 127.0.0.1, port: ${backends[0]!.port}, labels: { version: v2 } }\n`);
    const { code, stdout } = await cli('explain', '--config', join(dir, 'good.yaml'), 'http://reviews/', '-H', 'end-user: jason', '--endpoints-file', join(dir, 'endpoints.yaml'));
    expect(stdout).toContain(`up   ${backends[0]!.address} [version=v2]  pending 0`);
    expect(code).toBe(0);
  });

  // Regression: explain on a bad URL threw after the mesh was created and never closed it,
  // so the process never exited (a CI step hung); a missing config file likewise.
  it('explain exits on a bad URL (2) and on a missing config file (1), with the reason', async () => {
    const bad = await cli('explain', '--config', join(dir, 'good.yaml'), 'not a url', '--endpoints-file', join(dir, 'missing-endpoints.yaml'));
    expect(bad.stderr).toContain('explain: "not a url" (expected: an http:// or https:// URL such as http://reviews/api/1)');
    expect(bad.code).toBe(2);
    const ftp = await cli('explain', 'ftp://reviews/');
    expect(ftp.code).toBe(2);
    const missing = await cli('explain', '--config', join(dir, 'missing.yaml'), 'http://reviews/', '--endpoints-file', join(dir, 'missing-endpoints.yaml'));
    expect(missing.stderr).toContain('missing.yaml: no such file or directory');
    expect(missing.code).toBe(1);
  });

  // Regression: an empty directory, an empty file and /dev/null were "valid", and a
  // symlink loop was reported as "no such file".
  it('check: paths without config are invalid, each with its reason', async () => {
    mkdirSync(join(dir, 'empty-dir'));
    writeFileSync(join(dir, 'empty.yaml'), '');
    writeFileSync(join(dir, 'comments.yaml'), '# nothing here yet\n---\n# still nothing\n');
    symlinkSync(join(dir, 'loop-b.yaml'), join(dir, 'loop-a.yaml'));
    symlinkSync(join(dir, 'loop-a.yaml'), join(dir, 'loop-b.yaml'));
    const paths = ['empty-dir', 'empty.yaml', 'comments.yaml', 'loop-a.yaml', 'missing.yaml'].map((p) => join(dir, p));
    const { code, stderr, stdout } = await cli('check', ...paths, '/dev/null', join(dir, 'good.yaml'));
    expect(stderr).toContain(`✗ ${join(dir, 'empty-dir')}: a directory without .yaml, .yml or .json files`);
    expect(stderr).toContain(`✗ ${join(dir, 'empty.yaml')}: an empty file`);
    expect(stderr).toContain(`✗ ${join(dir, 'comments.yaml')}: no Istio resources in it (empty documents or only comments)`);
    expect(stderr).toContain(`✗ ${join(dir, 'loop-a.yaml')}: a symbolic link loop`);
    expect(stderr).toContain(`✗ ${join(dir, 'missing.yaml')}: no such file or directory`);
    expect(stderr).toContain('✗ /dev/null: not a regular file or directory');
    expect(stdout).toContain('1 valid, 6 invalid');
    expect(code).toBe(1);
  });

  // Regression: each warning came out twice, as Node's process warning and as the CLI's line.
  it('check: prints each warning once, in its own format', async () => {
    writeFileSync(join(dir, 'warns.yaml'), RULES.replace('  host: reviews\n', '  host: reviews\n  workloadSelector: { matchLabels: { app: x } }\n'));
    const { code, stdout, stderr } = await cli('check', join(dir, 'warns.yaml'));
    const warning = 'spec.workloadSelector is not supported and is ignored';
    expect(stdout.split(warning)).toHaveLength(2);
    expect(stdout).toContain(`  warning: DestinationRule/reviews (${join(dir, 'warns.yaml')}#1): ${warning}`);
    expect(stderr).not.toContain(warning);
    expect(code).toBe(0);
  });

  it('usage errors exit 2 with the usage text', async () => {
    const { code, stderr } = await cli('explain');
    expect(stderr).toContain('usage:');
    expect(code).toBe(2);
  });
});
