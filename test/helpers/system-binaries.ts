import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A program from a Debian package that an integration test starts. */
export interface SystemBinary {
  /** The program, e.g. `dnsmasq`, or an absolute path such as `/usr/bin/etcd`. */
  readonly bin: string;
  /** The Debian package that installs it, e.g. `dnsmasq-base`. */
  readonly pkg: string;
}

function found(bin: string): boolean {
  const candidates = bin.includes('/')
    ? [bin]
    : [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin'].filter(Boolean).map((d) => join(d, bin));
  return candidates.some((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Whether tests that need these programs run here. `npm test` must pass on a machine with
 * nothing but npm, so where a program is missing those tests are skipped, with the reason
 * and the install command in their name. In CI (`CI=true`, where `.ci/run` installs the
 * packages) they are never skipped: a missing program fails them, naming the package.
 */
export function requireBinaries(binaries: readonly SystemBinary[]): { skip: boolean; note: string } {
  const missing = binaries.filter((b) => !found(b.bin));
  if (missing.length === 0 || process.env.CI === 'true') return { skip: false, note: '' };
  const pkgs = [...new Set(missing.map((b) => b.pkg))].join(' ');
  return {
    skip: true,
    note: ` [skipped: ${missing.map((b) => b.bin).join(', ')} not installed; apt-get install -y ${pkgs} to run these]`,
  };
}
