import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import * as packet from 'dns-packet';

/**
 * Plumbing shared by the dnsmasq and BIND runners: finding a binary (or saying which
 * Debian package provides it), a free port, starting a daemon and waiting until it
 * answers DNS, stopping it.
 */

/** The path of `binary` on PATH or in the sbin directories; throws naming the Debian package otherwise. */
export function findBinary(binary: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${binary} was not found (looked on PATH and in /usr/sbin, /sbin): the DNS integration tests need it. ` +
      `Install the Debian package ${debianPackage}: apt-get install -y ${debianPackage}`,
  );
}

/** A port on 127.0.0.1 that is free for both UDP and TCP right now. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
    const port = udp.address().port;
    const tcp = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (ok) {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      return port;
    }
  }
  throw new Error('no free port on 127.0.0.1 for both UDP and TCP');
}

/** Sends one UDP query; resolves with the reply, or undefined after `timeoutMs`. */
export function probe(port: number, name: string, type: packet.RecordType, timeoutMs = 200): Promise<packet.DecodedPacket | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (reply: packet.DecodedPacket | undefined): void => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('message', (message) => {
      try {
        done(packet.decode(message));
      } catch {
        // keep waiting
      }
    });
    socket.on('error', () => done(undefined));
    socket.send(packet.encode({ type: 'query', id: 4242, flags: packet.RECURSION_DESIRED, questions: [{ type, name }] }), port, '127.0.0.1');
  });
}

/** A running daemon: its process and what it printed. */
export interface Daemon {
  readonly child: ChildProcess;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after 3 s; resolves when it exited. */
  stop(): Promise<void>;
}

/**
 * Starts `binary args` and waits until it answers `probeName probeType` on `port`
 * (up to `startTimeoutMs`); throws with its output if it exits or stays silent.
 */
export async function startDaemon(
  binary: string,
  args: readonly string[],
  port: number,
  probeName: string,
  probeType: packet.RecordType,
  startTimeoutMs = 10_000,
): Promise<Daemon> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (error) => {
      output += String(error);
      exited = true;
      resolve();
    });
  });
  const daemon: Daemon = {
    child,
    output: () => output,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exit;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${binary} exited at start:\n${output}`);
    if (await probe(port, probeName, probeType)) return daemon;
    await new Promise((r) => setTimeout(r, 50));
  }
  await daemon.stop();
  throw new Error(`${binary} did not answer DNS on 127.0.0.1:${port} within ${startTimeoutMs} ms:\n${output}`);
}
