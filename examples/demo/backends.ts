// The demo's backend replicas: real node:http servers on 127.0.0.1, in this process.
// Each one answers after a short delay (a stand-in for real work) and names itself in
// the `x-replica` response header, so the load generator knows who served a request.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One running backend replica. */
export interface Replica {
  /** A short name for tables, e.g. `fast-1` or `slow-1`. */
  readonly id: string;
  /** True for the replica that answers `slowExtraMs` later than the others. */
  readonly slow: boolean;
  /** The TCP port it listens on (127.0.0.1). */
  readonly port: number;
  /** `127.0.0.1:<port>`, as the mesh names the endpoint. */
  readonly address: string;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

/** How the replicas behave. */
export interface ReplicaOptions {
  /** How many fast replicas. */
  fast: number;
  /** How many slow replicas. */
  slow: number;
  /** Shortest answer time of every replica, in ms. */
  baseMs: number;
  /** Random extra time on top of `baseMs`, uniform in [0, jitterMs). */
  jitterMs: number;
  /** How much later a slow replica answers, in ms. */
  slowExtraMs: number;
}

/**
 * Starts the fast replicas, then the slow ones, each on its own port (port 0: the OS
 * picks a free one). Resolves when all of them listen.
 */
export async function startReplicas(options: ReplicaOptions): Promise<Replica[]> {
  const specs = [
    ...Array.from({ length: options.fast }, (_, i) => ({ id: `fast-${i + 1}`, slow: false })),
    ...Array.from({ length: options.slow }, (_, i) => ({ id: `slow-${i + 1}`, slow: true })),
  ];
  return Promise.all(specs.map((spec) => startReplica(spec.id, spec.slow, options)));
}

async function startReplica(id: string, slow: boolean, options: ReplicaOptions): Promise<Replica> {
  const server: Server = createServer((req, res) => {
    // Answer only after the request body (none here) is read, like a real handler.
    req.resume();
    const delay = options.baseMs + Math.random() * options.jitterMs + (slow ? options.slowExtraMs : 0);
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-replica': id });
      res.end(id);
    }, delay);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    id,
    slow,
    port,
    address: `127.0.0.1:${port}`,
    close: async () => {
      const closed = once(server, 'close');
      server.close();
      // The mesh closes its keep-alive connections itself; this covers any left over.
      server.closeAllConnections();
      await closed;
    },
  };
}
