// A local etcd for the discovery phase: one member (Debian package etcd-server) on free
// ports of 127.0.0.1, its data in a temp directory; and the @proxyless/etcd package.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, removeTempDir, startDaemon, startOnFreePorts } from './local-daemon.js';

/** The etcd package's API. */
export type EtcdPackage = typeof import('@proxyless/etcd');

/** Where Debian's etcd-server package puts etcd; `ETCD_BIN` overrides it (as in the etcd tests). */
export const ETCD_PATH = process.env.ETCD_BIN || '/usr/bin/etcd';

/** The etcd binary, or undefined when it is not installed. */
export function findEtcd(): string | undefined {
  return existsSync(ETCD_PATH) ? ETCD_PATH : undefined;
}

/**
 * Loads @proxyless/etcd (the workspace packages/etcd; its sources under `npm run demo`'s
 * `proxyless-source` condition), only when the etcd part runs, so that the rest of the
 * demo needs neither it nor its etcd3 client. Its own `import 'proxyless'` resolves
 * through node_modules/proxyless, a link to this repository that npm makes for the
 * package's devDependency `file:../..`, to the same src/index.ts as the demo's: one copy
 * of proxyless, `CatalogSource` and all.
 */
export function loadEtcdPackage(): Promise<EtcdPackage> {
  return import('@proxyless/etcd');
}

/** A running etcd member. */
export interface LocalEtcd {
  readonly pid: number;
  /** `http://127.0.0.1:<port>`, for `endpoints`. */
  readonly clientUrl: string;
  /** Its temp directory (data and nothing else). */
  readonly dir: string;
  /** The version it reports, e.g. `3.4.23`. */
  readonly version: string;
  /** Stops etcd and removes its data. */
  stop(): Promise<void>;
}

/** Starts one etcd member and resolves once its /health says true. */
export async function startLocalEtcd(binary: string, signal: AbortSignal): Promise<LocalEtcd> {
  const dir = makeTempDir('proxyless-demo-etcd-');
  return startOnFreePorts(2, dir, async ([clientPort, peerPort], attempt) => {
    const clientUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    let version = '?';
    const daemon = await startDaemon({
      name: 'etcd',
      binary,
      args: [
        '--name', 'demo',
        '--data-dir', join(dir, `data-${attempt}`),
        '--listen-client-urls', clientUrl,
        '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', `demo=${peerUrl}`,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', `proxyless-demo-${process.pid}`,
        '--logger', 'zap',
        '--log-level', 'error',
      ],
      ready: async () => {
        try {
          const health = (await (await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(500) })).json()) as { health?: string };
          if (health.health !== 'true') return false;
          const info = (await (await fetch(`${clientUrl}/version`, { signal: AbortSignal.timeout(500) })).json()) as { etcdserver?: string };
          version = info.etcdserver ?? '?';
          return true;
        } catch {
          return false;
        }
      },
      timeoutMs: 15_000,
      signal,
    });
    return {
      pid: daemon.pid,
      clientUrl,
      dir,
      version,
      async stop() {
        await daemon.stop();
        removeTempDir(dir);
      },
    };
  });
}
