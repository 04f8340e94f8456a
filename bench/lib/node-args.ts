/** Flags of this process that a child must not inherit (profilers, debuggers, GC access). */
const NOT_INHERITED = /^--(cpu-prof|heap-prof|prof|inspect|expose-gc|expose_gc)/;

/**
 * The Node flags for a forked child: this process's flags (which carry tsx's loader and
 * `--conditions=proxyless-source`) minus profiling and debugging ones, so profiling a
 * benchmark does not also profile its backend servers. `extra` is appended.
 */
export function childExecArgv(extra: readonly string[] = []): string[] {
  const inherited: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (NOT_INHERITED.test(flag)) {
      // `--cpu-prof-dir dir` style flags take the next word as their value.
      if (!flag.includes('=') && /-(dir|name|interval)$/.test(flag)) i++;
      continue;
    }
    inherited.push(flag);
  }
  return [...inherited, ...extra];
}
