// Reads every import of the source tree with TypeScript's own pre-parser (import and
// export ... from, import(), type-only imports included) and resolves the relative ones
// to files. Used by imports.test.ts; also runnable on its own to print the folder graph:
// npx tsx test/architecture/import-graph.ts
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const src = join(root, 'src');

/** One import: the importing file and the imported file, both relative to src/ with `/`. */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
  readonly line: number;
}

function* tsFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield path;
  }
}

const posix = (path: string) => path.split(sep).join('/');

/** Every relative import between files of `dir` (src/ by default). */
export function importEdges(dir = src): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of tsFiles(dir)) {
    const text = readFileSync(file, 'utf8');
    const info = ts.preProcessFile(text, true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), ref.fileName).replace(/\.js$/, '.ts');
      const line = text.slice(0, ref.pos).split('\n').length;
      edges.push({ from: posix(relative(dir, file)), to: posix(relative(dir, target)), line });
    }
  }
  return edges;
}

/** The top-level folder of a path relative to src/ (`policy`, `mesh`; `index.ts` for the root file). */
export function folderOf(path: string): string {
  const slash = path.indexOf('/');
  return slash < 0 ? path : path.slice(0, slash);
}

/** The cycles in a directed graph, each as a list of nodes (Tarjan's strongly connected components of size > 1). */
export function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    indices.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indices.get(next)!));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) visit(node);
  return components;
}

/** The graph between top-level folders of src/ (the root index.ts left out: it re-exports everything). */
export function folderGraph(edges: readonly ImportEdge[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (a === b || a === 'index.ts') continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(b);
  }
  return graph;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const graph = folderGraph(importEdges());
  for (const [from, tos] of [...graph].sort()) console.log(`${from} -> ${[...tos].sort().join(', ')}`);
  console.log('cycles:', JSON.stringify(cycles(graph)));
}
