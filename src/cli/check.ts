import { readdirSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { ProxylessError } from '../core/errors.js';
import { FileConfigSource } from '../config/file-config-source.js';
import { createMesh } from '../mesh/create-mesh.js';

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
 * `proxyless check PATH...`: validates each file or directory as `createMesh` loads it.
 * A path without any resource (empty, only comments, /dev/null, an empty directory) is
 * invalid: a CI gate must not pass a config that is not there. Returns the exit code.
 */
export async function check(paths: readonly string[], io: CliOutput, usage: string): Promise<number> {
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
    try {
      const mesh = createMesh({ config: path });
      const warnings = mesh.warnings;
      await mesh.close();
      // Loaded once more to count: the mesh does not say how many resources it read.
      const resources = new FileConfigSource(path).loadNow().length;
      if (resources === 0) {
        failed++;
        io.err(`✗ ${path}: no Istio resources in it (empty documents or only comments)`);
        continue;
      }
      io.out(`✓ ${path}: valid, ${resources} resource(s)${warnings.length ? `, ${warnings.length} warning(s)` : ''}`);
      for (const warning of warnings) io.out(`  warning: ${warning}`);
    } catch (error) {
      failed++;
      if (error instanceof ProxylessError && 'problems' in error) {
        io.err(`✗ ${path}:`);
        for (const problem of (error as ProxylessError & { problems: string[] }).problems) io.err(`  ${problem}`);
      } else {
        io.err(`✗ ${path}: ${(error as Error).message}`);
      }
    }
  }
  io.out(`${paths.length - failed} valid, ${failed} invalid`);
  return failed > 0 ? 1 : 0;
}
