/**
 * `npm run bench`: runs every benchmark, each in its own Node process (so JIT state,
 * heap and sockets of one do not bleed into the next), prints their progress as they go,
 * then writes `bench/results/latest.json` and `bench/results/latest.md` and prints the
 * table. `npm run bench -- scale overhead` runs only the named ones.
 *
 * Every result is a comparison made within the same run (mesh against a baseline
 * measured next to it); see each benchmark's header comment for why its baseline is
 * fair. The exit code is non-zero only when a benchmark crashed; missed targets are
 * reported in the table.
 */
import { fork } from 'node:child_process';
import { availableParallelism, platform, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ChildMessage } from './lib/entry.js';
import { childExecArgv } from './lib/node-args.js';
import { markdownTable, writeReport, type BenchmarkOutput, type BenchReport, type BenchResult } from './lib/report.js';
import { TIME_FACTOR } from './lib/time-factor.js';

/** A benchmark file and how to run it. */
interface Entry {
  readonly name: string;
  readonly file: string;
  /** Extra Node flags for its process. */
  readonly flags: readonly string[];
  /** Killed after this long (ms, before BENCH_TIME_FACTOR). */
  readonly timeoutMs: number;
}

const BENCHMARKS: readonly Entry[] = [
  { name: 'overhead', file: 'overhead.ts', flags: [], timeoutMs: 150_000 },
  { name: 'tail-latency', file: 'tail-latency.ts', flags: [], timeoutMs: 180_000 },
  // --expose-gc: memory is read after full collections.
  { name: 'scale', file: 'scale.ts', flags: ['--expose-gc'], timeoutMs: 90_000 },
  { name: 'dns-refresh', file: 'dns-refresh.ts', flags: [], timeoutMs: 120_000 },
  { name: 'route-match', file: 'route-match.ts', flags: [], timeoutMs: 90_000 },
  { name: 'config-reload', file: 'config-reload.ts', flags: [], timeoutMs: 90_000 },
  { name: 'config-file-reload', file: 'config-file-reload.ts', flags: [], timeoutMs: 120_000 },
  { name: 'resilience-kill', file: 'resilience-kill.ts', flags: [], timeoutMs: 90_000 },
  { name: 'resilience-retry-storm', file: 'resilience-retry-storm.ts', flags: [], timeoutMs: 90_000 },
  { name: 'resilience-hedging', file: 'resilience-hedging.ts', flags: [], timeoutMs: 90_000 },
  { name: 'inbound-overhead', file: 'inbound-overhead.ts', flags: [], timeoutMs: 180_000 },
  { name: 'inbound-overload', file: 'inbound-overload.ts', flags: [], timeoutMs: 120_000 },
  { name: 'tls-handshake', file: 'tls-handshake.ts', flags: [], timeoutMs: 120_000 },
  { name: 'authz', file: 'authz.ts', flags: [], timeoutMs: 90_000 },
  { name: 'mtls', file: 'mtls.ts', flags: [], timeoutMs: 240_000 },
  // --expose-gc: the memory row reads the heap after full collections.
  { name: 'telemetry', file: 'telemetry.ts', flags: ['--expose-gc'], timeoutMs: 300_000 },
  { name: 'admin-overhead', file: 'admin-overhead.ts', flags: [], timeoutMs: 120_000 },
];

/** Runs one benchmark in a child process; resolves with its output or rejects with why it failed. */
function runChild(entry: Entry): Promise<BenchmarkOutput> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL(entry.file, import.meta.url)), [], {
      execArgv: childExecArgv(entry.flags),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let output: BenchmarkOutput | undefined;
    const limit = Math.round(entry.timeoutMs * Math.max(1, TIME_FACTOR));
    const timer = setTimeout(() => {
      console.error(`[run] ${entry.name}: no result after ${limit} ms, stopping it`);
      child.kill();
    }, limit);
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'output') output = message.output;
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (output && code === 0) resolve(output);
      else reject(new Error(`exited with ${signal ?? `code ${code}`}${output ? '' : ' without results'}`));
    });
  });
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => b.name === w));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')} (expected: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
    process.exit(2);
  }
  const selected = wanted.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => wanted.includes(b.name));
  const startedAt = new Date();
  const started = performance.now();
  const results: BenchResult[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  console.log(`[run] ${selected.map((b) => b.name).join(', ')}; Node ${process.version}, ${availableParallelism()} CPUs` +
    (TIME_FACTOR !== 1 ? `, BENCH_TIME_FACTOR=${TIME_FACTOR}` : ''));
  for (const entry of selected) {
    const t0 = performance.now();
    console.log(`[run] ${entry.name} …`);
    try {
      const output = await runChild(entry);
      results.push(...output.results);
      notes.push(...output.notes);
      console.log(`[run] ${entry.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (error) {
      const message = `${entry.name}: ${error instanceof Error ? error.message : String(error)}`;
      failures.push(message);
      console.error(`[run] ${message}`);
    }
  }
  if (TIME_FACTOR !== 1) notes.push(`BENCH_TIME_FACTOR=${TIME_FACTOR}: durations and counts scaled.`);
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpus: availableParallelism(),
    results,
    notes,
    failures,
  };
  const directory = new URL('./results/', import.meta.url);
  await writeReport(directory, report);
  console.log(`\n${markdownTable(results)}\n`);
  const missed = results.filter((r) => r.pass === false).length;
  console.log(`[run] ${results.filter((r) => r.pass === true).length} targets met, ${missed} missed` +
    `${failures.length > 0 ? `, ${failures.length} benchmark(s) crashed` : ''}; ` +
    `written to ${fileURLToPath(new URL('latest.md', directory))} and latest.json ` +
    `(${(report.durationMs / 1000).toFixed(0)} s)`);
  if (failures.length > 0) process.exitCode = 1;
}

void main();
