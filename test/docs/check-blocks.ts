// Type-checks documentation blocks the way a user's project would compile them: each block
// is a module in a scratch project whose node_modules is this repository's, so `proxyless`
// resolves (through the `proxyless-source` condition) to src/ and `@proxyless/*` to the
// workspace packages. One compiler program for every block.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import type { CodeBlock } from './blocks.js';

/** TypeScript's "cannot find name" diagnostics: what a `fragment` block may leave undefined. */
const UNDEFINED_NAME_CODES = new Set([2304, 2552, 2582, 18004]);

/** A scratch project on disk: blocks are written into it and checked or run from it. */
export interface ScratchProject {
  readonly dir: string;
  /** The path of a block's module (written by {@link writeBlock}). */
  fileOf(block: CodeBlock): string;
  remove(): void;
}

/** Makes a scratch project under the system's temp directory that resolves packages from `root`. */
export function scratchProject(root: string): ScratchProject {
  const dir = mkdtempSync(join(tmpdir(), 'proxyless-docs-'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  mkdirSync(join(dir, 'blocks'));
  return {
    dir,
    fileOf: (block) => join(dir, 'blocks', `${block.file.replace(/[^\w]+/g, '_')}_${block.line}.ts`),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Lines put before a block's code (declarations of its `given` names). */
function prelude(block: CodeBlock): string[] {
  return block.directive.kind === 'given' ? block.directive.names.map((g) => `declare const ${g.name}: ${g.type};`) : [];
}

/** Writes the block's module; `export {}` makes every block a module of its own. */
export function writeBlock(project: ScratchProject, block: CodeBlock, code = block.code): string {
  const path = project.fileOf(block);
  writeFileSync(path, [...prelude(block), code, 'export {};', ''].join('\n'));
  return path;
}

/**
 * Type-checks `blocks` with the TypeScript compiler (strict, NodeNext, the repository's
 * Node types) and returns each block's errors, with lines of the page
 * (`README.md:52:7: TS2345 ...`). Errors are asked for file by file, so a syntax error in
 * one block does not hide the type errors of the others.
 */
export function typeCheck(project: ScratchProject, blocks: readonly CodeBlock[]): Map<CodeBlock, string[]> {
  const byPath = new Map<string, CodeBlock>();
  for (const block of blocks) byPath.set(writeBlock(project, block), block);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['proxyless-source'],
    lib: ['lib.es2023.d.ts'],
    types: ['node'],
    typeRoots: [join(project.dir, 'node_modules/@types')],
    strict: true,
    noImplicitOverride: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    noEmit: true,
  };
  const program = ts.createProgram({ rootNames: [...byPath.keys()], options });
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()].map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '));
  const errors = new Map<CodeBlock, string[]>();
  for (const [path, block] of byPath) {
    const source = program.getSourceFile(path);
    if (!source) {
      errors.set(block, [`${block.file}:${block.line}: the compiler did not read the block`]);
      continue;
    }
    const syntactic = program.getSyntacticDiagnostics(source);
    const diagnostics = syntactic.length > 0 ? syntactic : program.getSemanticDiagnostics(source);
    const list = [...global];
    for (const d of diagnostics) {
      if (block.directive.kind === 'fragment' && UNDEFINED_NAME_CODES.has(d.code)) continue;
      const { line, character } = source.getLineAndCharacterOfPosition(d.start ?? 0);
      const pageLine = block.line + 1 + line - prelude(block).length;
      list.push(`${block.file}:${pageLine}:${character + 1}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
    }
    errors.set(block, list);
  }
  return errors;
}
