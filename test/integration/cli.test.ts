// The proxyless command line, run as a user runs it (a child process), on real files.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, startBackends, type Backend } from '../helpers/backends.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      `${root}node_modules/.bin/tsx`,
      ['--conditions=proxyless-source', 'src/cli/main.ts', ...args],
      { cwd: root, env: { ...process.env, PATH: `${root}node_modules/.bin:${process.env.PATH}` }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
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
    expect(stderr).toContain('kind: "DestinationRul" (expected: one of "DestinationRule", "VirtualService", "ServiceEntry")');
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

  it('usage errors exit 2 with the usage text', async () => {
    const { code, stderr } = await cli('explain');
    expect(stderr).toContain('usage:');
    expect(code).toBe(2);
  });
});
