import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's etcd-server package puts the binary; `ETCD_BIN` overrides it. */
const ETCD = process.env.ETCD_BIN ?? '/usr/bin/etcd';

/** One etcd member started by the tests. */
export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  process: ChildProcess | undefined;
}

/** A real etcd cluster on 127.0.0.1, members started as child processes. */
export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Client URLs of every member, for `endpoints`. */
  readonly endpoints: readonly string[];
  /** Kills one member at once (SIGKILL), as a crash would. */
  kill(index: number): Promise<void>;
  /** Starts a stopped member again with its data directory; resolves once it is healthy. */
  start(index: number): Promise<void>;
  /** Kills every member. */
  killAll(): Promise<void>;
  /** Starts every stopped member; resolves once the cluster is healthy. */
  startAll(): Promise<void>;
  /** Kills every member and removes the data directories. */
  close(): Promise<void>;
}

/**
 * Starts an etcd cluster of `size` members on free high ports of 127.0.0.1, each with
 * its own temporary data directory, and waits until every member reports healthy.
 */
export async function startCluster(size = 3): Promise<EtcdCluster> {
  if (!existsSync(ETCD)) {
    throw new Error(
      `etcd is not installed (${ETCD} is missing): these tests run a real etcd cluster. ` +
        `Install the Debian package etcd-server (apt-get install -y etcd-server), or set ETCD_BIN.`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'proxyless-etcd-'));
  const ports = await freePorts(size * 2);
  const members: EtcdMember[] = Array.from({ length: size }, (_, i) => ({
    name: `m${i + 1}`,
    clientUrl: `http://127.0.0.1:${ports[i * 2]}`,
    peerUrl: `http://127.0.0.1:${ports[i * 2 + 1]}`,
    dataDir: join(root, `m${i + 1}`),
    logFile: join(root, `m${i + 1}.log`),
    process: undefined,
  }));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const token = `proxyless-${process.pid}-${Date.now()}`;

  const launch = (member: EtcdMember): void => {
    const log = openSync(member.logFile, 'a');
    const child = spawn(
      ETCD,
      [
        '--name', member.name,
        '--data-dir', member.dataDir,
        '--listen-client-urls', member.clientUrl,
        '--advertise-client-urls', member.clientUrl,
        '--listen-peer-urls', member.peerUrl,
        '--initial-advertise-peer-urls', member.peerUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', token,
        '--logger', 'zap',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', log, log], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    closeSync(log);
    child.on('error', () => undefined);
    member.process = child;
  };

  const stop = async (member: EtcdMember): Promise<void> => {
    const child = member.process;
    member.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  };

  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async kill(index) {
      await stop(members[index]!);
    },
    async start(index) {
      const member = members[index]!;
      if (!member.process) launch(member);
      await waitHealthy([member]);
    },
    async killAll() {
      await Promise.all(members.map(stop));
    },
    async startAll() {
      for (const member of members) if (!member.process) launch(member);
      await waitHealthy(members);
    },
    async close() {
      await Promise.all(members.map(stop));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await cluster.startAll();
  } catch (error) {
    await cluster.close().catch(() => undefined);
    throw error;
  }
  return cluster;
}

/** Waits until each member's `/health` says true (the cluster has a leader and answers). */
async function waitHealthy(members: readonly EtcdMember[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const member of members) {
    for (;;) {
      try {
        const res = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') break;
      } catch {
        // not up yet
      }
      if (member.process?.exitCode != null) {
        throw new Error(`etcd member ${member.name} exited with ${member.process.exitCode}:\n${tail(member.logFile)}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`etcd member ${member.name} not healthy after ${timeoutMs} ms:\n${tail(member.logFile)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Free TCP ports on 127.0.0.1 between 20000 and 32000: high, and below Linux's ephemeral
 * range, so an outgoing connection cannot take one between this check and etcd's bind.
 */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (ports.includes(port)) continue;
    if (await canBind(port)) ports.push(port);
  }
  return ports;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
