import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, freePort, startDaemon, type Daemon } from './daemon.js';

/** Options of {@link startBind}. */
export interface BindOptions {
  /** The zone's origin, e.g. `svc.test`. */
  readonly zone: string;
  /** Zone file lines after the SOA and NS, relative to the origin, e.g. `echo.ns 1 IN A 127.0.0.1`. */
  readonly records: readonly string[];
  /** The SOA MINIMUM (and the SOA's TTL), seconds: the negative-caching time (RFC 2308). Default 1. */
  readonly negativeTtl?: number;
}

/** A BIND 9 `named` serving one dynamic zone on 127.0.0.1. */
export interface Bind {
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /**
   * Sends a dynamic update with `nsupdate` (e.g. `update add x.ns.svc.test 1 A 127.0.0.1`);
   * resolves once BIND accepted it.
   */
  update(commands: readonly string[]): Promise<void>;
  /** Stops named and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts BIND's `named` (Debian package bind9) in the foreground on a free port of
 * 127.0.0.1 with one primary zone that accepts dynamic updates from 127.0.0.1, so tests
 * change records live with `nsupdate` (Debian package bind9-dnsutils).
 */
export async function startBind(options: BindOptions): Promise<Bind> {
  const named = findBinary('named', 'bind9');
  const nsupdate = findBinary('nsupdate', 'bind9-dnsutils');
  const dir = await mkdtemp(join(tmpdir(), 'proxyless-bind-'));
  await chmod(dir, 0o755);
  const negative = options.negativeTtl ?? 1;
  const zoneFile = join(dir, `${options.zone}.zone`);
  await writeFile(
    zoneFile,
    [
      `$ORIGIN ${options.zone}.`,
      `$TTL 1`,
      `@ ${negative} IN SOA ns.${options.zone}. admin.${options.zone}. 1 3600 600 86400 ${negative}`,
      `@ IN NS ns.${options.zone}.`,
      `ns IN A 127.0.0.1`,
      ...options.records,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  let daemon: Daemon | undefined;
  let port = 0;
  for (let tries = 0; daemon === undefined; tries++) {
    port = await freePort();
    const conf = join(dir, 'named.conf');
    await writeFile(
      conf,
      `options {
  directory "${dir}";
  pid-file "${join(dir, 'named.pid')}";
  session-keyfile "${join(dir, 'session.key')}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
zone "${options.zone}" { type primary; file "${zoneFile}"; allow-update { 127.0.0.1; }; };
`,
      { mode: 0o644 },
    );
    try {
      daemon = await startDaemon(named, ['-g', '-c', conf, '-p', String(port), '-n', '1'], port, `ns.${options.zone}`, 'A');
    } catch (error) {
      if (tries >= 3 || !/address in use/i.test(String(error))) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const running = daemon;
  return {
    port,
    address: `127.0.0.1:${port}`,
    update: (commands) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(nsupdate, [], { stdio: ['pipe', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (c: Buffer) => (output += c.toString()));
        child.stderr.on('data', (c: Buffer) => (output += c.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nsupdate exited with ${code}:\n${output}`))));
        child.stdin.end([`server 127.0.0.1 ${port}`, `zone ${options.zone}`, ...commands, 'send', ''].join('\n'));
      }),
    async stop() {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
