/**
 * Child-process entry that hosts the benchmarks' HTTP backends on 127.0.0.1, so that
 * server CPU runs in another process (the other core) and does not distort the client
 * being measured. Not a benchmark itself; started by `startBackends` (`backends.ts`).
 * Nothing may import this file for a value: importing it starts the servers.
 *
 * Protocol over the fork IPC channel:
 * - argv[2] is a JSON array of complete {@link BackendBehaviour}s, one per server to start;
 * - the child answers `{ type: 'ready', ports }`;
 * - `{ type: 'configure', behaviours }` changes them, answered by `{ type: 'ack' }`;
 * - `{ type: 'counts' }` is answered by the request counts since start;
 * - `{ type: 'kill', index }` closes one server and destroys its sockets, as a crash
 *   would (new connections refused, requests in flight reset), answered by `ack`;
 * - `{ type: 'close' }` closes the servers and exits; so does losing the parent.
 *
 * Each server answers with its index as the body (keep-alive), with its status, after
 * its delay, plus `slowExtraMs` for a random `slowShare` of requests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
// Types only: this file is a child process's entry and must import nothing that runs.
import type { BackendBehaviour } from './backends.js';

/** Messages the parent sends. */
export type HostCommand =
  | { type: 'configure'; behaviours: BackendBehaviour[] }
  | { type: 'counts' }
  | { type: 'kill'; index: number }
  | { type: 'close' };
/** Messages the child sends. */
export type HostReply = { type: 'ready'; ports: number[] } | { type: 'ack' } | { type: 'counts'; requests: number[]; slow: number[] };

async function main(): Promise<void> {
  // Complete behaviours: the parent (`startBackends`) fills in the defaults.
  const behaviours: BackendBehaviour[] = JSON.parse(process.argv[2]!);
  const requests = new Array<number>(behaviours.length).fill(0);
  const slow = new Array<number>(behaviours.length).fill(0);
  const servers: Server[] = [];
  const sockets: Array<Set<Socket>> = [];
  const send = (message: HostReply): void => void process.send?.(message);
  for (let index = 0; index < behaviours.length; index++) {
    const body = String(index);
    const own = new Set<Socket>();
    const server = createServer((req, res) => {
      requests[index]!++;
      // Drain the (empty) request body; answer after this server's current delay.
      req.resume();
      const b = behaviours[index]!;
      let delay = b.delayMs;
      if (b.slowShare > 0 && Math.random() < b.slowShare) {
        slow[index]!++;
        delay += b.slowExtraMs;
      }
      const answer = (): void => {
        res.statusCode = b.status;
        res.end(body);
      };
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
    // Longer than any benchmark phase: connections are not closed by the server mid-run.
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      own.add(socket);
      socket.on('close', () => own.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    sockets.push(own);
  }
  const closeAll = (): void => {
    for (const server of servers) server.close();
    for (const own of sockets) for (const socket of own) socket.destroy();
    process.exit(0);
  };
  process.on('message', (message: HostCommand) => {
    if (message.type === 'configure') {
      message.behaviours.forEach((b, i) => (behaviours[i] = b));
      send({ type: 'ack' });
    } else if (message.type === 'counts') {
      send({ type: 'counts', requests, slow });
    } else if (message.type === 'kill') {
      servers[message.index]!.close();
      for (const socket of sockets[message.index]!) socket.destroy();
      send({ type: 'ack' });
    } else if (message.type === 'close') {
      closeAll();
    }
  });
  process.on('disconnect', closeAll);
  send({ type: 'ready', ports: servers.map((s) => (s.address() as AddressInfo).port) });
}

void main();
