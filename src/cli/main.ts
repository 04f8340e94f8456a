#!/usr/bin/env node
/**
 * The `proxyless` command line:
 *
 *   proxyless check [--strict] FILE_OR_DIR...   validate mesh config as Istio does; exit 1 on any error (for CI)
 *   proxyless explain --config FILE URL [-X METHOD] [-H 'name: value']... [--endpoints svc=host:port,...]... [--endpoints-file FILE]...
 *   proxyless top --admin URL [--token TOKEN]       live view of a running mesh (its admin endpoint)
 *   proxyless status --admin URL [--json]           one snapshot of it
 *
 * @module
 */
import { check, type CliOutput } from './check.js';
import { explain } from './explain.js';
import { certs } from './certs.js';
import { status } from './status.js';
import { top } from './top.js';

const USAGE = `usage:
  proxyless check [--strict] FILE_OR_DIR...
      Validates Istio config (VirtualService, DestinationRule, ServiceEntry and the
      security kinds) as Istio and the mesh do. Prints every error and warning with its
      field path; other kinds (Deployment, Service, Gateway, ...) are skipped with a note.
      --strict: unknown fields are errors (istioctl's behaviour), not warnings. Exits 1
      if any path is invalid or holds no Istio resource.
  proxyless explain --config FILE_OR_DIR URL [-X METHOD] [-H 'name: value']... [--endpoints svc=host:port[,host:port]]... [--endpoints-file FILE]...
  proxyless explain --inbound --config FILE_OR_DIR URL [--peer SPIFFE_ID] [--port N] [--namespace NS] [--label k=v]... [-X METHOD] [-H 'name: value']...
                                                   the server side: mTLS mode and which AuthorizationPolicy decides (exit 3 when refused)
      Prints what the mesh would do with the request: matching routes, destinations,
      endpoints and policies. --endpoints gives discovery a static list; --endpoints-file
      reads one as file() does (YAML/JSON: service → endpoints).
  proxyless certs (ca create | issue | inspect | verify) ...      dev CA, SVIDs and their checks; see proxyless certs --help
  proxyless top --admin URL [--token TOKEN] [--interval MS]
      A live view of a running mesh through its admin endpoint (mesh.admin()): services,
      endpoints, rates, latency, errors, ejections. q quits. PROXYLESS_ADMIN and
      PROXYLESS_ADMIN_TOKEN stand for --admin and --token.
  proxyless status --admin URL [--token TOKEN] [--json]
      One snapshot of the same, as text or JSON (the dashboard's frame).`;

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  const io: CliOutput = { out, err };
  const [command, ...rest] = argv;
  if (command === 'check') return check(rest, io, USAGE);
  if (command === 'explain') return explain(rest, io, USAGE);
  if (command === 'certs') return certs(rest, io);
  if (command === 'status') return status(rest, io, USAGE);
  if (command === 'top') return top(rest, io, USAGE);
  err(command === undefined || command === '--help' || command === '-h' ? USAGE : `unknown command ${JSON.stringify(command)}\n${USAGE}`);
  return command === '--help' || command === '-h' ? 0 : 2;
}

/**
 * The mesh reports config warnings as process warnings (`PROXYLESS_W_CONFIG`), which
 * Node prints; the CLI prints them itself, in its own format, so Node's printer is
 * replaced by one that skips those (and prints any other warning as Node would).
 */
function printOtherWarningsOnly(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    if (warning.code !== 'PROXYLESS_W_CONFIG') console.error(`(node:${process.pid}) ${warning.name}: ${warning.message}`);
  });
}

// Run when executed directly (not when imported by tests).
if (process.argv[1] && /(^|[\\/])(main\.(ts|js|cjs)|cli\.(js|cjs)|proxyless)$/.test(process.argv[1])) {
  printOtherWarningsOnly();
  const finish = (code: number): void => {
    process.exitCode = code;
    // Everything is closed by now; should a handle still be open (a bug), a CI step must
    // not hang on it: leave after a grace period without waiting for it.
    setTimeout(() => process.exit(code), 3000).unref();
  };
  main(process.argv.slice(2)).then(finish, (error: unknown) => {
    console.error(error);
    finish(1);
  });
}
