import { describe, expect, it } from 'vitest';
import { cycles, folderGraph, folderOf, importEdges, type ImportEdge } from './import-graph.js';

// The import direction between the top-level folders of src/ (docs/architecture.md,
// "Folders and the direction of imports"). Each folder may import only the folders listed
// for it; the table itself must be free of cycles. Type-only imports count: a type is a
// dependency too. src/index.ts, which re-exports everything, is left out.
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  core: [],
  tls: ['core'],
  telemetry: ['core'],
  security: ['core'],
  balance: ['core'],
  discovery: ['core', 'balance'],
  policy: ['core'],
  config: ['core', 'balance', 'discovery', 'policy', 'security'],
  route: ['core', 'config', 'discovery', 'policy'],
  compile: ['core', 'balance', 'config', 'discovery', 'route', 'security', 'tls'],
  inbound: ['core', 'config', 'policy', 'route', 'security', 'telemetry', 'tls'],
  admin: ['core', 'balance', 'compile', 'config', 'discovery', 'inbound', 'policy', 'route', 'tls'],
  mesh: ['core', 'admin', 'balance', 'compile', 'config', 'discovery', 'inbound', 'policy', 'route', 'security', 'telemetry', 'tls'],
  cli: ['core', 'admin', 'compile', 'config', 'discovery', 'mesh', 'route', 'tls'],
  // The published subpath entries (proxyless/balance, /policy, /config, /discovery,
  // /telemetry, /security, /tls, /inbound, /admin): re-exports only.
  entries: ['admin', 'balance', 'compile', 'config', 'core', 'discovery', 'inbound', 'mesh', 'policy', 'security', 'telemetry', 'tls'],
};

const edges = importEdges();
const show = (list: readonly ImportEdge[]) => list.map((e) => `src/${e.from}:${e.line} imports src/${e.to}`);
const between = (from: string, to: string) => edges.filter((e) => folderOf(e.from) === from && folderOf(e.to) === to);

describe('import direction in src/', () => {
  it('reads the imports of every folder (the parser finds them)', () => {
    // Guards the test itself: an import reader that found nothing would pass every rule.
    const folders = new Set(edges.map((e) => folderOf(e.from)));
    for (const folder of Object.keys(ALLOWED)) if (folder !== 'core') expect(folders, folder).toContain(folder);
    expect(between('mesh', 'policy').length).toBeGreaterThan(0);
  });

  it('every top-level folder is in the table, and the table has no cycle', () => {
    const folders = new Set(edges.flatMap((e) => [folderOf(e.from), folderOf(e.to)]).filter((f) => !f.endsWith('.ts')));
    expect([...folders].filter((f) => !(f in ALLOWED))).toEqual([]);
    const table = new Map(Object.entries(ALLOWED).map(([from, to]) => [from, new Set(to)]));
    expect(cycles(table)).toEqual([]);
  });

  it('each folder imports only the folders the table allows it', () => {
    const offending = edges.filter((e) => {
      const from = folderOf(e.from);
      const to = folderOf(e.to);
      return from !== to && !from.endsWith('.ts') && !(ALLOWED[from] ?? []).includes(to);
    });
    expect(show(offending)).toEqual([]);
  });

  it('no cycle between top-level folders in the imports themselves', () => {
    expect(cycles(folderGraph(edges))).toEqual([]);
  });

  it.each([
    ['policy', 'config'],
    ['policy', 'mesh'],
    ['balance', 'mesh'],
    ['config', 'mesh'],
    ['telemetry', 'mesh'],
    ['telemetry', 'policy'],
    ['discovery', 'mesh'],
    ['admin', 'mesh'],
  ])('%s never imports %s', (from, to) => {
    expect(show(between(from, to))).toEqual([]);
  });

  it("config imports a policy only for the settings it produces (src/policy/<name>/settings.ts)", () => {
    const offending = between('config', 'policy').filter((e) => !/^policy\/[a-z-]+\/settings\.ts$/.test(e.to));
    expect(show(offending)).toEqual([]);
  });

  it("outside src/policy, a policy is imported through its folder's index.ts or its settings.ts", () => {
    const offending = edges.filter(
      (e) => folderOf(e.from) !== 'policy' && /^policy\/[a-z-]+\//.test(e.to) && !/\/(index|settings)\.ts$/.test(e.to),
    );
    expect(show(offending)).toEqual([]);
  });
});
