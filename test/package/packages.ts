// The repository's published packages (the root and every workspace package), whether
// their build output is fresh, and child processes for npm and Node with a clean
// environment.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/** One package as npm would publish it. */
export interface PackageInfo {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  /** Files its package.json points at (exports, main, types, bin): the build must make them. */
  readonly outputs: readonly string[];
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Every string leaf of a package.json `exports`/`bin` value. */
function paths(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(paths);
  return [];
}

function info(dir: string): PackageInfo & { private: boolean } {
  const json = readJson(join(dir, 'package.json'));
  const exported = [json.main, json.module, json.types, json.exports, json.bin].flatMap(paths);
  const outputs = [...new Set(exported.filter((p) => p.startsWith('./dist/') || p.startsWith('dist/')))].map((p) => join(dir, p));
  return { name: String(json.name), version: String(json.version), dir, outputs, private: json.private === true };
}

/**
 * The root package and each workspace package (from the root's `workspaces` globs, of
 * the `dir/*` form), private ones left out.
 */
export function publishedPackages(root: string): PackageInfo[] {
  const workspaces = (readJson(join(root, 'package.json')).workspaces as string[] | undefined) ?? [];
  const dirs = [root];
  for (const pattern of workspaces) {
    if (!pattern.endsWith('/*') || pattern.slice(0, -2).includes('*')) throw new Error(`workspace pattern ${pattern} is not of the form dir/*: teach publishedPackages() to read it`);
    const parent = join(root, pattern.slice(0, -2));
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      if (entry.isDirectory() && existsSync(join(parent, entry.name, 'package.json'))) dirs.push(join(parent, entry.name));
    }
  }
  return dirs.map(info).filter((p) => !p.private);
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

/**
 * Why the build output is stale (an output missing, or older than a source, a
 * package.json or a build config), or undefined when every output is newer than every
 * input.
 */
export function staleness(root: string, packages: readonly PackageInfo[]): string | undefined {
  const inputs = [join(root, 'tsconfig.json'), ...packages.flatMap((p) => ['src', 'package.json', 'tsup.config.ts'].map((f) => join(p.dir, f)))];
  const newestInput = Math.max(...inputs.map(newestMtime));
  for (const output of packages.flatMap((p) => p.outputs)) {
    if (!existsSync(output)) return `${output} is missing`;
    if (statSync(output).mtimeMs < newestInput) return `${output} is older than its sources`;
  }
  return undefined;
}

/** What a child process did. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * This environment for a child npm or Node: without vitest's and npm's variables (an
 * outer `npm test` sets npm_* ones that would steer the inner npm), keeping npm's cache
 * and registry settings, with `nodeDir` first on PATH so `node` (and npm's own shebang)
 * is the Node chosen.
 */
export function childEnv(nodeDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && (!/^npm_/i.test(k) || keep.has(k))),
  );
  return { ...env, PATH: [nodeDir, process.env.PATH ?? ''].join(delimiter), ...extra };
}

/** Runs a command; never rejects (the exit code says how it went). */
export function run(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr: error && code === 1 && !stderr ? String(error) : stderr });
    });
  });
}

/** The directory of the Node running this test (Node 24 here). */
export const currentNodeDir = dirname(process.execPath);
