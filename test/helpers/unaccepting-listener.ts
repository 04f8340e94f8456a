// A TCP port whose connection attempts never complete, as with a host that drops SYNs or a
// server whose accept queue is full: a listener in a child process that is then stopped
// (SIGSTOP), its accept queue filled. The kernel drops further SYNs, so a connect() to it
// stays pending until the client gives up. Real sockets; no firewall rule needed.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/** A port that never completes a TCP handshake (see the file comment). */
export interface UnacceptingListener {
  /** `127.0.0.1:<port>` */
  readonly address: string;
  readonly port: number;
  /** Ends the child and the sockets that filled its queue. */
  close(): Promise<void>;
}

/** Sockets of this process that libuv counts as TCP handles (connecting or connected). */
export function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

/**
 * Starts the listener. With a backlog of 1, Linux queues two connections that nobody
 * accepts; both are made here, so every later attempt hangs.
 */
export async function startUnacceptingListener(): Promise<UnacceptingListener> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', "const s = require('node:net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));"],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (data: Buffer) => resolve(Number(String(data).trim())));
  });
  child.kill('SIGSTOP'); // nothing accepts from now on
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    address: `127.0.0.1:${port}`,
    port,
    close: async () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
      await exited;
    },
  };
}
