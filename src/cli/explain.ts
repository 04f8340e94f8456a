import { parseArgs } from 'node:util';
import { createMesh } from '../mesh/create-mesh.js';
import type { Mesh } from '../mesh/mesh.js';
import { file } from '../discovery/file-source.js';
import { staticEndpoints } from '../discovery/static-endpoints.js';
import type { DiscoverySource } from '../discovery/types.js';
import { formatExplanation } from '../route/explain.js';
import type { CliOutput } from './check.js';

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
