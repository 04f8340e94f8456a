// The drain test of issue 13: two replicas (Fastify with the mesh plugin, each a child
// process registered in a real etcd) behind a mesh client under 32-concurrent load; one
// gets a real SIGTERM mid-run. No request fails at the client, and every request the
// draining replica accepted was answered (and that answer reached the client).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh } from 'proxyless';
import { etcdDiscovery } from '../../etcd/src/index.js';
import { startCluster, type EtcdCluster } from '../../etcd/test/helpers/cluster.js';
import { requireBinaries } from '../../../test/helpers/system-binaries.js';
import { Progress } from '../../../test/helpers/wait.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const needs = requireBinaries([{ bin: process.env.ETCD_BIN ?? '/usr/bin/etcd', pkg: 'etcd-server' }]);

interface Replica {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
}

function startReplica(id: string, endpoints: readonly string[], progress: Progress): Replica {
  const child = spawn(
    `${root}node_modules/.bin/node`,
    ['--import', 'tsx', '--conditions=proxyless-source', `${root}packages/fastify/test/fixtures/drain-replica.ts`, id, JSON.stringify(endpoints), '/drain/services', '1000'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const replica: Replica = {
    child,
    output: '',
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  const append = (chunk: Buffer): void => {
    replica.output += chunk.toString();
    progress.notify();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  void replica.exited.then(() => progress.notify());
  return replica;
}

describe.skipIf(needs.skip)(`graceful drain under load: SIGTERM to one of two replicas${needs.note}`, () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startCluster(1);
  }, 60_000);
  afterAll(() => cluster?.close());

  it('0 failed requests at the client; every request the draining replica accepted was answered and reached the client; it exits by itself', async () => {
    const progress = new Progress();
    const a = startReplica('a', cluster.endpoints, progress);
    const b = startReplica('b', cluster.endpoints, progress);
    try {
      await progress.until('both replicas registered', () => /ready a/.test(a.output) && /ready b/.test(b.output), 60_000);
      const mesh = createMesh({
        discovery: [etcdDiscovery({ endpoints: [...cluster.endpoints], prefix: '/drain/services' })],
        config: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'drain' }, spec: { host: 'drain', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } }],
      });
      const served = { a: 0, b: 0 };
      const failures: string[] = [];
      let afterExit = 0;
      let aGone = false;
      let stop = false;
      const worker = async (): Promise<void> => {
        while (!stop) {
          try {
            const res = await request('http://drain/', { dispatcher: mesh.dispatcher });
            const body = await res.body.text();
            if (res.statusCode !== 200) failures.push(`status ${res.statusCode}: ${body}`);
            else if (body === 'a' || body === 'b') served[body]++;
            else failures.push(`unexpected body ${body}`);
          } catch (error) {
            failures.push(`${(error as Error).message} (${String((error as { cause?: Error }).cause?.message ?? '')})`);
          }
          if (aGone) afterExit++;
          progress.notify();
        }
      };
      const workers = Array.from({ length: 32 }, worker);
      await progress.until('both replicas serving', () => served.a >= 100 && served.b >= 100, 60_000);
      a.child.kill('SIGTERM');
      const exit = await a.exited;
      aGone = true;
      await progress.until('more traffic after the exit', () => afterExit >= 500, 60_000);
      stop = true;
      await Promise.all(workers);
      await mesh.close();

      expect(failures).toEqual([]);
      expect(exit).toEqual({ code: 0, signal: null });
      const drained = /drained accepted=(\d+) answered=(\d+) cut=(\d+) registered=(\w+)/.exec(a.output);
      expect(drained, a.output).not.toBeNull();
      const [, accepted, answered, cut, registered] = drained!;
      expect(Number(answered)).toBe(Number(accepted));
      expect(Number(cut)).toBe(0);
      expect(registered).toBe('false');
      expect(served.a).toBe(Number(answered)); // every answer reached the client
      expect(a.output).toMatch(/draining accepted=\d+\n(.|\n)*stop-accepting\n(.|\n)*drained /);
      expect(served.b).toBeGreaterThan(500);
    } finally {
      for (const r of [a, b]) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    }
  }, 120_000);
});
