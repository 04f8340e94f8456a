// The canary's config file: examples/demo/canary.yaml with its two route weights filled
// in, written the way editors and config tools write files (a temp file, then a
// rename), so the mesh's file watcher never reads half a file.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The YAML shipped with the demo: a DestinationRule (subsets v1, v2) and a VirtualService splitting 90/10. */
export const CANARY_YAML = fileURLToPath(new URL('./canary.yaml', import.meta.url));

/** Route weights per subset, as in the VirtualService. */
export interface CanaryWeights {
  readonly v1: number;
  readonly v2: number;
}

/** The rollout: the first split is in the file when the mesh is created, the others are edits. */
export const ROLLOUT: readonly CanaryWeights[] = [
  { v1: 90, v2: 10 },
  { v1: 50, v2: 50 },
  { v1: 0, v2: 100 },
];

/** `weight: 90` after `subset: v1`, `weight: 10` after `subset: v2`. */
const ROUTE_WEIGHT = /(subset: (v1|v2)\r?\n\s+weight: )\d+/g;

/** canary.yaml's text (comments and all) with the route weights set to `weights`. */
export function canaryYaml(weights: CanaryWeights): string {
  const found = new Set<string>();
  const text = readFileSync(CANARY_YAML, 'utf8').replace(ROUTE_WEIGHT, (_, prefix: string, subset: 'v1' | 'v2') => {
    found.add(subset);
    return `${prefix}${weights[subset]}`;
  });
  if (found.size !== 2) throw new Error(`${CANARY_YAML}: expected a "weight:" line right after "subset: v1" and after "subset: v2"`);
  return text;
}

/** Replaces the file at `path` with `text` atomically: writes `<path>.tmp`, then renames it over `path`. */
export function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}
