import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
// Types only: importing backend-host.ts for a value would start its servers here.
import type { HostCommand, HostReply } from './backend-host.js';
import { childExecArgv } from './node-args.js';

/** How one backend answers. */
export interface BackendBehaviour {
  /** Answer after this many ms (0 = at once). */
  readonly delayMs: number;
  /** Response status. */
  readonly status: number;
  /** Share (0..1) of requests answered `slowExtraMs` later, chosen at random per request. */
  readonly slowShare: number;
  /** Extra delay of a slow answer, in ms. */
  readonly slowExtraMs: number;
}

/** The behaviour of a backend where a field is not given: no delay, 200, never slow. */
const DEFAULT_BEHAVIOUR: BackendBehaviour = { delayMs: 0, status: 200, slowShare: 0, slowExtraMs: 0 };

/** Request counts since the backends started, per backend. */
export interface BackendCounts {
  /** Requests that arrived (counted on arrival, before answering). */
  readonly requests: number[];
  /** Of those, the ones picked to answer slowly. */
  readonly slow: number[];
}

/** HTTP backends running in a child process (see `backend-host.ts`), programmable per backend. */
export interface Backends {
  /** Ports on 127.0.0.1, one per backend, in the order given. */
  readonly ports: readonly number[];
  /** `127.0.0.1:<port>` for each backend. */
  readonly addresses: readonly string[];
  /** Changes each backend's answer delay, in ms (the rest of its behaviour is reset); resolves once applied. */
  setDelays(delaysMs: readonly number[]): Promise<void>;
  /** Sets every backend's behaviour (one entry per backend; missing fields take the defaults). */
  configure(behaviours: readonly Partial<BackendBehaviour>[]): Promise<void>;
  /** Requests counted so far. */
  counts(): Promise<BackendCounts>;
  /** Closes backend `index`'s server and destroys its sockets, as a crash would; resolves once done. */
  kill(index: number): Promise<void>;
  /** Stops the servers and the child process. */
  close(): Promise<void>;
}

const HOST_ENTRY = fileURLToPath(new URL('./backend-host.ts', import.meta.url));
const REPLY_TIMEOUT_MS = 15_000;

function nextReply<T extends HostReply['type']>(child: ChildProcess, type: T): Promise<Extract<HostReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`backend host: no "${type}" after ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
    const onMessage = (message: HostReply): void => {
      if (message.type === type) done(undefined, message as Extract<HostReply, { type: T }>);
    };
    const onExit = (code: number | null): void => done(new Error(`backend host exited (code ${code}) before "${type}"`));
    function done(error: Error | undefined, message?: Extract<HostReply, { type: T }>): void {
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

const behaviourOf = (entry: number | Partial<BackendBehaviour>): BackendBehaviour =>
  typeof entry === 'number' ? { ...DEFAULT_BEHAVIOUR, delayMs: entry } : { ...DEFAULT_BEHAVIOUR, ...entry };

/**
 * Starts one HTTP server per entry in a forked child process, each on its own 127.0.0.1
 * port, answering its index as the body. An entry is a delay in ms (0 = at once, status
 * 200) or a {@link BackendBehaviour} (status, random slow answers).
 */
export async function startBackends(entries: readonly (number | Partial<BackendBehaviour>)[]): Promise<Backends> {
  const child = fork(HOST_ENTRY, [JSON.stringify(entries.map(behaviourOf))], {
    execArgv: childExecArgv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let ports: number[];
  try {
    ports = (await nextReply(child, 'ready')).ports;
  } catch (error) {
    child.kill();
    throw error;
  }
  const send = (command: HostCommand): void => void child.send(command);
  const configure = async (entries: readonly (number | Partial<BackendBehaviour>)[]): Promise<void> => {
    const ack = nextReply(child, 'ack');
    send({ type: 'configure', behaviours: entries.map(behaviourOf) });
    await ack;
  };
  return {
    ports,
    addresses: ports.map((port) => `127.0.0.1:${port}`),
    setDelays: configure,
    configure,
    async counts() {
      const reply = nextReply(child, 'counts');
      send({ type: 'counts' });
      const { requests, slow } = await reply;
      return { requests, slow };
    },
    async kill(index) {
      const ack = nextReply(child, 'ack');
      send({ type: 'kill', index });
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
