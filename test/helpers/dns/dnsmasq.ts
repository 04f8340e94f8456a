import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort, startDaemon, type Daemon } from './daemon.js';

/** One `--srv-host` line: the SRV name, its target, port, priority and weight. */
export interface SrvHost {
  readonly name: string;
  readonly target: string;
  readonly port: number;
  readonly priority?: number;
  readonly weight?: number;
}

/** Options of {@link startDnsmasq}. */
export interface DnsmasqOptions {
  /** `--host-record` entries: name and address (A or AAAA by the address). */
  readonly hostRecords?: ReadonlyArray<readonly [name: string, address: string]>;
  /** `--srv-host` entries. */
  readonly srvHosts?: readonly SrvHost[];
  /** Content of the `--addn-hosts` file (hosts-file syntax), re-read on {@link Dnsmasq.setHosts}. */
  readonly hosts?: string;
  /** TTL of local answers in seconds (`--local-ttl`). Default 1. */
  readonly localTtl?: number;
  /** Domains answered locally, NXDOMAIN for unknown names (`--local=/d/`). Default `test` and `cluster.local`. */
  readonly localDomains?: readonly string[];
  /** `--address=/domain/ip`: every name under `domain` answers `ip` (a wildcard record). */
  readonly wildcards?: ReadonlyArray<readonly [domain: string, address: string]>;
}

/** A dnsmasq serving on 127.0.0.1. */
export interface Dnsmasq {
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** Rewrites the addn-hosts file and sends SIGHUP: dnsmasq re-reads it and clears its cache. */
  setHosts(content: string): Promise<void>;
  /** Stops dnsmasq and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts dnsmasq (Debian package dnsmasq-base) on a free port of 127.0.0.1 with no
 * upstream servers, no /etc/hosts and no config file: only the records given. Its
 * files live in a temporary directory readable by the user dnsmasq drops to.
 */
export async function startDnsmasq(options: DnsmasqOptions = {}): Promise<Dnsmasq> {
  const binary = findBinary('dnsmasq', 'dnsmasq-base');
  const dir = await mkdtemp(join(tmpdir(), 'proxyless-dnsmasq-'));
  await chmod(dir, 0o755);
  const hostsFile = join(dir, 'hosts');
  await writeFile(hostsFile, options.hosts ?? '', { mode: 0o644 });
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    `--addn-hosts=${hostsFile}`,
    `--local-ttl=${options.localTtl ?? 1}`,
    ...(options.localDomains ?? ['test', 'cluster.local']).map((d) => `--local=/${d}/`),
    ...(options.hostRecords ?? []).map(([name, address]) => `--host-record=${name},${address}`),
    ...(options.wildcards ?? []).map(([domain, address]) => `--address=/${domain}/${address}`),
    ...(options.srvHosts ?? []).map((s) => `--srv-host=${s.name},${s.target},${s.port},${s.priority ?? 0},${s.weight ?? 0}`),
  ];
  let daemon: Daemon | undefined;
  let port = 0;
  for (let tries = 0; daemon === undefined; tries++) {
    port = await freePort();
    try {
      daemon = await startDaemon(binary, [...args, `--port=${port}`], port, 'probe.invalid', 'A');
    } catch (error) {
      // The port may have been taken between finding and binding it; try another.
      if (tries >= 3 || !/Address already in use/i.test(String(error))) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const running = daemon;
  return {
    port,
    address: `127.0.0.1:${port}`,
    async setHosts(content) {
      await writeFile(hostsFile, content, { mode: 0o644 });
      running.child.kill('SIGHUP');
    },
    async stop() {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
