import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childExecArgv } from './node-args.js';

/** A server of `inbound-host.ts` running in its own process. */
export interface InboundServer {
  readonly variant: string;
  readonly url: string;
  /** The server process's CPU time (µs, user + system) and requests so far. */
  cpu(): Promise<{ micros: number; requests: number }>;
  /** p99 (ms) of the 200s the server answered since the last call, as the server timed them (request event to response finish). */
  serverP99(): Promise<{ p99Ms: number; count: number }>;
  close(): Promise<void>;
}

/** Starts one inbound-host server (see `inbound-host.ts` for variants and options). */
export function startInboundServer(variant: string, options: object = {}): Promise<InboundServer> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./inbound-host.ts', import.meta.url)), [variant, JSON.stringify(options)], {
    execArgv: childExecArgv([]),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`inbound host ${variant} exited with ${code}`)));
    child.once('message', (message: { type: string; port: number }) => {
      resolve({
        variant,
        url: `http://127.0.0.1:${message.port}`,
        cpu: () =>
          new Promise((answer) => {
            const onMessage = (reply: { type: string; micros: number; requests: number }): void => {
              if (reply.type !== 'cpu') return;
              child.off('message', onMessage);
              answer({ micros: reply.micros, requests: reply.requests });
            };
            child.on('message', onMessage);
            child.send({ type: 'cpu' });
          }),
        serverP99: () =>
          new Promise((answer) => {
            const onMessage = (reply: { type: string; p99Ms: number; count: number }): void => {
              if (reply.type !== 'latency') return;
              child.off('message', onMessage);
              answer({ p99Ms: reply.p99Ms, count: reply.count });
            };
            child.on('message', onMessage);
            child.send({ type: 'latency' });
          }),
        close: () =>
          new Promise<void>((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.disconnect();
          }),
      });
    });
  });
}
