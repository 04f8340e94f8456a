import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type DocumentOptions, type ParseOptions, type SchemaOptions, type Tags } from 'yaml';
import { InvalidConfigError, type ConfigDiagnostic } from '../core/errors/index.js';
import { formatConfigPath, type PathPart } from './config-path.js';
import { goYamlPlainScalar } from './go-yaml-scalars.js';
import { MAX_CONFIG_DEPTH, MAX_CONFIG_TEXT_BYTES, MAX_YAML_ALIASES } from './limits.js';

/**
 * How mesh YAML is read: as YAML 1.1 with go-yaml v2's scalars (see
 * src/config/go-yaml-scalars.ts), merge keys, and duplicate keys refused (istioctl reads
 * files with `yaml.UnmarshalStrict`). The `yaml` package's own warnings are not printed.
 */
const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  schema: 'yaml-1.1',
  merge: true,
  uniqueKeys: true,
  logLevel: 'error',
  prettyErrors: false,
  // The merge tag first (it only matches keys), then go-yaml's plain scalars, which match
  // every other plain scalar; the standard tags stay for explicit tags (`!!str 80`).
  customTags: (tags: Tags): Tags => {
    const merge = tags.filter((t) => typeof t === 'object' && t.tag === 'tag:yaml.org,2002:merge');
    return [...merge, goYamlPlainScalar, ...tags.filter((t) => !merge.includes(t))];
  },
};

/**
 * Parses mesh config text: YAML with any number of `---`-separated documents, as a
 * cluster holds it (JSON is YAML too), read as Istio's tools read it (YAML 1.1 scalars:
 * `yes` is true, `0144` is octal; see src/config/go-yaml-scalars.ts). Empty documents are
 * skipped; a document that is a Kubernetes `List` contributes its `items`. Syntax errors
 * throw one {@link InvalidConfigError} listing every error as
 * `origin:line:column: document N: path: message`, the path naming the key nearest to
 * the fault (a duplicated key, the key above a tab used as indentation).
 *
 * Bounded (see the README's config limits): at most 8 MiB of text and 100 resolved
 * aliases, so an alias bomb or a huge file is refused before it costs memory or seconds;
 * nesting too deep to parse is refused with the limit named, never a stack overflow.
 *
 * @param text the file or key contents
 * @param origin where the text came from, for messages (a path, `etcd:/mesh/config`)
 */
export function parseMeshYaml(text: string, origin: string): unknown[] {
  if (typeof text !== 'string') throw new InvalidConfigError([`${origin}: ${typeof text} (expected: YAML text)`]);
  // UTF-16 length is at least a third of the UTF-8 size: check that first, exactly after.
  if (text.length > MAX_CONFIG_TEXT_BYTES || Buffer.byteLength(text) > MAX_CONFIG_TEXT_BYTES) {
    throw new InvalidConfigError([
      `${origin}: ${Buffer.byteLength(text)} bytes of config text (expected: at most ${MAX_CONFIG_TEXT_BYTES} bytes, 8 MiB, per file or text; split the config into several files)`,
    ]);
  }
  const lineCounter = new LineCounter();
  const problems: ConfigDiagnostic[] = [];
  const resources: unknown[] = [];
  let documents;
  try {
    documents = parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter });
  } catch (error) {
    throw new InvalidConfigError([`${origin}: ${yamlFailure(error)}`]);
  }
  const list = Array.isArray(documents) ? documents : [documents];
  list.forEach((document, index) => {
    for (const error of document.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      const message = yamlFailure(error);
      // A fault deep down needs no path a hundred levels long: the line and column say where.
      const path = message.startsWith('nested too deeply') ? '' : formatConfigPath(pathAt(document.contents, error.pos[0]));
      problems.push({ severity: 'error', where: `${origin}:${line}:${col}: document ${index + 1}`, path, message });
    }
    if (document.errors.length > 0) return;
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (error) {
      problems.push({ severity: 'error', where: `${origin}: document ${index + 1}`, path: '', message: yamlFailure(error) });
      return;
    }
    if (value === null || value === undefined) return;
    if (typeof value === 'object' && !Array.isArray(value) && (value as { kind?: unknown }).kind === 'List') {
      const items = (value as { items?: unknown }).items;
      if (Array.isArray(items)) resources.push(...items);
      return;
    }
    resources.push(value);
  });
  if (problems.length > 0) throw new InvalidConfigError(problems);
  return resources;
}

/**
 * The field path of the key nearest before offset `at` in a parsed document: in each
 * mapping, the last key that starts at or before it (descending while its value spans
 * `at`); in each sequence, the item that spans it. Iterative: a deep document does not
 * overflow the stack here.
 */
function pathAt(root: unknown, at: number): PathPart[] {
  const path: PathPart[] = [];
  let node = root;
  for (let depth = 0; depth < MAX_CONFIG_DEPTH && node !== null && node !== undefined; depth++) {
    if (isMap(node)) {
      let chosen: { key: unknown; value: unknown } | undefined;
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const start = (pair.key as { range?: [number, number, number] } | null)?.range?.[0];
        if (start !== undefined && start <= at) chosen = pair;
      }
      if (chosen === undefined) break;
      const key = chosen.key;
      path.push(isScalar(key) ? String(key.value) : String(key));
      node = spans(chosen.value, at) ? chosen.value : undefined;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => spans(item, at));
      if (index < 0) break;
      path.push(index);
      node = node.items[index];
    } else break;
  }
  return path;
}

function spans(node: unknown, at: number): boolean {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range !== undefined && range[0] <= at && at < range[2];
}

/** What went wrong, in words: the yaml package's own message, or the limit that was hit. */
function yamlFailure(error: unknown): string {
  const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
  if (error instanceof RangeError || /Maximum call stack size exceeded/.test(message)) {
    return `nested too deeply to parse (expected: at most ${MAX_CONFIG_DEPTH} levels)`;
  }
  if (/alias count/i.test(message)) {
    return `more YAML aliases than the ${MAX_YAML_ALIASES} allowed (an alias "bomb" expands exponentially); write the values out instead`;
  }
  return message;
}
