#!/usr/bin/env node
/**
 * The `proxyless` command line:
 *
 *   proxyless check FILE_OR_DIR...       validate mesh config; exit 1 on any error (for CI)
 *   proxyless explain --config FILE URL [-X METHOD] [-H 'name: value']... [--endpoints svc=host:port,...]... [--endpoints-file FILE]...
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { createMesh } from '../mesh/create-mesh.js';
import { file } from '../discovery/file-source.js';
import { staticEndpoints } from '../discovery/static-endpoints.js';
import { formatExplanation } from '../route/explain.js';
import { ProxylessError } from '../core/errors.js';

const USAGE = `usage:
  proxyless check FILE_OR_DIR...
      Validates Istio config (VirtualService, DestinationRule, ServiceEntry) as the mesh
      loads it. Prints every error and warning; exits 1 if any file is invalid.
  proxyless explain --config FILE_OR_DIR URL [-X METHOD] [-H 'name: value']... [--endpoints svc=host:port[,host:port]]... [--endpoints-file FILE]...
      Prints what the mesh would do with the request: matching routes, destinations,
      endpoints and policies. --endpoints gives discovery a static list; --endpoints-file
      reads one as file() does (YAML/JSON: service → endpoints).`;

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'check') return check(rest, out, err);
  if (command === 'explain') return explain(rest, out, err);
  err(command === undefined || command === '--help' || command === '-h' ? USAGE : `unknown command ${JSON.stringify(command)}\n${USAGE}`);
  return command === '--help' || command === '-h' ? 0 : 2;
}

async function check(paths: readonly string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  if (paths.length === 0) {
    err(`check: no file given\n${USAGE}`);
    return 2;
  }
  let failed = 0;
  for (const path of paths) {
    try {
      const mesh = createMesh({ config: path });
      out(`✓ ${path}: valid${mesh.warnings.length ? `, ${mesh.warnings.length} warning(s)` : ''}`);
      for (const warning of mesh.warnings) out(`  warning: ${warning}`);
      await mesh.close();
    } catch (error) {
      failed++;
      if (error instanceof ProxylessError && 'problems' in error) {
        err(`✗ ${path}:`);
        for (const problem of (error as ProxylessError & { problems: string[] }).problems) err(`  ${problem}`);
      } else {
        err(`✗ ${path}: ${(error as Error).message}`);
      }
    }
  }
  out(`${paths.length - failed} valid, ${failed} invalid`);
  return failed > 0 ? 1 : 0;
}

async function explain(args: readonly string[], out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        config: { type: 'string', multiple: true },
        header: { type: 'string', short: 'H', multiple: true },
        request: { type: 'string', short: 'X' },
        endpoints: { type: 'string', multiple: true },
        'endpoints-file': { type: 'string', multiple: true },
      },
    });
  } catch (error) {
    err(`explain: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const url = parsed.positionals[0];
  if (!url || parsed.positionals.length > 1) {
    err(`explain: give exactly one URL\n${USAGE}`);
    return 2;
  }
  const headers: Record<string, string> = {};
  for (const h of parsed.values.header ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) {
      err(`explain: -H ${JSON.stringify(h)} (expected: 'name: value')`);
      return 2;
    }
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const services: Record<string, string[]> = {};
  for (const e of parsed.values.endpoints ?? []) {
    const eq = e.indexOf('=');
    if (eq <= 0) {
      err(`explain: --endpoints ${JSON.stringify(e)} (expected: service=host:port[,host:port])`);
      return 2;
    }
    services[e.slice(0, eq)] = e.slice(eq + 1).split(',');
  }
  try {
    const files = (parsed.values['endpoints-file'] ?? []).map((path) => file(path));
    const mesh = createMesh({ config: parsed.values.config ?? [], discovery: [staticEndpoints(services), ...files], discoveryTimeout: 1000 });
    out(formatExplanation(await mesh.explain(url, { method: parsed.values.request ?? 'GET', headers })));
    await mesh.close();
    return 0;
  } catch (error) {
    err(error instanceof Error ? error.message : String(error));
    return 1;
  }
}

// Run when executed directly (not when imported by tests).
if (process.argv[1] && /(^|[\\/])(main\.(ts|js|cjs)|cli\.(js|cjs)|proxyless)$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
