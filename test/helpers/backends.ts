import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real HTTP server on 127.0.0.1 (port 0) that answers with its own id. */
export interface Backend {
  readonly id: string;
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** Requests received so far. */
  requests: number;
  /** Requests being handled right now. */
  active: number;
  /** Host headers seen, last first. */
  readonly hosts: string[];
  /** Extra delay before answering, in ms (changeable while running). */
  delayMs: number;
  /**
   * Resolves once the server has received `count` requests in total (at once if it
   * already has): tests wait for this instead of sleeping until a request "must" be there.
   */
  whenRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Options for {@link startBackend}. */
export interface BackendOptions {
  id: string;
  delayMs?: number;
  /** Custom handler; default answers `200 <id>` (JSON with request info for `/echo`). */
  handle?: (req: IncomingMessage, res: ServerResponse, backend: Backend) => void;
}

/** Starts one backend; the response body is the backend id, `/echo` returns request details. */
export async function startBackend(options: BackendOptions): Promise<Backend> {
  const sockets = new Set<import('node:net').Socket>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let server!: Server;
  const backend: Backend = {
    id: options.id,
    port: 0,
    address: '',
    requests: 0,
    active: 0,
    hosts: [],
    delayMs: options.delayMs ?? 0,
    whenRequests: (count) =>
      backend.requests >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
  server = createServer((req, res) => {
    backend.requests++;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (backend.requests >= waiters[i]!.count) waiters.splice(i, 1)[0]!.resolve();
    }
    backend.active++;
    backend.hosts.unshift(req.headers.host ?? '');
    if (backend.hosts.length > 50) backend.hosts.length = 50;
    res.on('close', () => backend.active--);
    const answer = (): void => {
      if (options.handle) return options.handle(req, res, backend);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url?.startsWith('/echo')) {
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({ id: backend.id, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }),
          );
        } else {
          res.setHeader('x-backend', backend.id);
          res.end(backend.id);
        }
      });
    };
    if (backend.delayMs > 0) setTimeout(answer, backend.delayMs);
    else answer();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  Object.assign(backend, { port, address: `127.0.0.1:${port}` });
  return backend;
}

/** Starts `count` backends with ids `${prefix}0`, `${prefix}1`, ... */
export async function startBackends(count: number, prefix = 'b', delayMs = 0): Promise<Backend[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startBackend({ id: `${prefix}${i}`, delayMs })));
}

/** Closes every backend given. */
export async function closeAll(backends: readonly Backend[]): Promise<void> {
  await Promise.all(backends.map((b) => b.close()));
}
