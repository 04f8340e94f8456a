// The published packages as a new user gets them: `npm pack` of the root and of every
// workspace package, installed from the tarballs into a fresh project (their runtime
// dependencies only, plus @types/node as any TypeScript consumer has), then used from
// ESM and CJS on Node 24 and 22, type-checked by tsc --strict with skipLibCheck false
// (a declaration naming a devDependency's types fails here), and the CLI run by npx.
//
// The build: dist/ is reused when it is newer than every source, package.json and
// build config (.ci/run builds before the tests); otherwise this test runs
// `npm run build` first, as a developer would before packing.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, currentNodeDir, publishedPackages, run, staleness, type PackageInfo, type Run } from './packages.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = fileURLToPath(new URL('./consumer', import.meta.url));
const node22Dir = join(root, 'node_modules/node22/bin');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** Fails with everything the command printed, so a broken install reads in the test output. */
function ok(result: Run, what: string): Run {
  expect(result.code, `${what} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`).toBe(0);
  return result;
}

describe('the packed packages, installed in a fresh project', () => {
  let work: string;
  let project: string;
  let packages: PackageInfo[];
  let packed: Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
  const env = (nodeDir = currentNodeDir, extra: Record<string, string> = {}): NodeJS.ProcessEnv => childEnv(nodeDir, extra);

  beforeAll(async () => {
    packages = publishedPackages(root);
    const stale = staleness(root, packages);
    if (stale !== undefined) ok(await run('npm', ['run', 'build'], { cwd: root, env: env(), timeoutMs: 240_000 }), `npm run build (${stale})`);
    expect(staleness(root, packages), 'the build left dist/ fresh').toBeUndefined();

    work = mkdtempSync(join(tmpdir(), 'proxyless-install-'));
    const tarballs = join(work, 'tarballs');
    mkdirSync(tarballs);
    const pack = ok(
      await run('npm', ['pack', '--workspaces', '--include-workspace-root', '--pack-destination', tarballs, '--json'], { cwd: root, env: env(), timeoutMs: 120_000 }),
      'npm pack',
    );
    packed = JSON.parse(pack.stdout) as typeof packed;

    project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
    for (const file of readdirSync(fixture)) copyFileSync(join(fixture, file), join(project, file));
    // The consumer's @types/node: the version this repository is tested with (in the npm cache).
    const typesNode = (JSON.parse(readFileSync(join(root, 'node_modules/@types/node/package.json'), 'utf8')) as { version: string }).version;
    ok(
      await run(
        'npm',
        ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', ...packed.map((p) => join(tarballs, p.filename)), `@types/node@${typesNode}`],
        { cwd: project, env: env(), timeoutMs: 180_000 },
      ),
      'npm install of the tarballs',
    );
  }, 420_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs the root and every workspace package, each with its built files, README and package.json only', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(packages.map((p) => p.name).sort());
    expect(packed.length).toBeGreaterThan(1);
    for (const pkg of packed) {
      const info = packages.find((p) => p.name === pkg.name)!;
      const files = pkg.files.map((f) => f.path);
      expect(files.filter((f) => !f.startsWith('dist/') && f !== 'README.md' && f !== 'package.json'), `${pkg.name} ships only dist/`).toEqual([]);
      for (const output of info.outputs) expect(files, `${pkg.name} ships what its package.json points at`).toContain(relative(info.dir, output));
    }
  });

  it('installs with runtime dependencies only (no devDependency of ours)', () => {
    const devDependencies = packages.flatMap((p) => Object.keys((JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as { devDependencies?: object }).devDependencies ?? {}));
    // A peer dependency (the adapters' express and fastify) is installed by npm with what it
    // needs, each marked `peer` in the lock; only a devDependency installed otherwise leaked.
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, { peer?: boolean }> };
    const present = devDependencies.filter(
      (name) => name !== '@types/node' && name !== 'proxyless' && existsSync(join(project, 'node_modules', name)) && lock.packages[`node_modules/${name}`]?.peer !== true,
    );
    expect(present).toEqual([]);
    for (const pkg of packages) expect(existsSync(join(project, 'node_modules', pkg.name, 'package.json')), pkg.name).toBe(true);
  });

  for (const [node, nodeDir] of [['24', currentNodeDir], ['22', node22Dir]] as const) {
    it(`imports (ESM) and requires (CJS) on Node ${node}: requests reach a real server through the mesh, three ways; each subpath entry loads`, async () => {
      for (const [format, script] of [['esm', 'smoke.mjs'], ['cjs', 'smoke.cjs']] as const) {
        const result = ok(await run(join(nodeDir, 'node'), [script], { cwd: project, env: env(nodeDir), timeoutMs: 60_000 }), `node ${script}`);
        expect(JSON.parse(result.stdout)).toEqual({
          format,
          node: expect.stringMatching(new RegExp(`^v${node}\\.`)),
          platformResponse: true,
          bodies: ['hello reviews', 'hello reviews', 'hello reviews'],
          etcdDiscovery: 'function',
          // Every subpath entry loads and works (proxyless/balance, /policy, /config,
          // /discovery, /telemetry, /security, /tls, /inbound; /admin has types only), and
          // an error a subpath throws is the root's class (InvalidConfigError,
          // InvalidSpiffeIdError).
          subpaths: {
            balance: 'function',
            sharedErrorClass: true,
            config: 1,
            discovery: '[::1]:80',
            telemetry: '4bf92f3577b34da6a3ce929d0e0e4736',
            security: 'PERMISSIVE',
            tls: 'cluster.local',
            sharedTlsErrorClass: true,
            inbound: 2000,
            adminValues: 0,
          },
        });
      }
    }, 120_000);
  }

  it('type-checks with tsc --strict and skipLibCheck false: node16 (ESM and CJS), bundler, and the DOM lib; the root and every subpath entry, global fetch taking mesh.dispatcher without a cast', async () => {
    const check = async (config: string): Promise<void> => {
      ok(await run(process.execPath, [tsc, '-p', config], { cwd: project, env: env(), timeoutMs: 180_000 }), `tsc -p ${config}`);
    };
    // Two at a time: the machines have two cores.
    await Promise.all([check('tsconfig.node16.json'), check('tsconfig.bundler.json')]);
    await check('tsconfig.dom.json');
  }, 360_000);

  it('runs the CLI through npx: proxyless --help and proxyless check', async () => {
    expect(existsSync(join(project, 'node_modules/.bin/proxyless')), 'the bin is linked').toBe(true);
    // Offline and without installing: npx must take the project's own bin, never the registry.
    const npx = (...args: string[]): Promise<Run> =>
      run('npx', ['proxyless', ...args], { cwd: project, env: env(currentNodeDir, { npm_config_offline: 'true', npm_config_yes: 'false' }), timeoutMs: 60_000 });
    const help = ok(await npx('--help'), 'npx proxyless --help');
    expect(help.stderr).toContain('proxyless check [--strict] FILE_OR_DIR');
    const valid = ok(await npx('check', 'mesh.yaml'), 'npx proxyless check mesh.yaml');
    expect(valid.stdout).toContain('1 valid, 0 invalid');
    const invalid = await npx('check', 'bad-mesh.yaml');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('bad-mesh.yaml');
  }, 180_000);
});
