import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { normaliseServiceName } from './catalog-source.js';
import { parseEndpointList } from './parse-endpoint.js';
import type { Endpoint } from './types.js';

/** The result of reading an endpoints file: the catalog, or every problem found. */
export type EndpointsFileResult =
  | { readonly ok: true; readonly catalog: ReadonlyMap<string, readonly Endpoint[]> }
  | { readonly ok: false; readonly problems: readonly string[] };

const SHAPE = `a mapping of service names to endpoint lists, e.g. reviews: ["127.0.0.1:9080", { address: 127.0.0.1, port: 9081, weight: 2 }]`;

/**
 * Parses the text of an endpoints file (YAML, or JSON, which is YAML too) with the same
 * rules as `staticEndpoints`. Every problem is one line that starts with
 * `origin:line:column:` so editors and terminals can jump to it: syntax errors where the
 * parser stopped, shape errors at the service, endpoint or field at fault.
 *
 * An empty file is a problem, not an empty catalog (a truncated write or an emptied file
 * must not drop every endpoint); `{}` says "no services" on purpose.
 */
export function parseEndpointsFile(text: string, origin: string): EndpointsFileResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (node: Node | null | undefined, fallback = 0): string => {
    const { line, col } = lineCounter.linePos(node?.range?.[0] ?? fallback);
    return `${origin}:${line}:${col}`;
  };
  const problems: string[] = [];
  if (document.errors.length > 0) {
    for (const error of document.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      problems.push(`${origin}:${line}:${col}: ${error.message.split('\n')[0]}`);
    }
    return { ok: false, problems };
  }
  const root = document.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === undefined))) {
    return { ok: false, problems: [`${origin}:1:1: the file is empty (expected: ${SHAPE}; write {} for no services)`] };
  }
  if (!isMap(root)) {
    return { ok: false, problems: [`${at(root)}: ${describe(root.toJS(document))} (expected: ${SHAPE})`] };
  }
  const catalog = new Map<string, readonly Endpoint[]>();
  const seen = new Map<string, string>();
  for (const pair of root.items) {
    const keyNode = pair.key as Node | null;
    const valueNode = pair.value as Node | null;
    const key: unknown = isScalar(keyNode) ? keyNode.value : keyNode;
    if (typeof key !== 'string' && typeof key !== 'number') {
      problems.push(`${at(keyNode)}: ${describe(keyNode?.toJS(document))} (expected: a service name such as "reviews")`);
      continue;
    }
    const service = String(key);
    const normalised = normaliseServiceName(service);
    const earlier = seen.get(normalised);
    if (earlier !== undefined) {
      problems.push(`${at(keyNode)}: ${JSON.stringify(service)}: (expected: each service once; it is already listed as ${JSON.stringify(earlier)})`);
      continue;
    }
    seen.set(normalised, service);
    const value: unknown = valueNode ? valueNode.toJS(document) : null;
    const found: string[] = [];
    const list = parseEndpointList(service, value, found);
    for (const problem of found) {
      problems.push(`${at(nodeForProblem(problem, service, keyNode, valueNode), keyNode?.range?.[0])}: ${problem}`);
    }
    if (list) catalog.set(service, list);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, catalog };
}

/**
 * The node a problem line from `parseEndpointList` is about. Item problems start with
 * `service[index]` and may go on with `.field` or `.labels.key`; the deepest node that
 * exists along that path is the place to point at.
 */
function nodeForProblem(problem: string, service: string, keyNode: Node | null, valueNode: Node | null): Node | null {
  if (!problem.startsWith(`${service}[`)) {
    // `"name": (expected: a DNS-style service name ...)` is about the key; the rest about the list.
    return problem.startsWith(`${JSON.stringify(service)}:`) ? keyNode : (valueNode ?? keyNode);
  }
  const path = problem.slice(service.length, problem.indexOf(':', service.length));
  let node: Node | null = valueNode;
  const step = /\[(\d+)\]|\.([^.[]+)/y;
  for (let match = step.exec(path); match && node; match = step.exec(path)) {
    let next: unknown;
    if (match[1] !== undefined && isSeq(node)) next = node.items[Number(match[1])];
    else if (match[2] !== undefined && isMap(node)) next = node.get(match[2], true);
    if (!next || typeof next !== 'object') break;
    node = next as Node;
  }
  return node ?? keyNode;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
