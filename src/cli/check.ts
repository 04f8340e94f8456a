import { readdirSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { renderDiagnostic } from '../core/errors/index.js';
import { checkConfig } from '../compile/check-config.js';

/** Where the CLI writes: standard output and standard error, one line per call. */
export interface CliOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** What a failed `stat` means, in words: a symlink loop is not "no such file". */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'ELOOP':
      return 'a symbolic link loop (too many levels of symbolic links)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ENAMETOOLONG':
      return 'the path is too long';
    default:
      return `cannot be read (${code ?? (error as Error).message})`;
  }
}

/**
 * Why `path` holds no config to check, before it is loaded: missing, unreadable, a
 * symlink loop, not a file or directory (`/dev/null`), an empty file, or a directory
 * without config files. `undefined` when it is worth loading.
 */
function emptyOrUnreadable(path: string): string | undefined {
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    return describeFsError(error);
  }
  if (stat.isDirectory()) {
    let names: string[];
    try {
      names = readdirSync(path);
    } catch (error) {
      return describeFsError(error);
    }
    return names.some((n) => CONFIG_EXTENSIONS.has(extname(n))) ? undefined : 'a directory without .yaml, .yml or .json files';
  }
  if (!stat.isFile()) return 'not a regular file or directory';
  if (stat.size === 0) return 'an empty file';
  return undefined;
}

/**
 * `proxyless check [--strict] PATH...`: validates each file or directory exactly as
 * `createMesh` loads it (Istio's rules; see `checkConfig`), printing every error and
 * warning with its field path, and one note per kind of resource that is not mesh config
 * (Deployments, Services, Istio Gateways, ... are skipped, so a folder of ordinary
 * manifests can be checked). `--strict` makes unknown fields errors, as `istioctl
 * validate` does. A path without any Istio resource (empty, only comments, /dev/null, an
 * empty directory, only Kubernetes kinds) is invalid: a CI gate must not pass a config
 * that is not there. Returns the exit code.
 */
export async function check(args: readonly string[], io: CliOutput, usage: string): Promise<number> {
  const strict = args.includes('--strict');
  const paths = args.filter((a) => a !== '--strict');
  const unknownOption = paths.find((p) => p.startsWith('--'));
  if (unknownOption !== undefined) {
    io.err(`check: unknown option ${JSON.stringify(unknownOption)}\n${usage}`);
    return 2;
  }
  if (paths.length === 0) {
    io.err(`check: no file given\n${usage}`);
    return 2;
  }
  let failed = 0;
  for (const path of paths) {
    const unusable = emptyOrUnreadable(path);
    if (unusable !== undefined) {
      failed++;
      io.err(`✗ ${path}: ${unusable} (expected: Istio config, a YAML/JSON file or a directory of them)`);
      continue;
    }
    let result;
    try {
      result = checkConfig(path, { unknownFields: strict ? 'error' : 'warn' });
    } catch (error) {
      failed++;
      io.err(`✗ ${path}: ${(error as Error).message}`);
      continue;
    }
    const istio = result.resources - result.skipped.length;
    if (result.errors.length > 0) {
      failed++;
      io.err(`✗ ${path}: ${result.errors.length} error(s)${result.warnings.length ? `, ${result.warnings.length} warning(s)` : ''}`);
      for (const error of result.errors) io.err(`  error: ${renderDiagnostic(error)}`);
    } else if (istio === 0) {
      failed++;
      const skipped = result.skipped.length > 0 ? `; ${result.skipped.length} resource(s) skipped, not mesh config` : ' (empty documents or only comments)';
      io.err(`✗ ${path}: no Istio resources in it${skipped}`);
    } else {
      const extra = [result.skipped.length ? `${result.skipped.length} skipped` : '', result.warnings.length ? `${result.warnings.length} warning(s)` : ''].filter(Boolean);
      io.out(`✓ ${path}: valid, ${istio} resource(s)${extra.length ? `, ${extra.join(', ')}` : ''}`);
    }
    // Warnings are shown with errors too: fixing one must not hide the other.
    for (const warning of result.warnings) io.out(`  warning: ${renderDiagnostic(warning)}`);
    for (const note of result.notes) io.out(`  note: ${renderDiagnostic(note)}`);
  }
  io.out(`${paths.length - failed} valid, ${failed} invalid`);
  return failed > 0 ? 1 : 0;
}
