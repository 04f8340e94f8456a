// Every ```ts block of README.md and docs/*.md is type-checked against the sources, and the
// blocks marked <!-- run --> are run as programs against real HTTP servers on 127.0.0.1.
// Every ```yaml block made of whole resources is checked by the config loader, as
// `proxyless check --strict` would. The convention is in docs/development.md.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer } from '../helpers/listen.js';
import { root, startExample } from '../examples/run-example.js';
// What `proxyless check` runs (the subpath entry for config tooling).
import { checkConfig, renderDiagnostic } from 'proxyless/config';
import { allBlocks, isWholeResource, type CodeBlock } from './blocks.js';
import { scratchProject, typeCheck, writeBlock, type ScratchProject } from './check-blocks.js';

const blocks = allBlocks(root);
const label = (b: CodeBlock): string => `${b.file}:${b.line}`;
const usable = (b: CodeBlock): boolean => b.directive.kind !== 'no-check' && b.directiveError === undefined;
const checked = blocks.filter((b) => b.lang === 'ts' && usable(b));
const runnable = checked.filter((b) => b.directive.kind === 'run');
const resources = blocks.filter((b) => isWholeResource(b) && usable(b));

let project: ScratchProject;
let errors: Map<CodeBlock, string[]>;

beforeAll(async () => {
  project = scratchProject(root);
  errors = typeCheck(project, checked);
}, 300_000);
afterAll(() => project?.remove());

describe('documentation code blocks', () => {
  it('finds the blocks of README.md and docs/', () => {
    // The extractor must see the README's blocks; a broken extractor would pass every test below.
    expect(blocks.some((b) => b.file === 'README.md')).toBe(true);
    expect(runnable.length).toBeGreaterThan(0);
    expect(resources.some((b) => b.file === 'README.md')).toBe(true);
  });

  it.each(resources.map((b) => [label(b), b] as const))('%s is valid mesh config (unknown fields are errors)', (_, block) => {
    const check = checkConfig(block.code, { unknownFields: 'error' });
    expect(check.errors.map((d) => renderDiagnostic(d)), block.code).toEqual([]);
  });

  it.each(blocks.map((b) => [label(b), b] as const))('%s has a readable directive', (_, block) => {
    expect(block.directiveError).toBeUndefined();
  });

  it.each(checked.map((b) => [label(b), b] as const))('%s type-checks', (_, block) => {
    expect(errors.get(block), block.code).toEqual([]);
  });

  it.each(runnable.map((b) => [label(b), b] as const))(
    '%s runs against real servers and exits 0',
    async (_, block) => {
      const servers = await startServersFor(block.code);
      try {
        const path = writeBlock(project, block, servers.code);
        const run = startExample(path);
        try {
          const exit = await run.exit(90_000);
          expect(exit, `${run.stdout()}\n${run.stderr()}`).toMatchObject({ code: 0, signal: null });
        } finally {
          run.kill();
        }
        // A block that names servers must have reached them: its requests went through the mesh.
        if (servers.started.length > 0) expect(servers.requests()).toBeGreaterThan(0);
      } finally {
        await Promise.all(servers.started.map((s) => closeServer(s)));
      }
    },
    120_000,
  );
});

/** Where a run block names a local server: `127.0.0.1:PORT`, or `address: '127.0.0.1', port: PORT`. */
const SERVER_REFERENCE = /(127\.0\.0\.1:|address: '127\.0\.0\.1', port: )(\d{2,5})\b/g;

/**
 * Starts one real HTTP server per distinct port the code names on 127.0.0.1 and rewrites
 * each reference to the server's own port (it listens on port 0). Each server answers
 * JSON naming itself (`{"server":"127.0.0.1:9080",...}`, with the port the block wrote).
 */
async function startServersFor(code: string): Promise<{ code: string; started: Server[]; requests: () => number }> {
  const ports = [...new Set([...code.matchAll(SERVER_REFERENCE)].map((m) => m[2]!))];
  const started: Server[] = [];
  const real = new Map<string, number>();
  let requests = 0;
  for (const port of ports) {
    const name = `127.0.0.1:${port}`;
    const server = createServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ server: name, method: req.method, path: req.url, host: req.headers.host }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    started.push(server);
    real.set(port, (server.address() as AddressInfo).port);
  }
  const rewritten = code.replace(SERVER_REFERENCE, (_, prefix: string, port: string) => `${prefix}${real.get(port)}`);
  return { code: rewritten, started, requests: () => requests };
}
