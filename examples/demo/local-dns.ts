// A local DNS server for the discovery phase: dnsmasq (Debian package dnsmasq-base) on
// a free port of 127.0.0.1, answering only the records given (SRV and A), with no
// upstream servers, no /etc/hosts and no config file.
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { findExecutable, makeTempDir, removeTempDir, startDaemon, startOnFreePorts } from './local-daemon.js';

/** Where to look for dnsmasq: `DNSMASQ_BIN` if set, else `dnsmasq` on PATH or in the sbin directories. */
export function findDnsmasq(): string | undefined {
  return findExecutable(process.env.DNSMASQ_BIN ? [process.env.DNSMASQ_BIN] : ['dnsmasq']);
}

/** One SRV record: `<name> SRV <priority> <weight> <port> <target>`. */
export interface SrvRecord {
  readonly name: string;
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

/** What {@link startLocalDns} serves. */
export interface LocalDnsRecords {
  readonly srv: readonly SrvRecord[];
  /** A records: name and IPv4 address. */
  readonly a: ReadonlyArray<readonly [name: string, address: string]>;
  /** Domains answered only from these records (NXDOMAIN for other names in them), e.g. `cluster.local`. */
  readonly localDomains: readonly string[];
  /** TTL of the answers in seconds (`--local-ttl`). */
  readonly ttl: number;
}

/** A running dnsmasq. */
export interface LocalDns {
  readonly pid: number;
  readonly port: number;
  /** `127.0.0.1:<port>`, as `dns({ servers })` takes it. */
  readonly address: string;
  /** Its temp directory (pid file). */
  readonly dir: string;
  /** Asks it for `name`'s SRV records, as any resolver would (node:dns). */
  resolveSrv(name: string): Promise<SrvRecord[]>;
  /** Stops dnsmasq and removes its directory. */
  stop(): Promise<void>;
}

/** Starts dnsmasq with `records` and resolves once it answers the first SRV name. */
export async function startLocalDns(binary: string, records: LocalDnsRecords, signal: AbortSignal): Promise<LocalDns> {
  const dir = makeTempDir('proxyless-demo-dns-');
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    `--local-ttl=${records.ttl}`,
    ...records.localDomains.map((d) => `--local=/${d}/`),
    ...records.a.map(([name, address]) => `--host-record=${name},${address}`),
    ...records.srv.map((r) => `--srv-host=${r.name},${r.target},${r.port},${r.priority},${r.weight}`),
  ];
  const probeName = records.srv[0]!.name;
  return startOnFreePorts(1, dir, async ([port]) => {
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    const resolveSrv = async (name: string): Promise<SrvRecord[]> =>
      (await resolver.resolveSrv(name)).map((r) => ({ name, priority: r.priority, weight: r.weight, port: r.port, target: r.name }));
    const daemon = await startDaemon({
      name: 'dnsmasq',
      binary,
      args: [...args, `--port=${port}`],
      ready: () => resolveSrv(probeName).then((answer) => answer.length > 0, () => false),
      timeoutMs: 10_000,
      signal,
    });
    return {
      pid: daemon.pid,
      port: port!,
      address: `127.0.0.1:${port}`,
      dir,
      resolveSrv,
      async stop() {
        await daemon.stop();
        removeTempDir(dir);
      },
    };
  });
}
