/**
 * Profiling aid, not a benchmark: runs one inbound-host variant in a child with
 * `--cpu-prof` under c=32 load for a few seconds, and prints where the profile went.
 * `npx tsx --conditions=proxyless-source bench/lib/profile-inbound.ts fastify-mesh [ms] [dir]`
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { runLoad } from './load.js';
import { childExecArgv } from './node-args.js';

const variant = process.argv[2] ?? 'fastify-mesh';
const ms = Number(process.argv[3] ?? 6000);
const dir = process.argv[4] ?? '/tmp';
const child = fork(fileURLToPath(new URL('./inbound-host.ts', import.meta.url)), [variant, '{}'], {
  execArgv: childExecArgv(['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${variant}-${Date.now()}.cpuprofile`]),
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
const agent = new Agent({ connections: 32, keepAliveTimeout: 60_000 });
const url = `http://127.0.0.1:${port}/hello/world`;
const result = await runLoad({
  concurrency: 32,
  durationMs: ms,
  send: async () => {
    const res = await request(url, { dispatcher: agent });
    await res.body.text();
  },
});
console.log(`${variant}: ${Math.round(result.throughput)} req/s`);
await agent.close();
await new Promise<void>((resolve) => {
  child.once('exit', () => resolve());
  child.disconnect();
});
console.log(`profile in ${dir}`);
