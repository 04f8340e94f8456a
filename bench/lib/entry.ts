import { pathToFileURL } from 'node:url';
import { createLog, type Log } from './log.js';
import { markdownTable, type BenchmarkOutput } from './report.js';

/** A benchmark: runs, printing progress, and returns its rows and notes. */
export type Benchmark = (log: Log) => Promise<BenchmarkOutput>;

/** What a benchmark child sends to `bench/run.ts` over IPC. */
export type ChildMessage = { type: 'output'; output: BenchmarkOutput };

/**
 * Makes a benchmark file runnable on its own: when `moduleUrl` is the entry point, runs
 * `benchmark`, prints its table and notes, and, when forked by `bench/run.ts`, sends the
 * output to the parent. Exits non-zero if the benchmark throws.
 */
export function runIfMain(moduleUrl: string, name: string, benchmark: Benchmark): void {
  const entry = process.argv[1];
  if (entry === undefined || pathToFileURL(entry).href !== moduleUrl) return;
  const log = createLog(name);
  benchmark(log).then(
    (output) => {
      console.log(`\n${markdownTable(output.results)}\n`);
      for (const note of output.notes) console.log(`- ${note}`);
      const message: ChildMessage = { type: 'output', output };
      if (process.send) process.send(message, () => process.exit(0));
      else process.exit(0);
    },
    (error: unknown) => {
      console.error(`[${name}] failed:`, error);
      process.exit(1);
    },
  );
}
