import { parseArgs } from 'node:util';
import { createMesh } from '../mesh/create-mesh.js';
import type { Mesh } from '../mesh/mesh.js';
import { file } from '../discovery/file-source.js';
import { staticEndpoints } from '../discovery/static-endpoints.js';
import type { DiscoverySource } from '../discovery/types.js';
import { formatExplanation } from '../route/explain.js';
import type { CliOutput } from './check.js';
import { readConfigInputs } from '../config/config-inputs.js';

/** The CUSTOM provider names the AuthorizationPolicies of `config` give. */
function customProviders(config: readonly string[]): string[] {
  const inputs = readConfigInputs(config);
  const names = new Set<string>();
  for (const { resource } of [...inputs.inline, ...inputs.files.flatMap((f) => f.located)]) {
    const r = resource as { kind?: unknown; spec?: { provider?: { name?: unknown } } } | null;
    if (r?.kind === 'AuthorizationPolicy' && typeof r.spec?.provider?.name === 'string') names.add(r.spec.provider.name);
  }
  for (const file of inputs.files) void file.close();
  return [...names];
}

/**
 * `proxyless explain --config FILE URL ...`: what the mesh would do with one request.
 * Everything it opens (the mesh, the discovery sources) is closed whatever happens, so
 * the process exits; a bad URL is a usage error (exit 2) before anything is opened.
 */
export async function explain(args: readonly string[], io: CliOutput, usage: string): Promise<number> {
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
        inbound: { type: 'boolean' },
        peer: { type: 'string' },
        port: { type: 'string' },
        namespace: { type: 'string' },
        label: { type: 'string', multiple: true },
      },
    });
  } catch (error) {
    io.err(`explain: ${(error as Error).message}\n${usage}`);
    return 2;
  }
  const url = parsed.positionals[0];
  if (!url || parsed.positionals.length > 1) {
    io.err(`explain: give exactly one URL\n${usage}`);
    return 2;
  }
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    io.err(`explain: ${JSON.stringify(url)} (expected: an http:// or https:// URL such as http://reviews/api/1)`);
    return 2;
  }
  const headers: Record<string, string> = {};
  for (const h of parsed.values.header ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) {
      io.err(`explain: -H ${JSON.stringify(h)} (expected: 'name: value')`);
      return 2;
    }
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const services: Record<string, string[]> = {};
  for (const e of parsed.values.endpoints ?? []) {
    const eq = e.indexOf('=');
    if (eq <= 0) {
      io.err(`explain: --endpoints ${JSON.stringify(e)} (expected: service=host:port[,host:port])`);
      return 2;
    }
    services[e.slice(0, eq)] = e.slice(eq + 1).split(',');
  }
  if (parsed.values.inbound) return explainServerSide(parsed.values, url, headers, io);
  const sources: DiscoverySource[] = [];
  let mesh: Mesh | undefined;
  try {
    sources.push(staticEndpoints(services));
    for (const path of parsed.values['endpoints-file'] ?? []) sources.push(file(path));
    mesh = createMesh({ config: parsed.values.config ?? [], discovery: sources, discoveryTimeout: 1000 });
    io.out(formatExplanation(await mesh.explain(url, { method: parsed.values.request ?? 'GET', headers })));
    return 0;
  } catch (error) {
    io.err(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    // The sources too: they are ours, whether or not the mesh closes what it was given.
    await mesh?.close();
    await Promise.all(sources.map((s) => s.close()));
  }
}

/**
 * `proxyless explain --inbound --config FILE [--peer SPIFFE_ID] [--port N] [--namespace NS]
 * [--label k=v]... URL`: what a workload (its namespace and labels) would do with a request
 * it receives: the port's mTLS mode, then which AuthorizationPolicy decides, and why.
 */
async function explainServerSide(
  values: { config?: string[]; peer?: string; port?: string; namespace?: string; label?: string[]; request?: string },
  url: string,
  headers: Record<string, string>,
  io: CliOutput,
): Promise<number> {
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const eq = l.indexOf('=');
    if (eq <= 0) {
      io.err(`explain: --label ${JSON.stringify(l)} (expected: key=value)`);
      return 2;
    }
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  let mesh: Mesh | undefined;
  try {
    // CUSTOM providers are code, absent offline: each one named is stood in for (never asked).
    const providers = Object.fromEntries(customProviders(values.config ?? []).map((name) => [name, () => true]));
    mesh = createMesh({ config: values.config ?? [], labels, authorization: { providers }, ...(values.namespace !== undefined && { namespace: values.namespace }) });
    const explanation = mesh.explainInbound({ url, method: values.request ?? 'GET', headers, ...(values.peer !== undefined && { peer: values.peer }), ...(port !== undefined && { port }) });
    io.out(`${explanation.lines.join('\n')}\n`);
    return explanation.refusedByMtls || !explanation.authorization.decision.allowed ? 3 : 0;
  } catch (error) {
    io.err(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    await mesh?.close();
  }
}
