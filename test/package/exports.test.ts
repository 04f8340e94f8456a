// The public surface, held to its documentation: every export of every entry (the root
// and the subpaths) is listed in docs/api.md, under its entry's heading, and the page
// lists nothing that is not exported. Each subpath is wired the same way everywhere: in
// package.json "exports" (source condition, import and require with their types), in
// the build's entries and in the typedoc entry points.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { apiExports, ENTRIES } from '../../scripts/api-exports.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string): string => readFileSync(`${root}/${path}`, 'utf8');

/** The names docs/api.md lists under each `## \`entry\`` heading. */
function documented(): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of read('docs/api.md').split('\n')) {
    const heading = /^## `([^`]+)`\s*$/.exec(line);
    if (heading) sections.set(heading[1]!, (current = []));
    else if (/^## /.test(line)) current = undefined;
    const item = /^- `([^`]+)`/.exec(line);
    if (item && current) current.push(item[1]!);
  }
  return sections;
}

describe('the public surface', () => {
  const exported = apiExports(root);
  const docs = documented();

  it('docs/api.md lists every export of every entry under its heading, and nothing else', () => {
    expect([...docs.keys()].sort()).toEqual(ENTRIES.map((e) => e.subpath).sort());
    for (const entry of ENTRIES) {
      const names = exported.get(entry.subpath)!.map((e) => e.name);
      const listed = docs.get(entry.subpath) ?? [];
      expect(names.filter((n) => !listed.includes(n)), `${entry.subpath}: exported but not in docs/api.md`).toEqual([]);
      expect(listed.filter((n) => !names.includes(n)), `${entry.subpath}: in docs/api.md but not exported`).toEqual([]);
      expect(listed.length, `${entry.subpath}: listed once each`).toBe(new Set(listed).size);
    }
  }, 60_000);

  it('building blocks stay out of the root entry: no balancer, breaker state machine, detector, parser or schema', () => {
    const rootNames = new Set(exported.get('proxyless')!.map((e) => e.name));
    // Each name, value or type, is exported by one entry only (docs/architecture.md, "Root
    // or subpath: the rule").
    const entryOf = new Map<string, string>();
    for (const [subpath, list] of exported) {
      for (const { name } of list) {
        expect(entryOf.get(name), `${name}: exported by ${entryOf.get(name)} and ${subpath}`).toBeUndefined();
        entryOf.set(name, subpath);
      }
    }
    const rootValues = exported.get('proxyless')!.filter((e) => e.value).map((e) => e.name);
    expect(rootValues.filter((n) => /Balancer$|^ServiceBreaker$|^OutlierDetector$|^HealthChecker$|Schema$|^parse(MeshYaml|Endpoint)$|^murmurHash3$/.test(n))).toEqual([]);
    expect(rootValues.filter((n) => /^compile|^parse|Limiter$|^TokenBucket$|^(verify|load)Svid$|^X509Svid$|^MeshLifecycle$/.test(n))).toEqual([]);
    // What an application needs is there.
    for (const name of ['createMesh', 'Mesh', 'staticEndpoints', 'file', 'dns', 'virtualService', 'destinationRule', 'serviceEntry', 'isProxylessError', 'withDeadline', 'layer', 'Stack', 'ForwardingHandler', 'serviceLayers', 'endpointLayers', 'CircuitOpenError']) {
      expect(rootNames.has(name), name).toBe(true);
    }
    // The root keeps what the README, docs and examples show an application naming from the
    // telemetry, identity, security and server folders; their building blocks are subpaths'.
    for (const name of ['TraceContextPropagator', 'CHANNEL_NAMES', 'identityFromFiles', 'devIdentity', 'inbound', 'inboundLayer', 'InvalidSpiffeIdError', 'PeerAuthenticationRefusedError']) {
      expect(rootNames.has(name), name).toBe(true);
    }
  }, 60_000);

  it('each subpath is in package.json exports (source, import and require with types), the build and the API docs', () => {
    const pkg = JSON.parse(read('package.json')) as { exports: Record<string, Record<string, unknown>> };
    const tsup = read('tsup.config.ts');
    const typedoc = JSON.parse(read('typedoc.json')) as { entryPoints: string[] };
    for (const { subpath, file } of ENTRIES) {
      const key = subpath === 'proxyless' ? '.' : `./${subpath.slice('proxyless/'.length)}`;
      const out = subpath === 'proxyless' ? 'index' : subpath.slice('proxyless/'.length);
      expect(pkg.exports[key], key).toEqual({
        'proxyless-source': `./${file}`,
        import: { types: `./dist/${out}.d.ts`, default: `./dist/${out}.js` },
        require: { types: `./dist/${out}.d.cts`, default: `./dist/${out}.cjs` },
      });
      expect(tsup, `tsup entry ${out}`).toContain(`${out}: '${file}'`);
      expect(typedoc.entryPoints).toContain(file);
    }
  });
});
