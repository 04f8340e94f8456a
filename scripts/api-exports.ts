// The public entries' exports, read with TypeScript's own checker: what docs/api.md must
// list (test/package/exports.test.ts compares the two). Run it to print a docs/api.md
// skeleton with each export's first TSDoc sentence:
//
//   npx tsx scripts/api-exports.ts > docs/api.md
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The package's entries: the subpath as imported, and its source file. */
export const ENTRIES = [
  { subpath: 'proxyless', file: 'src/index.ts' },
  { subpath: 'proxyless/balance', file: 'src/entries/balance.ts' },
  { subpath: 'proxyless/policy', file: 'src/entries/policy.ts' },
  { subpath: 'proxyless/config', file: 'src/entries/config.ts' },
  { subpath: 'proxyless/discovery', file: 'src/entries/discovery.ts' },
  { subpath: 'proxyless/telemetry', file: 'src/entries/telemetry.ts' },
  { subpath: 'proxyless/security', file: 'src/entries/security.ts' },
  { subpath: 'proxyless/tls', file: 'src/entries/tls.ts' },
  { subpath: 'proxyless/inbound', file: 'src/entries/inbound.ts' },
  { subpath: 'proxyless/admin', file: 'src/entries/admin.ts' },
] as const;

/** One export of an entry. */
export interface ApiExport {
  readonly name: string;
  /** `class`, `function`, `const`, `interface`, `type`, ... */
  readonly kind: string;
  /** Whether it exists at run time (a class, function or constant) or only as a type. */
  readonly value: boolean;
  /** The folder of src/ it is declared in (`mesh`, `discovery`, `core`, ...). */
  readonly area: string;
  /** The first sentence of its TSDoc. */
  readonly summary: string;
}

function kindOf(symbol: ts.Symbol): string {
  const f = symbol.flags;
  if (f & ts.SymbolFlags.Class) return 'class';
  if (f & ts.SymbolFlags.Function) return 'function';
  if (f & ts.SymbolFlags.Enum) return 'enum';
  if (f & ts.SymbolFlags.Variable) return 'const';
  if (f & ts.SymbolFlags.Interface) return 'interface';
  if (f & ts.SymbolFlags.TypeAlias) return 'type';
  return 'other';
}

function firstSentence(text: string): string {
  // Up to a code block: a summary is prose.
  const prose = text.split('```')[0]!;
  const flat = prose.replace(/\{@link\s+([^}|\s]+)\s*\}/g, '`$1`').replace(/\s+/g, ' ').trim();
  const match = /^(.*?[.])(\s|$)/.exec(flat);
  const sentence = match ? match[1]! : flat;
  if (sentence.length <= 200) return sentence;
  // Cut at a word, and close a code span the cut left open.
  const cut = sentence.slice(0, sentence.lastIndexOf(' ', 197));
  return `${cut}${(cut.split('`').length - 1) % 2 === 1 ? '`' : ''}...`;
}

/** Every export of each entry, sorted by area then name. */
export function apiExports(root: string): Map<string, ApiExport[]> {
  const files = ENTRIES.map((e) => `${root}/${e.file}`);
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    customConditions: ['proxyless-source'],
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const result = new Map<string, ApiExport[]>();
  ENTRIES.forEach((entry, i) => {
    const source = program.getSourceFile(files[i]!);
    if (!source) throw new Error(`${entry.file}: not found`);
    const module = checker.getSymbolAtLocation(source)!;
    const list = checker.getExportsOfModule(module).map((e): ApiExport => {
      const target = e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e;
      const declaration = target.declarations?.[0];
      const file = declaration?.getSourceFile().fileName ?? '';
      const area = /\/src\/([^/]+)\//.exec(file)?.[1] ?? 'src';
      return {
        name: e.name,
        kind: kindOf(target),
        value: (target.flags & ts.SymbolFlags.Value) !== 0,
        area,
        summary: firstSentence(ts.displayPartsToString(target.getDocumentationComment(checker))),
      };
    });
    list.sort((a, b) => a.area.localeCompare(b.area) || a.name.localeCompare(b.name));
    result.set(entry.subpath, list);
  });
  return result;
}

const HEADER = `# API

Every export of proxyless's entries, one line each, grouped by the folder of \`src/\` it
comes from. The root entry, \`proxyless\`, holds what an application uses: the mesh,
discovery sources, config types and builders, every error, deadlines, stacks and their
default layers, the telemetry options with the propagator and the channels to subscribe
to, the identity sources and authorization providers given to \`createMesh\`, the server
side (\`inbound\`, its stack and options) and the admin server. Building blocks live in
subpath entries: \`proxyless/balance\` (balancers), \`proxyless/policy\` (breaker,
outlier detector, health checker, retry budget, their settings and layers),
\`proxyless/config\` (YAML parsing, \`checkConfig\`, the extension annotations' schemas),
\`proxyless/discovery\` (what a discovery source is built from), \`proxyless/telemetry\`
(trace-context parsing, metric and span definitions, response flags, the access log
writer), \`proxyless/security\` (the compilers, matchers and explainers of Istio's security
resources, JWT key sources), \`proxyless/tls\` (SPIFFE IDs, SVIDs, certificates and trust
bundles, the dev CA, mTLS options and connector) and \`proxyless/inbound\` (what the
server adapters are built from: lifecycle, limiters, deadline parsing); \`proxyless/admin\`
holds only types (the JSON the admin endpoints answer). Each subpath works
from \`import\` and \`require\`, with types for both.

\`test/package/exports.test.ts\` fails when an entry exports a name this page does not
list, or lists a name no entry exports. \`npx tsx scripts/api-exports.ts\` prints the
lists with each export's first TSDoc sentence.
`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  console.log(HEADER);
  for (const [subpath, list] of apiExports(root)) {
    console.log(`## \`${subpath}\`\n`);
    let area = '';
    for (const e of list) {
      if (e.area !== area) console.log(`${area === '' ? '' : '\n'}### ${(area = e.area)}\n`);
      console.log(`- \`${e.name}\` (${e.kind}): ${e.summary}`);
    }
    console.log('');
  }
}
