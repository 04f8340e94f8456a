import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bytes a slow stream may have waiting before it is dropped (it missed frames anyway). */
const MAX_BUFFERED = 1 << 20;

/**
 * The dashboard's Server-Sent Event streams: at most `max` open (more get 503 with
 * Retry-After), each sent the same frame text, built once a tick. A stream whose reader
 * does not keep up (over 1 MiB waiting) is closed rather than buffered without bound.
 */
export class StreamHub {
  readonly #max: number;
  readonly #streams = new Set<ServerResponse>();
  /** Streams refused because the limit was reached. */
  refused = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Streams open now. */
  get size(): number {
    return this.#streams.size;
  }

  /** Opens a stream for `res`, or answers 503 when `max` are open; returns whether it opened. */
  open(req: IncomingMessage, res: ServerResponse, first: string | undefined): boolean {
    if (this.#streams.size >= this.#max) {
      this.refused++;
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5', connection: 'close' });
      res.end(JSON.stringify({ error: `too many dashboard streams open (${this.#max}, the admin option maxStreams)` }));
      return false;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // Ask the browser to come back after 2 s should the stream end.
    res.write('retry: 2000\n\n');
    if (first !== undefined) res.write(first);
    this.#streams.add(res);
    const done = (): void => {
      this.#streams.delete(res);
    };
    req.socket.setNoDelay(true);
    res.on('close', done);
    return true;
  }

  /** Sends `text` (a whole SSE event) to every stream. */
  send(text: string): void {
    for (const res of this.#streams) {
      if (res.writableLength > MAX_BUFFERED) {
        this.#streams.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  /** Ends every stream. */
  close(): void {
    for (const res of this.#streams) res.end();
    this.#streams.clear();
  }
}

/** An SSE event carrying `data` as JSON (one `data:` line: JSON has no raw newlines). */
export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
