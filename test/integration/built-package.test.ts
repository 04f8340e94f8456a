// The built package (tsup's ES and CommonJS outputs and declarations, as published) and
// the optional @opentelemetry/api:
// - it reaches the API at run time: a bundler rewrites a bare `require` in an ES build
//   into a stub that throws, which left the ES build without the API (telemetry silently
//   off) while the sources, run by vitest and tsx, worked;
// - its declarations do not name the API: a project without the optional peer must
//   type-check against them with skipLibCheck false (api-types.ts writes the shapes out).
// Builds the index entry into node_modules/.cache, so the API resolves from the
// repository's node_modules.
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'tsup';
import config from '../../tsup.config.js';
import { root } from '../examples/run-example.js';

const run = promisify(execFile);
const outDir = `${root}node_modules/.cache/proxyless-built-package-test`;

const script = (format: 'esm' | 'cjs'): string => {
  const load =
    format === 'esm'
      ? `const api = await import('@opentelemetry/api'); const pkg = await import('${outDir}/index.js');`
      : `const api = require('@opentelemetry/api'); const pkg = require('${outDir}/index.cjs');`;
  const body = `
    const p = new pkg.TraceContextPropagator();
    const ctx = p.extract(api.ROOT_CONTEXT, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03' }, api.defaultTextMapGetter);
    const out = {};
    p.inject(ctx, out, api.defaultTextMapSetter);
    console.log(JSON.stringify(out));`;
  return format === 'esm' ? `${load}${body}` : `(async () => { ${load}${body} })();`;
};

async function runBuilt(format: 'esm' | 'cjs'): Promise<unknown> {
  const file = `${outDir}/check.${format === 'esm' ? 'mjs' : 'cjs'}`;
  await writeFile(file, script(format));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
  const { stdout } = await run(`${root}node_modules/.bin/node`, [file], { cwd: root, env, timeout: 60_000 });
  return JSON.parse(stdout.trim());
}

describe('the built package', () => {
  beforeAll(async () => {
    const options = Array.isArray(config) ? config[0] : config;
    await build({ ...(options as object), entry: { index: 'src/index.ts' }, dts: true, sourcemap: false, outDir, clean: true, silent: true });
  }, 240_000);
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it.each(['index.d.ts', 'index.d.cts'])('%s does not name @opentelemetry/api', async (file) => {
    const declarations = await readFile(`${outDir}/${file}`, 'utf8');
    expect(declarations).toContain('TraceContextPropagator');
    // Comments may mention it; no import or import type may.
    expect(declarations).not.toMatch(/^\s*(import|export)\b[^\n]*['"]@opentelemetry\/api['"]|import\(['"]@opentelemetry\/api['"]\)/m);
  });

  it.each(['esm', 'cjs'] as const)('%s: the telemetry module finds @opentelemetry/api', async (format) => {
    expect(await runBuilt(format)).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03' });
  });
});
