// @opentelemetry/api is an optional peer dependency: the package must load, and a
// request through the mesh must work, in a program that does not have it. The API is
// installed here, so a child process hides it with a resolve hook; the same script with
// the API visible is the control that shows the hook is what makes the difference.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { root } from '../examples/run-example.js';

const run = promisify(execFile);

async function runScript(hide: boolean): Promise<Record<string, unknown>> {
  const args = ['--import', 'tsx', ...(hide ? ['--import', './test/integration/fixtures/hide-otel-api.ts'] : []), '--conditions=proxyless-source', './test/integration/fixtures/without-otel-api.ts'];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
  const { stdout } = await run(`${root}node_modules/.bin/node`, args, { cwd: root, env, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe('without @opentelemetry/api', () => {
  it('the package loads, the telemetry module works and a request goes through', async () => {
    expect(await runScript(true)).toEqual({
      apiImportable: false,
      api: 'missing',
      status: 200,
      body: 'ok',
      extractKeptContext: true,
      traceState: 'a=1',
    });
  });

  it('control: with the API visible, the same script finds it', async () => {
    expect(await runScript(false)).toMatchObject({ apiImportable: true, api: 'present', status: 200 });
  });
});
