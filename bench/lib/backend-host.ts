/**
 * Child-process entry that hosts the benchmarks' HTTP backends on 127.0.0.1, so that
 * server CPU runs in another process (the other core) and does not distort the client
 * being measured. Not a benchmark itself; started by {@link startBackends}.
 *
 * Protocol over the fork IPC channel:
 * - argv[2] is a JSON array of delays in ms, one per server to start;
 * - the child answers `{ type: 'ready', ports }`;
 * - `{ type: 'set-delays', delays }` changes the delays, answered by `{ type: 'ack' }`;
 * - `{ type: 'close' }` closes the servers and exits; so does losing the parent.
 *
 * Each server answers `200` with its index as the body (keep-alive), after its delay.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Messages the parent sends. */
export type HostCommand = { type: 'set-delays'; delays: number[] } | { type: 'close' };
/** Messages the child sends. */
export type HostReply = { type: 'ready'; ports: number[] } | { type: 'ack' };

function reply(message: HostReply): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const delays: number[] = JSON.parse(process.argv[2] ?? '[0]');
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  for (let index = 0; index < delays.length; index++) {
    const body = String(index);
    const server = createServer((req, res) => {
      const answer = (): void => {
        res.end(body);
      };
      // Drain the (empty) request body; answer after this server's current delay.
      req.resume();
      const delay = delays[index]!;
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
    // Longer than any benchmark phase: connections are not closed by the server mid-run.
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }

  const close = (): void => {
    for (const server of servers) server.close();
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  };
  process.on('message', (message: HostCommand) => {
    if (message.type === 'set-delays') {
      message.delays.forEach((delay, i) => (delays[i] = delay));
      reply({ type: 'ack' });
    } else if (message.type === 'close') {
      close();
    }
  });
  process.on('disconnect', close);
  reply({ type: 'ready', ports: servers.map((s) => (s.address() as AddressInfo).port) });
}

void main();
