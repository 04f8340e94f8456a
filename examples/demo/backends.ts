// The demo's backend replicas: real Fastify and Express services on 127.0.0.1, in this
// process, each wired with the mesh's server side (@proxyless/fastify,
// @proxyless/express). Each one answers after a short delay (a stand-in for real work)
// and names itself in the `x-replica` response header, so the load generator knows who
// served a request.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import Fastify from 'fastify';
import { createMesh } from 'proxyless';
import { meshMiddleware } from '@proxyless/express';
import { meshPlugin } from '@proxyless/fastify';

/** One running backend replica. */
export interface Replica {
  /** A short name for tables, e.g. `fast-1`, `slow-1` or `v2-1`. */
  readonly id: string;
  /** Its `version` label: `v1` for the replicas of the balancer phases, `v2` for the canary's new ones. */
  readonly version: string;
  /** True for the replica that answers `slowExtraMs` later than the others. */
  readonly slow: boolean;
  /** The TCP port it listens on (127.0.0.1). */
  readonly port: number;
  /** `127.0.0.1:<port>`, as the mesh names the endpoint. */
  readonly address: string;
  /**
   * Stops listening and destroys its open connections, requests in flight included (as
   * a crashed process would). Resolves with how many connections it destroyed; later
   * calls do nothing and resolve with 0.
   */
  close(): Promise<number>;
}

/** How fast the replicas answer. */
export interface ReplicaTiming {
  /** Shortest answer time of every replica, in ms. */
  baseMs: number;
  /** Random extra time on top of `baseMs`, uniform in [0, jitterMs). */
  jitterMs: number;
  /** How much later a slow replica answers, in ms. */
  slowExtraMs: number;
}

/** How many replicas of the current release, and how they behave. */
export interface ReplicaOptions extends ReplicaTiming {
  /** How many fast replicas. */
  fast: number;
  /** How many slow replicas. */
  slow: number;
}

/**
 * Starts the fast replicas, then the slow ones, all `version: v1`, each on its own port
 * (port 0: the OS picks a free one). Resolves when all of them listen.
 */
export async function startReplicas(options: ReplicaOptions): Promise<Replica[]> {
  const specs = [
    ...Array.from({ length: options.fast }, (_, i) => ({ id: `fast-${i + 1}`, slow: false })),
    ...Array.from({ length: options.slow }, (_, i) => ({ id: `slow-${i + 1}`, slow: true })),
  ];
  return Promise.all(specs.map((spec) => startReplica(spec.id, 'v1', spec.slow, options)));
}

/**
 * Starts `count` replicas of a new release, `version: v2` (`v2-1`, `v2-2`, …), as fast
 * as the fast v1 ones: the canary phase shifts traffic to them.
 */
export async function startV2Replicas(count: number, timing: ReplicaTiming): Promise<Replica[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startReplica(`v2-${i + 1}`, 'v2', false, timing)));
}

/**
 * Starts `count` fast replicas of another service, `<name>-1`, `<name>-2`, … (`version:
 * v1`), for the resilience phase. `status` gives the status of each answer when it is
 * sent (default 200): a replica that fails for a while answers 500 meanwhile.
 */
export async function startServiceReplicas(name: string, count: number, timing: ReplicaTiming, status?: () => number): Promise<Replica[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startReplica(`${name}-${i + 1}`, 'v1', false, timing, status)));
}

async function startReplica(id: string, version: string, slow: boolean, options: ReplicaTiming, status = () => 200): Promise<Replica> {
  // Each replica is a real service with its own mesh (its server side): the payments
  // replicas (the circuit breaker's) run Express with @proxyless/express, every other one
  // Fastify with @proxyless/fastify.
  const mesh = createMesh();
  const delay = (): number => options.baseMs + Math.random() * options.jitterMs + (slow ? options.slowExtraMs : 0);
  let server: Server;
  if (!id.startsWith('payments-')) {
    const app = Fastify();
    await app.register(meshPlugin, { mesh });
    app.get('/*', async (_request, reply) => {
      await sleep(delay());
      return reply.code(status()).header('content-type', 'text/plain').header('x-replica', id).send(id);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server;
  } else {
    const app = express();
    const middleware = meshMiddleware(mesh);
    app.use(middleware);
    app.use(async (_req, res) => {
      await sleep(delay());
      res.status(status()).set({ 'content-type': 'text/plain', 'x-replica': id }).send(id);
    });
    server = middleware.attach(app.listen(0, '127.0.0.1'));
    await once(server, 'listening');
  }
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<number> | undefined;
  return {
    id,
    version,
    slow,
    port,
    address: `127.0.0.1:${port}`,
    close: () => {
      if (closing) return closing.then(() => 0);
      closing = (async () => {
        const connections = await new Promise<number>((resolve) => server.getConnections((_, n) => resolve(n ?? 0)));
        const closed = once(server, 'close');
        server.close();
        // The mesh closes its keep-alive connections itself; this covers any left over
        // (and, for a replica killed mid-run, the requests it was serving).
        server.closeAllConnections();
        await closed;
        await mesh.close();
        return connections;
      })();
      return closing;
    },
  };
}
