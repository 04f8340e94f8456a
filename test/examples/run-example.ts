// Runs an example as a user does: a child process with the project's Node and tsx,
// importing 'proxyless' from the sources. One process (`node --import tsx`), not the tsx
// command: on a signal, the tsx command waits 30 ms for its child to acknowledge it, sends
// a copy, waits 30 ms more, then SIGKILLs the child and exits 130; on a busy machine the
// acknowledgements come later than that, and a Ctrl-C test would fail for tsx's sake.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root, with a trailing slash. */
export const root = fileURLToPath(new URL('../..', import.meta.url));

/** How an example process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Milliseconds from start to exit. */
  readonly ms: number;
}

/** A running example. */
export interface RunningExample {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves once stdout matches `pattern`; rejects after `timeoutMs` with the output so far. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void>;
  /** Resolves when the process exits; rejects (and kills it) after `timeoutMs`. */
  exit(timeoutMs: number): Promise<Exit>;
  /** Sends `signal` to the example's whole process group, as a terminal's Ctrl-C does. */
  signalGroup(signal: NodeJS.Signals): void;
  /** Kills the process group if it is still running (for cleanup after a failure). */
  kill(): void;
}

/**
 * Starts `node --import tsx --conditions=proxyless-source <script> [args]` (the project's Node)
 * in its own process group (so a test can send it Ctrl-C's SIGINT like a terminal would).
 */
export function startExample(script: string, env: Record<string, string> = {}, args: readonly string[] = []): RunningExample {
  const started = performance.now();
  // The child must not inherit this vitest worker's own variables, nor DEMO_* settings
  // from the developer's shell: each test states the ones it means.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && !k.startsWith('DEMO_') && k !== 'NODE_OPTIONS'),
  );
  const child = spawn(`${root}node_modules/.bin/node`, ['--import', 'tsx', '--conditions=proxyless-source', script, ...args], {
    cwd: root,
    env: { ...inherited, PATH: `${root}node_modules/.bin:${process.env.PATH ?? ''}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    for (const listener of listeners) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, ms: performance.now() - started }));
  });
  let done = false;
  void exited.then(() => (done = true));

  const kill = (): void => {
    if (!done && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const report = (): string => `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForOutput(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!pattern.test(stdout)) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms${report()}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => {
          if (listeners.has(check)) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(new Error(`exited before printing ${pattern}${report()}`));
          }
        });
        check();
      });
    },
    exit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          kill();
          reject(new Error(`still running after ${timeoutMs} ms (killed)${report()}`));
        }, timeoutMs);
      });
      return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    },
    signalGroup(signal) {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    },
    kill,
  };
}
