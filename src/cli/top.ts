import { parseArgs } from 'node:util';
import { AdminClientError, adminTarget, readFrame } from './admin-client.js';
import type { CliOutput } from './check.js';
import { formatFrame } from './status.js';

/** The terminal `top` draws on: standard streams by default, replaceable in tests. */
export interface TopTerminal {
  readonly input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly output: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

/**
 * `proxyless top --admin URL [--token T] [--interval MS]`: a live view of a running mesh
 * through its admin endpoint, redrawn each interval; `q` (or Ctrl-C) quits. Refuses with
 * a clear message (exit 1) when the endpoint cannot be reached or needs a token, at the
 * start or later.
 */
export async function top(args: readonly string[], io: CliOutput, usage: string, terminal: TopTerminal = { input: process.stdin, output: process.stdout }): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { admin: { type: 'string' }, token: { type: 'string' }, interval: { type: 'string' } } });
  } catch (error) {
    io.err(`top: ${(error as Error).message}\n${usage}`);
    return 2;
  }
  const target = adminTarget(parsed.values.admin, parsed.values.token);
  if (typeof target === 'string') {
    io.err(`top: ${target}`);
    return 2;
  }
  const interval = parsed.values.interval === undefined ? 1000 : Number(parsed.values.interval);
  if (!Number.isInteger(interval) || interval < 100 || interval > 60_000) {
    io.err(`top: --interval ${JSON.stringify(parsed.values.interval)} (expected: milliseconds from 100 to 60000)`);
    return 2;
  }
  const { input, output } = terminal;
  const tty = output.isTTY === true;
  const stop = new AbortController();
  let exitCode = 0;
  const onKey = (chunk: Buffer | string): void => {
    const text = chunk.toString();
    // q, Q, Ctrl-C (in raw mode the terminal sends it as a byte).
    if (/[qQ\u0003]/.test(text)) stop.abort();
  };
  const rawMode = input.isTTY === true && typeof input.setRawMode === 'function';
  if (rawMode) input.setRawMode!(true);
  input.on('data', onKey);
  input.on('end', () => stop.abort());
  input.resume();
  try {
    while (!stop.signal.aborted) {
      let frame;
      try {
        frame = await readFrame(target, stop.signal);
      } catch (error) {
        if (stop.signal.aborted) break;
        if (error instanceof AdminClientError) {
          io.err(`top: ${error.message}`);
          exitCode = 1;
          break;
        }
        throw error;
      }
      const lines = formatFrame(frame, { endpoints: true, width: tty ? output.columns : undefined });
      const header = `proxyless top  ${target.url}  ${new Date(frame.at).toISOString().slice(11, 19)}  (q quits)`;
      // Home and clear on a terminal; plain frames one after another otherwise (pipes, tests).
      output.write(`${tty ? '\x1b[H\x1b[2J' : ''}${header}\n${lines.join('\n')}\n${tty ? '' : '\n'}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, interval);
        stop.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  } finally {
    input.off('data', onKey);
    if (rawMode) input.setRawMode!(false);
    input.pause();
  }
  return exitCode;
}
