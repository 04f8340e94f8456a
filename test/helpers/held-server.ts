import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the server received it. */
export interface Arrival {
  readonly method: string;
  readonly url: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The request body read so far (when the server reads it). */
  body: string;
}

/**
 * A real HTTP server on 127.0.0.1 that records every request it receives, in order, and
 * answers at once (`200 ok`, after reading the body) unless `hold(arrival)` says to
 * keep it: then the test answers through `arrival.res` when it wants. Tests of
 * cancellation count what reached it: a request sent after its caller left shows here.
 */
export interface HeldServer {
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** Every request received, in order of arrival. */
  readonly arrivals: Arrival[];
  /** Resolves with the `n`th arrival (0-based) once it has arrived. */
  arrival(n: number): Promise<Arrival>;
  /** Resolves once the `n`th arrival's connection or response has closed. */
  closed(n: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a {@link HeldServer}. */
export async function startHeldServer(options: { hold?: (arrival: Arrival) => boolean; answer?: (arrival: Arrival) => void } = {}): Promise<HeldServer> {
  const arrivals: Arrival[] = [];
  const waiting = new Map<number, Array<(a: Arrival) => void>>();
  const closedWaiters = new Map<number, Array<() => void>>();
  const closedSet = new Set<number>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const arrival: Arrival = { method: req.method ?? '', url: req.url ?? '', req, res, body: '' };
    const index = arrivals.push(arrival) - 1;
    const onClosed = (): void => {
      if (closedSet.has(index)) return;
      closedSet.add(index);
      for (const w of closedWaiters.get(index) ?? []) w();
      closedWaiters.delete(index);
    };
    res.on('close', onClosed);
    req.on('data', (chunk: Buffer) => void (arrival.body += chunk.toString()));
    for (const w of waiting.get(index) ?? []) w(arrival);
    waiting.delete(index);
    if (options.hold?.(arrival)) return;
    if (options.answer) return options.answer(arrival);
    req.on('end', () => res.end('ok'));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    arrivals,
    arrival: (n) =>
      n < arrivals.length ? Promise.resolve(arrivals[n]!) : new Promise((resolve) => waiting.set(n, [...(waiting.get(n) ?? []), resolve])),
    closed: (n) =>
      closedSet.has(n) ? Promise.resolve() : new Promise((resolve) => closedWaiters.set(n, [...(closedWaiters.get(n) ?? []), resolve])),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * Whether `promise` has settled by the time the event loop has run what is already
 * queued (one `setImmediate`): the mesh answers a cancelled caller in the same turn,
 * so a rejection that has not arrived by then is waiting for something else (a timer, a
 * connection). Not a sleep: nothing is guessed about how long anything takes.
 */
export async function settledNow<T>(promise: Promise<T>): Promise<{ settled: boolean; error?: unknown; value?: T }> {
  let outcome: { settled: boolean; error?: unknown; value?: T } = { settled: false };
  promise.then(
    (value) => void (outcome = { settled: true, value }),
    (error: unknown) => void (outcome = { settled: true, error }),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return outcome;
}

/** Resolves once `arrival`'s body (as read so far) contains `text`. */
export function bodyReceived(arrival: Arrival, text: string): Promise<void> {
  if (arrival.body.includes(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const check = (): void => {
      if (!arrival.body.includes(text)) return;
      arrival.req.off('data', check);
      resolve();
    };
    // Registered after the server's own listener, so the body is up to date when it runs.
    arrival.req.on('data', check);
  });
}
