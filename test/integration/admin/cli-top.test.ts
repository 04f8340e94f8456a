// `proxyless top` and `proxyless status`, run as a user runs them (a child process),
// against a mesh with its admin server in this process.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Mesh } from 'proxyless';
import type { Backend } from '../../helpers/backends.js';
import { testRig } from '../../helpers/rig.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const TSX = `${root}node_modules/.bin/tsx`;
const ARGS = ['--conditions=proxyless-source', 'src/cli/main.ts'];
const TOKEN = 'cli-token-0123456789abcdef';

/**
 * Runs the CLI to its end (`code` null when the guard had to kill a hung child; the guard
 * is long because starting tsx takes tens of seconds at a load average of 20).
 */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, [...ARGS, ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 80_000 }, (error, stdout, stderr) => {
      const killed = error !== null && (error as { killed?: boolean }).killed === true;
      resolve({ code: killed ? null : error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

// 90 s as the file's other timeouts: the full suite at a load average of 23 killed shorter ones.
const rig = testRig({ scope: 'file', closeTimeoutMs: 90_000 });

describe('proxyless status and top', () => {
  let backends: Backend[];
  let mesh: Mesh;
  let url: string;
  let guarded: string;

  beforeAll(async () => {
    backends = await rig.backends(2);
    mesh = rig.meshOver({ reviews: backends });
    for (let i = 0; i < 10; i++) await (await mesh.fetch('http://reviews/')).text();
    url = (await mesh.admin({ intervalMs: 200 })).url;
    guarded = (await mesh.admin({ intervalMs: 200, token: TOKEN, protectReads: true })).url;
  });

  it('status prints one snapshot: services and their endpoints', async () => {
    const r = await cli(['status', '--admin', url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^1 services, 2 endpoints \(2 available, 0 ejected\)/);
    expect(r.stdout).toMatch(/SERVICE\s+STATUS\s+RPS\s+ERR\/S\s+P50 MS\s+P99 MS\s+IN FLIGHT\s+ENDPOINTS\s+EJECTED\s+CIRCUIT/);
    expect(r.stdout).toMatch(/reviews\.default\.svc\.cluster\.local:80\s+known\s/);
    for (const b of backends) expect(r.stdout).toContain(b.address);
  }, 90_000);

  it('status --json prints the frame as JSON', async () => {
    const r = await cli(['status', '--admin', url, '--json']);
    expect(r.code).toBe(0);
    const frame = JSON.parse(r.stdout);
    expect(frame.services[0].key).toBe('reviews.default.svc.cluster.local:80');
    expect(frame.services[0].endpoints.map((e: any) => e.requests).reduce((a: number, b: number) => a + b, 0)).toBeGreaterThanOrEqual(10);
  }, 90_000);

  it('refuses with a clear message when the admin endpoint needs a token, and works with it (flag or environment)', async () => {
    // Four runs at once (each starts tsx, slow on a loaded machine).
    const [denied, wrong, flag, env] = await Promise.all([
      cli(['status', '--admin', guarded]),
      cli(['status', '--admin', guarded, '--token', 'x'.repeat(20)]),
      cli(['status', '--admin', guarded, '--token', TOKEN]),
      cli(['status'], { PROXYLESS_ADMIN: guarded, PROXYLESS_ADMIN_TOKEN: TOKEN }),
    ]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(`the admin endpoint at ${guarded} needs a token: pass --token TOKEN or set PROXYLESS_ADMIN_TOKEN`);
    expect(wrong.stderr).toContain('refused the token (401)');
    expect(flag.code).toBe(0);
    expect(env.code).toBe(0);
  }, 90_000);

  it('refuses with a clear message when the admin endpoint is unreachable, or not given', async () => {
    const closed = await new Promise<number>((resolve) => {
      // A port that was just free: listen, note it, close.
      import('node:net').then(({ createServer }) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
      });
    });
    const r = await cli(['top', '--admin', `http://127.0.0.1:${closed}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`top: cannot reach the admin endpoint at http://127.0.0.1:${closed}: ECONNREFUSED`);
    const none = await cli(['top'], { PROXYLESS_ADMIN: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('give the admin endpoint: --admin http://127.0.0.1:PORT');
  }, 90_000);

  it('top redraws with each frame and quits on q', async () => {
    const child = spawn(TSX, [...ARGS, 'top', '--admin', url, '--interval', '200'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    // Two frames drawn, then q.
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c;
        if ((stdout.match(/^proxyless top /gm) ?? []).length >= 2) resolve();
      });
      child.on('exit', () => reject(new Error(`top exited early: ${stderr}`)));
    });
    child.stdin.write('q');
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toContain(`proxyless top  ${url}`);
    expect(stdout).toMatch(/reviews\.default\.svc\.cluster\.local:80\s+known\s/);
  }, 90_000);
});
