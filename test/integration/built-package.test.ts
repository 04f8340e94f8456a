// The built package (tsup's ES and CommonJS outputs, as published) reaches the optional
// @opentelemetry/api: a bundler rewrites a bare `require` in an ES build into a stub that
// throws, which left the ES build without the API (telemetry silently off) while the
// sources, run by vitest and tsx, worked. Builds the JavaScript only (no .d.ts) into
// node_modules/.cache, so the API resolves from the repository's node_modules.
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
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
    await build({ ...(options as object), entry: { index: 'src/index.ts' }, dts: false, sourcemap: false, outDir, clean: true, silent: true });
  }, 120_000);
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it.each(['esm', 'cjs'] as const)('%s: the telemetry module finds @opentelemetry/api', async (format) => {
    expect(await runBuilt(format)).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03' });
  });
});
