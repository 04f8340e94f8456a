// A real HTTP server on 127.0.0.1 (port 0) with the routes the fetch behaviour table
// needs: an echo of what arrived, redirects of every status, held requests and held
// bodies (for aborts and streaming), several Set-Cookie headers.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Progress } from './wait.js';

/** What `/echo` answers with (JSON). */
export interface Echo {
  readonly method: string;
  /** Path and query as received. */
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One fetch-table server. */
export interface FetchServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly address: string;
  /** Requests received so far (counted on arrival, before the body). */
  readonly arrived: number;
  /** Requests whose client went away before the whole answer was sent (the socket closed). */
  readonly abandoned: number;
  /** Resolves once `count` requests arrived in total. */
  whenArrived(count: number): Promise<void>;
  /** Resolves once `count` requests were abandoned by their client in total. */
  whenAbandoned(count: number): Promise<void>;
  /** Ends every held request and held body: `/hold` answers `released`, `/hold-body` writes `second` and ends. */
  release(): void;
  close(): Promise<void>;
}

/**
 * Routes:
 * - `/echo...`: 200 with an {@link Echo} of the request (any method; no body on HEAD).
 * - `/redirect?status=N&to=URL`: status N, `Location: URL` (relative or absolute), body `moved`.
 * - `/loop`: 302 to itself, forever.
 * - `/hold`: no answer until {@link FetchServer.release}.
 * - `/hold-body`: 200, writes `first`, then holds the rest (`second`) until release.
 * - `/cookies`: two `Set-Cookie` headers.
 * - `/status?code=N`: status N with body `status N` (none for 204/304).
 */
export async function startFetchServer(): Promise<FetchServer> {
  const progress = new Progress();
  const sockets = new Set<Socket>();
  const held = new Set<() => void>();
  let arrived = 0;
  let abandoned = 0;

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const url = new URL(req.url ?? '/', 'http://server');
    const path = url.pathname;
    if (path.startsWith('/echo')) {
      const echo: Echo = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      res.writeHead(200, { 'content-type': 'application/json', 'x-echo': 'yes' });
      res.end(JSON.stringify(echo));
    } else if (path === '/redirect') {
      res.writeHead(Number(url.searchParams.get('status')), { location: url.searchParams.get('to') ?? '/echo' });
      res.end('moved');
    } else if (path === '/loop') {
      res.writeHead(302, { location: '/loop' });
      res.end('again');
    } else if (path === '/hold' || path === '/hold-body') {
      if (path === '/hold-body') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first');
      }
      const answer = (): void => void (path === '/hold' ? res.end('released') : res.end('second'));
      held.add(answer);
      res.on('close', () => held.delete(answer));
    } else if (path === '/cookies') {
      res.writeHead(200, [
        ['set-cookie', 'a=1; Path=/'],
        ['set-cookie', 'b=2; HttpOnly'],
        ['content-type', 'text/plain'],
      ]);
      res.end('cookies');
    } else if (path === '/status') {
      const code = Number(url.searchParams.get('code'));
      res.writeHead(code);
      res.end(code === 204 || code === 304 ? undefined : `status ${code}`);
    } else {
      res.writeHead(404);
      res.end('no such route');
    }
  };

  const server = createServer((req, res) => {
    arrived++;
    // Listening from the start: a client may go before the body was read.
    res.on('close', () => {
      if (res.writableFinished) return;
      abandoned++;
      progress.notify();
    });
    progress.notify();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('latin1')));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    get arrived() {
      return arrived;
    },
    get abandoned() {
      return abandoned;
    },
    whenArrived: (count) => progress.until(`${count} requests to arrive`, () => arrived >= count),
    whenAbandoned: (count) => progress.until(`${count} requests to be abandoned`, () => abandoned >= count),
    release: () => {
      const answers = [...held];
      held.clear();
      for (const answer of answers) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
