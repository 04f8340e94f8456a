// Every relative link of the documentation leads somewhere: README.md, docs/*.md and the
// READMEs of examples/ and packages/ link files that exist, and each #anchor into a
// Markdown page names one of its headings (GitHub's slugs). Pages move; links must follow.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../examples/run-example.js';
import { documentationPages } from './blocks.js';

/** The pages checked: README.md, docs/*.md, and every README.md under examples/ and packages/. */
function pages(): string[] {
  const readmes = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
      if (entry.name === 'node_modules' || entry.name === 'dist') return [];
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) return readmes(path);
      return entry.name === 'README.md' ? [path] : [];
    });
  return [...documentationPages(root), ...readmes('examples'), ...readmes('packages')];
}

/** The text outside fenced code blocks. */
function outsideFences(markdown: string): string {
  return markdown.replace(/^( *)(`{3,}|~{3,})[\s\S]*?^\1\2 *$/gm, '');
}

/** The text outside fenced code blocks and inline code, where links are links. */
function prose(markdown: string): string {
  return outsideFences(markdown).replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor for each heading of a page (lower case, punctuation dropped, spaces to `-`, repeats numbered). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of outsideFences(markdown).matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const text = heading!.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '');
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  // Explicit anchors (<a id="...">) count too.
  for (const [, id] of markdown.matchAll(/<a (?:id|name)="([^"]+)"/g)) result.add(id!);
  return result;
}

interface Link {
  readonly page: string;
  readonly target: string;
}

function links(page: string): Link[] {
  const text = prose(readFileSync(join(root, page), 'utf8'));
  return [...text.matchAll(/\]\(([^)\s]+)(?: "[^"]*")?\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target)) // http:, https:, mailto:
    .map((target) => ({ page, target }));
}

const all = pages().flatMap(links);

describe('documentation links', () => {
  it('finds links to check', () => {
    expect(all.some((l) => l.page === 'README.md' && l.target.startsWith('docs/'))).toBe(true);
  });

  it.each(all.map((l) => [`${l.page} → ${l.target}`, l] as const))('%s resolves', (_, link) => {
    const [path, anchor] = link.target.split('#', 2) as [string, string | undefined];
    const file = path === '' ? join(root, link.page) : join(root, dirname(link.page), decodeURIComponent(path));
    expect(existsSync(file), `${relative(root, file)} does not exist`).toBe(true);
    if (anchor === undefined || anchor === '' || !file.endsWith('.md') || statSync(file).isDirectory()) return;
    const known = anchors(readFileSync(file, 'utf8'));
    expect([...known], `#${anchor} is not a heading of ${relative(root, file)}`).toContain(anchor);
  });
});
