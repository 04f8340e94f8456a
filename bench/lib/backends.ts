import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HostCommand, HostReply } from './backend-host.js';
import { childExecArgv } from './node-args.js';

/** HTTP backends running in a child process (see `backend-host.ts`). */
export interface Backends {
  /** Ports on 127.0.0.1, one per backend, in the order of the delays given. */
  readonly ports: readonly number[];
  /** `127.0.0.1:<port>` for each backend. */
  readonly addresses: readonly string[];
  /** Changes each backend's answer delay, in ms; resolves once the child applied it. */
  setDelays(delaysMs: readonly number[]): Promise<void>;
  /** Stops the servers and the child process. */
  close(): Promise<void>;
}

const HOST_ENTRY = fileURLToPath(new URL('./backend-host.ts', import.meta.url));
const START_TIMEOUT_MS = 15_000;

function nextReply(child: ChildProcess, type: HostReply['type']): Promise<HostReply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`backend host: no "${type}" after ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const onMessage = (message: HostReply): void => {
      if (message.type === type) done(undefined, message);
    };
    const onExit = (code: number | null): void => done(new Error(`backend host exited (code ${code}) before "${type}"`));
    function done(error: Error | undefined, message?: HostReply): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message!);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/**
 * Starts one HTTP server per entry of `delaysMs` in a forked child process, each on its
 * own 127.0.0.1 port, answering a tiny body after its delay (0 = at once).
 */
export async function startBackends(delaysMs: readonly number[]): Promise<Backends> {
  const child = fork(HOST_ENTRY, [JSON.stringify(delaysMs)], {
    execArgv: childExecArgv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let ready: HostReply;
  try {
    ready = await nextReply(child, 'ready');
  } catch (error) {
    child.kill();
    throw error;
  }
  const ports = (ready as Extract<HostReply, { type: 'ready' }>).ports;
  const send = (command: HostCommand): void => void child.send(command);
  return {
    ports,
    addresses: ports.map((port) => `127.0.0.1:${port}`),
    async setDelays(delays) {
      const ack = nextReply(child, 'ack');
      send({ type: 'set-delays', delays: [...delays] });
      await ack;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      send({ type: 'close' });
      const timer = setTimeout(() => child.kill(), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
