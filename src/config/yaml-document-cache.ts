import { parseMeshYaml } from './parse-mesh-yaml.js';

/**
 * Parses one file's mesh YAML again and again (each reload), parsing only the documents
 * whose text changed: YAML parsing is what makes a reload of a large file slow (a
 * 1.4 MB, 3,000-document file takes about 700 ms to parse whole), while an edit usually
 * touches one document.
 *
 * The text is cut at its document markers (`---` at the start of a line, which YAML
 * never allows inside a document's content) and each piece is parsed on its own with
 * {@link parseMeshYaml}, or taken from the last parse when its text is the same. The
 * result is the same as parsing the whole text: the same resources in the same order.
 * Whenever it might not be (a directive `%...` or an end marker `...` line, whose scope
 * crosses pieces) or a piece does not parse, the whole text is parsed instead, so errors
 * carry the file's own line numbers.
 *
 * Cached resources are shared between parses: callers must not modify them (the config
 * loader copies before it changes anything).
 */
export class YamlDocumentCache {
  #pieces = new Map<string, readonly unknown[]>();

  /**
   * The resources of `text` (see {@link parseMeshYaml}); throws its `InvalidConfigError`
   * for a syntax error, leaving the cache as it was.
   */
  parse(text: string, origin: string): unknown[] {
    const pieces = splitDocuments(text);
    if (pieces === undefined) {
      const resources = parseMeshYaml(text, origin);
      this.#pieces = new Map();
      return resources;
    }
    const next = new Map<string, readonly unknown[]>();
    const out: unknown[] = [];
    for (const piece of pieces) {
      let resources = next.get(piece) ?? this.#pieces.get(piece);
      if (resources === undefined) {
        try {
          resources = parseMeshYaml(piece, origin);
        } catch {
          // Parse the whole text for its own error positions (and in case it does parse).
          const whole = parseMeshYaml(text, origin);
          this.#pieces = new Map();
          return whole;
        }
      }
      next.set(piece, resources);
      for (const resource of resources) out.push(resource);
    }
    this.#pieces = next;
    return out;
  }

  /** Pieces cached now (for tests). */
  get size(): number {
    return this.#pieces.size;
  }
}

const DIRECTIVE_OR_END = /^(?:%|\.\.\.(?:[ \t]|$))/m;
const DOCUMENT_START = /^---(?=[ \t\r\n]|$)/gm;

/**
 * `text` cut before each `---` line, or undefined when cutting might change its meaning
 * (directives and document end markers).
 */
export function splitDocuments(text: string): string[] | undefined {
  if (DIRECTIVE_OR_END.test(text)) return undefined;
  const pieces: string[] = [];
  let from = 0;
  DOCUMENT_START.lastIndex = 0;
  for (let match = DOCUMENT_START.exec(text); match !== null; match = DOCUMENT_START.exec(text)) {
    if (match.index > from) pieces.push(text.slice(from, match.index));
    from = match.index;
    DOCUMENT_START.lastIndex = match.index + 3;
  }
  if (from < text.length) pieces.push(text.slice(from));
  return pieces;
}
