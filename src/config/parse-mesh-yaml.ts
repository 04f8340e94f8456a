import { LineCounter, parseAllDocuments } from 'yaml';
import { InvalidConfigError } from '../core/errors.js';

/**
 * Parses mesh config text: YAML with any number of `---`-separated documents, as a
 * cluster holds it (JSON is YAML too). Empty documents are skipped; a document that is
 * a Kubernetes `List` contributes its `items`. Syntax errors throw one
 * {@link InvalidConfigError} listing every error as `origin:line:column: message`.
 *
 * @param text the file or key contents
 * @param origin where the text came from, for messages (a path, `etcd:/mesh/config`)
 */
export function parseMeshYaml(text: string, origin: string): unknown[] {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const list = Array.isArray(documents) ? documents : [documents];
  const problems: string[] = [];
  const resources: unknown[] = [];
  list.forEach((document, index) => {
    for (const error of document.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      problems.push(`${origin}:${line}:${col}: document ${index + 1}: ${error.message.split('\n')[0]}`);
    }
    if (document.errors.length > 0) return;
    const value: unknown = document.toJS();
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
