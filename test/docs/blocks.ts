// Finds the TypeScript code blocks of the documentation and the directive written above
// each one. The convention is documented in docs/development.md ("Code blocks in the docs").
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the test does with a block, from the HTML comment on the line above its fence. */
export type Directive =
  /** No comment: the block is a module, type-checked as written. */
  | { readonly kind: 'check' }
  /** `<!-- given: mesh, app: import('express').Express -->`: type-checked with these names declared. */
  | { readonly kind: 'given'; readonly names: readonly Given[] }
  /** `<!-- fragment -->`: type-checked; names it uses without defining them are allowed. */
  | { readonly kind: 'fragment' }
  /** `<!-- run -->`: type-checked, then run against real local servers (each `127.0.0.1:PORT` is one). */
  | { readonly kind: 'run' }
  /** `<!-- no-check: why -->`: neither type-checked nor run, for the reason given. */
  | { readonly kind: 'no-check'; readonly reason: string };

/** A name a `given` block uses without defining it, with its type. */
export interface Given {
  readonly name: string;
  readonly type: string;
}

/** One ```ts (or ```yaml) block of a page. */
export interface CodeBlock {
  /** The page, relative to the repository root (`README.md`, `docs/discovery.md`). */
  readonly file: string;
  /** `ts` or `yaml`. */
  readonly lang: 'ts' | 'yaml';
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
  readonly directive: Directive;
  /** Set when the directive comment could not be read; the test reports it. */
  readonly directiveError?: string;
}

/** The types of the names a `given` directive may list without writing a type. */
export const KNOWN_GIVENS: Readonly<Record<string, string>> = {
  mesh: "import('proxyless').Mesh",
  registry: "ReturnType<typeof import('proxyless').staticEndpoints>",
  handler: "import('node:http').RequestListener",
};

const FENCE = /^( *)(`{3,}|~{3,})\s*([\w-]*)/;
const DIRECTIVE = /^\s*<!--\s*(run|fragment|given|no-check)\s*(?::\s*([\s\S]*?))?\s*-->\s*$/;
const TS_LANGS = new Set(['ts', 'typescript', 'tsx', 'mts']);
const YAML_LANGS = new Set(['yaml', 'yml']);

/** The pages whose blocks are tested: README.md and every `docs/*.md`. */
export function documentationPages(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

/** Every TypeScript and YAML block of one page, with its directive. */
export function extractBlocks(file: string, text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    // Find the closing fence (same character, at least as long), whatever the language.
    let end = i + 1;
    while (end < lines.length) {
      const close = FENCE.exec(lines[end]!);
      if (close && close[2]![0] === fence![0] && close[2]!.length >= fence!.length && close[3] === '') break;
      end++;
    }
    const kind = TS_LANGS.has(lang!.toLowerCase()) ? 'ts' : YAML_LANGS.has(lang!.toLowerCase()) ? 'yaml' : undefined;
    if (kind !== undefined) {
      const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent!) ? l.slice(indent!.length) : l.trimStart()));
      const { directive, error } = directiveAbove(lines, i);
      const unfit = kind === 'yaml' && directive.kind !== 'check' && directive.kind !== 'no-check' ? `<!-- ${directive.kind} --> is for ts blocks; a yaml block takes none or <!-- no-check: ... -->` : undefined;
      const problem = error ?? unfit;
      blocks.push({ file, lang: kind, line: i + 1, code: body.join('\n'), directive, ...(problem ? { directiveError: problem } : {}) });
    }
    i = end;
  }
  return blocks;
}

/** The directive in the HTML comment on the nearest non-blank line above the fence, if any. */
function directiveAbove(lines: readonly string[], fenceIndex: number): { directive: Directive; error?: string } {
  let j = fenceIndex - 1;
  while (j >= 0 && lines[j]!.trim() === '') j--;
  const above = j >= 0 ? lines[j]! : '';
  if (!/^\s*<!--/.test(above)) return { directive: { kind: 'check' } };
  const match = DIRECTIVE.exec(above);
  if (!match) {
    // Another HTML comment (not ours) is fine; one that looks like ours but is not is an error.
    if (/<!--\s*(run|fragment|given|no-check)\b/.test(above)) {
      return { directive: { kind: 'check' }, error: `unreadable directive ${above.trim()}` };
    }
    return { directive: { kind: 'check' } };
  }
  const [, kind, argument = ''] = match;
  switch (kind) {
    case 'run':
    case 'fragment':
      if (argument !== '') return { directive: { kind: 'check' }, error: `<!-- ${kind} --> takes no argument (got "${argument}")` };
      return { directive: { kind } };
    case 'no-check':
      if (argument.length < 10) return { directive: { kind: 'check' }, error: '<!-- no-check: ... --> needs a reason (10 characters or more)' };
      return { directive: { kind: 'no-check', reason: argument } };
    default: {
      const names: Given[] = [];
      for (const entry of splitTopLevel(argument)) {
        const colon = entry.indexOf(':');
        const name = (colon < 0 ? entry : entry.slice(0, colon)).trim();
        const type = colon < 0 ? KNOWN_GIVENS[name] : entry.slice(colon + 1).trim();
        if (!/^[A-Za-z_$][\w$]*$/.test(name) || !type) {
          return { directive: { kind: 'check' }, error: `given "${entry.trim()}": expected a name with a type (name: Type), or one of ${Object.keys(KNOWN_GIVENS).join(', ')}` };
        }
        names.push({ name, type });
      }
      if (names.length === 0) return { directive: { kind: 'check' }, error: '<!-- given: ... --> lists no name' };
      return { directive: { kind: 'given', names } };
    }
  }
}

/** Splits at commas outside brackets and parentheses (a type may hold commas). */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '<' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']' || (c === '>' && text[i - 1] !== '=')) depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.filter((p) => p.trim() !== '');
}

/**
 * Whether a YAML block is whole Istio (or proxyless.dev) resources, which the loader can
 * check: a top-level `apiVersion` and `kind`. Snippets of one field are not.
 */
export function isWholeResource(block: CodeBlock): boolean {
  return block.lang === 'yaml' && /^apiVersion:\s*\S/m.test(block.code) && /^kind:\s*\S/m.test(block.code);
}

/** Every block of README.md and docs/*.md. */
export function allBlocks(root: string): CodeBlock[] {
  return documentationPages(root).flatMap((file) => extractBlocks(file, readFileSync(join(root, file), 'utf8')));
}
