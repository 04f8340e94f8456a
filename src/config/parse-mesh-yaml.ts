import { LineCounter, parseAllDocuments } from 'yaml';
import { InvalidConfigError } from '../core/errors.js';
import { MAX_CONFIG_DEPTH, MAX_CONFIG_TEXT_BYTES, MAX_YAML_ALIASES } from './limits.js';

/**
 * Parses mesh config text: YAML with any number of `---`-separated documents, as a
 * cluster holds it (JSON is YAML too). Empty documents are skipped; a document that is
 * a Kubernetes `List` contributes its `items`. Syntax errors throw one
 * {@link InvalidConfigError} listing every error as `origin:line:column: message`.
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
  const problems: string[] = [];
  const resources: unknown[] = [];
  let documents;
  try {
    documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  } catch (error) {
    throw new InvalidConfigError([`${origin}: ${yamlFailure(error)}`]);
  }
  const list = Array.isArray(documents) ? documents : [documents];
  list.forEach((document, index) => {
    for (const error of document.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      problems.push(`${origin}:${line}:${col}: document ${index + 1}: ${yamlFailure(error)}`);
    }
    if (document.errors.length > 0) return;
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (error) {
      problems.push(`${origin}: document ${index + 1}: ${yamlFailure(error)}`);
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
