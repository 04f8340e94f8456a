// Plumbing for the local servers the discovery phase starts (dnsmasq, etcd): finding
// the binary, free ports on 127.0.0.1, starting a daemon and waiting until it answers
// (on other ports if one was taken meanwhile), stopping it, and temp directories. Whatever happens, nothing is left behind: every
// daemon and temp directory is also removed when this process exits, even after an
// error (the 'exit' handler below), and a daemon runs in its own process group so that
// Ctrl-C in the terminal reaches the demo only, which then stops it in order.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, chmodSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Daemons still running and temp directories still there, for the 'exit' handler. */
const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHandlerInstalled = false;

/** Kills what is left, synchronously: an 'exit' handler cannot wait. */
function cleanUpOnExit(): void {
  for (const child of running) killGroup(child, 'SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', cleanUpOnExit);
}

/** Sends `signal` to the daemon's process group (dnsmasq forks a child per TCP query). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** The first of `paths` (absolute, or a name looked up on PATH and in the sbin directories) that is executable. */
export function findExecutable(paths: readonly string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'].filter(Boolean);
  for (const path of paths) {
    const candidates = path.includes('/') ? [path] : dirs.map((dir) => join(dir, path));
    for (const candidate of candidates) {
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** A new temp directory (mode 755: dnsmasq drops to user nobody), removed by {@link removeTempDir} or at exit. */
export function makeTempDir(prefix: string): string {
  installExitHandler();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  tempDirs.add(dir);
  return dir;
}

/** Removes a directory made by {@link makeTempDir}, with all it holds. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/**
 * `count` distinct ports of 127.0.0.1, free right now for TCP and UDP, between 20000 and
 * 32000: high, and below Linux's ephemeral range (32768 and up), so an outgoing
 * connection cannot take one between this check and the daemon's bind.
 */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 500) throw new Error('no free ports on 127.0.0.1 between 20000 and 32000');
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!ports.includes(port) && (await canBindTcp(port)) && (await canBindUdp(port))) ports.push(port);
  }
  return ports;
}

function canBindTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function canBindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

/** A daemon started by {@link startDaemon}. */
export interface LocalDaemon {
  readonly pid: number;
  /** The last few KB it wrote to stdout and stderr, for error messages. */
  output(): string;
  /** SIGTERM to its process group, SIGKILL after 2 s; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

/** What {@link startDaemon} needs. */
export interface DaemonSpec {
  /** A short name for messages, e.g. `dnsmasq`. */
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  /** Resolves true once the daemon serves; called every 50 ms until it does. */
  readonly ready: () => Promise<boolean>;
  /** How long to wait for `ready`, in ms. */
  readonly timeoutMs: number;
  /** Aborted on Ctrl-C: the daemon is stopped and the start rejects with an AbortError. */
  readonly signal: AbortSignal;
}

/** A daemon that exited at start or never became ready; `portInUse` when it could not bind. */
export class DaemonStartError extends Error {
  constructor(
    message: string,
    readonly portInUse: boolean,
  ) {
    super(message);
    this.name = 'DaemonStartError';
  }
}

/** Starts the daemon in its own process group and resolves once `ready` says so. */
export async function startDaemon(spec: DaemonSpec): Promise<LocalDaemon> {
  installExitHandler();
  spec.signal.throwIfAborted();
  const child = spawn(spec.binary, spec.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('close', () => {
      exited = true;
      running.delete(child);
      resolve();
    });
    child.once('error', (error) => {
      output += String(error);
      exited = true;
      running.delete(child);
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  const daemon: LocalDaemon = {
    pid: child.pid ?? -1,
    output: () => output,
    stop: () =>
      (stopping ??= (async () => {
        if (exited) return;
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 2000);
        await exit;
        clearTimeout(timer);
      })()),
  };

  const deadline = performance.now() + spec.timeoutMs;
  try {
    for (;;) {
      spec.signal.throwIfAborted();
      if (exited) {
        throw new DaemonStartError(`${spec.name} exited at start: ${output.trim()}`, /address already in use/i.test(output));
      }
      if (await spec.ready()) return daemon;
      if (performance.now() > deadline) throw new DaemonStartError(`${spec.name} did not answer within ${spec.timeoutMs} ms: ${output.trim()}`, false);
      await sleep(50, undefined, { signal: spec.signal });
    }
  } catch (error) {
    await daemon.stop();
    throw error;
  }
}

/** How many times {@link startOnFreePorts} tries, each time on other ports. */
const START_ATTEMPTS = 3;

/**
 * Picks `count` free ports of 127.0.0.1 and calls `start` with them and the attempt's
 * number (from 1); `start` starts the daemon with {@link startDaemon} and returns what the
 * caller hands out. A port can be taken between the check and the daemon's bind: on a
 * {@link DaemonStartError} with `portInUse`, it picks other ports and calls `start` again,
 * 3 attempts in all. When it gives up (that error a third time, any other error, an
 * abort), it removes `dir`, the daemon's directory from {@link makeTempDir}, and rethrows.
 */
export async function startOnFreePorts<T>(
  count: number,
  dir: string,
  start: (ports: number[], attempt: number) => Promise<T>,
): Promise<T> {
  try {
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts(count);
      try {
        return await start(ports, attempt);
      } catch (error) {
        if (!(error instanceof DaemonStartError && error.portInUse && attempt < START_ATTEMPTS)) throw error;
      }
    }
  } catch (error) {
    removeTempDir(dir);
    throw error;
  }
}
