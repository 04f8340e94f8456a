import { BodyNotReplayableError } from './errors/index.js';

/**
 * Request bodies that can be sent more than once: by a retry, a hedged backup or a
 * mirror.
 *
 * A string, bytes, a Blob or a FormData can be sent again as they are. A stream (a
 * Node Readable, an async iterable such as the one undici's `fetch` makes of every
 * body, even a string) can be read only once, so the mesh puts a {@link ReplayableBody}
 * in front of it: each try reads a {@link BodyView} of it, and the chunks the first
 * reader pulls are kept, up to a limit in bytes (as Envoy's per-request buffer limit),
 * so a later view yields them again and then reads on from the source. Past the limit
 * the kept chunks are dropped: the try reading carries on, and the body can no longer be
 * replayed. A body nobody has read yet can always be handed to another try: that is what
 * makes a connection failure retriable whatever the body.
 */
export const kReplayable = Symbol.for('proxyless.replayableBody');

/** A body value as undici's dispatch takes it. */
type Body = unknown;

/** One reader of a {@link ReplayableBody}: an async iterable undici reads as the request body. */
export class BodyView implements AsyncIterator<unknown>, AsyncIterable<unknown> {
  /** The body this view reads. */
  readonly [kReplayable]: ReplayableBody;
  /** The index of the next chunk to yield. */
  index = 0;

  /** @param body the shared body */
  constructor(body: ReplayableBody) {
    this[kReplayable] = body;
  }

  /** A view is its own (single-use) iterator. */
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return this;
  }

  /** The next chunk: a kept one, or one read from the source. */
  next(): Promise<IteratorResult<unknown>> {
    return this[kReplayable].read(this);
  }

  /** The reader stopped (its try ended): the source is left for the next view. */
  return(): Promise<IteratorResult<unknown>> {
    return Promise.resolve({ done: true, value: undefined });
  }
}

/** The shared state of one streamed request body; see the module. */
export class ReplayableBody {
  readonly #source: Body;
  /** Bytes kept for replays at most. */
  readonly limit: number;
  #iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  /** Chunks read so far, while within the limit; undefined once past it. */
  #chunks: unknown[] | undefined = [];
  /** The last chunk read (views in step with the reader get it past the limit too). */
  #last: unknown;
  #count = 0;
  #bytes = 0;
  #done = false;
  #failed = false;
  #error: unknown;
  #pulling: Promise<void> | undefined;
  #whenComplete: Array<(body: Buffer | undefined) => void> | undefined;
  #closed = false;

  /** The service the request goes to, named by {@link BodyNotReplayableError}. */
  readonly service: string | undefined;

  /** @param source the stream or iterable; @param limit bytes kept for replays; @param service the service, for errors */
  constructor(source: Body, limit: number, service?: string) {
    this.#source = source;
    this.limit = limit;
    this.service = service;
  }

  /** True while every chunk read so far is kept (or none was read): a new view can start from the beginning. */
  get replayable(): boolean {
    return this.#chunks !== undefined && !this.#failed && !this.#closed;
  }

  /** True when nothing has been read from the source yet. */
  get unread(): boolean {
    return this.#iterator === undefined;
  }

  /** A new reader from the first byte. */
  view(): BodyView {
    return new BodyView(this);
  }

  /**
   * Calls `callback` with the whole body once the source is read to its end within the
   * limit, or with `undefined` when it cannot be had (past the limit, failed, or the
   * call ended before it was read). Used for mirrors, which never read the source
   * themselves: a mirror must not change what the request itself sends.
   */
  whenComplete(callback: (body: Buffer | undefined) => void): void {
    if (this.#done || this.#chunks === undefined || this.#closed) {
      callback(this.#done && !this.#failed && this.#chunks !== undefined ? this.#concat() : undefined);
      return;
    }
    (this.#whenComplete ??= []).push(callback);
  }

  /** Reads the next chunk for `view`. */
  async read(view: BodyView): Promise<IteratorResult<unknown>> {
    for (;;) {
      if (view.index < this.#count) {
        const chunks = this.#chunks;
        if (chunks !== undefined) return { done: false, value: chunks[view.index++] };
        if (view.index === this.#count - 1) {
          view.index++;
          return { done: false, value: this.#last };
        }
        throw new BodyNotReplayableError(this.limit, this.service);
      }
      if (this.#done) {
        if (this.#failed) throw this.#error;
        return { done: true, value: undefined };
      }
      await (this.#pulling ??= this.#pull());
    }
  }

  /** The call is over: stops a source read part way, and tells mirrors still waiting. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify(undefined);
    if (this.#done) return;
    const iterator = this.#iterator;
    if (iterator !== undefined) {
      try {
        void Promise.resolve(iterator.return?.()).catch(() => {});
      } catch {
        // A source that fails to stop has nothing more to give us.
      }
    } else {
      const source = this.#source as { destroy?: () => void };
      if (typeof source.destroy === 'function') source.destroy();
    }
  }

  async #pull(): Promise<void> {
    try {
      const iterator = (this.#iterator ??= iteratorOf(this.#source));
      const result = await iterator.next();
      if (result.done) {
        this.#done = true;
        this.#notify(this.#chunks === undefined ? undefined : this.#concat());
        return;
      }
      const chunk = result.value;
      this.#count++;
      this.#bytes += byteLength(chunk);
      this.#last = chunk;
      if (this.#chunks !== undefined) {
        if (this.#bytes > this.limit) {
          this.#chunks = undefined;
          this.#notify(undefined);
        } else {
          this.#chunks.push(chunk);
        }
      }
    } catch (error) {
      this.#done = true;
      this.#failed = true;
      this.#error = error;
      this.#notify(undefined);
    } finally {
      this.#pulling = undefined;
    }
  }

  #concat(): Buffer {
    return Buffer.concat(this.#chunks!.map((c) => (typeof c === 'string' ? Buffer.from(c) : (c as Uint8Array))));
  }

  #notify(body: Buffer | undefined): void {
    const waiting = this.#whenComplete;
    if (waiting === undefined) return;
    this.#whenComplete = undefined;
    for (const callback of waiting) callback(body);
  }
}

function iteratorOf(source: Body): AsyncIterator<unknown> | Iterator<unknown> {
  const s = source as { [Symbol.asyncIterator]?: () => AsyncIterator<unknown>; [Symbol.iterator]?: () => Iterator<unknown> };
  if (typeof s[Symbol.asyncIterator] === 'function') return s[Symbol.asyncIterator]!();
  return s[Symbol.iterator]!();
}

function byteLength(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/** True for a body that can be sent again as it is: none, a string, bytes, a Blob or a FormData. */
export function isStaticBody(body: Body): boolean {
  if (body == null || typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer) return true;
  if (typeof body !== 'object') return false;
  const tag = (body as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  return tag === 'Blob' || tag === 'File' || tag === 'FormData';
}

/** True for a body that can be read only once: a Readable, an async iterable or an iterable of chunks. */
export function isStreamBody(body: Body): boolean {
  if (isStaticBody(body) || typeof body !== 'object') return false;
  const b = body as { pipe?: unknown; [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown };
  return typeof b.pipe === 'function' || typeof b[Symbol.asyncIterator] === 'function' || typeof b[Symbol.iterator] === 'function';
}

/** The {@link ReplayableBody} behind a body value, if it is a view of one. */
export function replayableOf(body: Body): ReplayableBody | undefined {
  return typeof body === 'object' && body !== null ? (body as { [kReplayable]?: ReplayableBody })[kReplayable] : undefined;
}

/**
 * True when a body can be sent again from its first byte: a static body, or a view of a
 * streamed body whose read part is all kept (or that nobody read yet). A stream the mesh
 * did not wrap cannot.
 */
export function isReplayable(body: Body): boolean {
  if (isStaticBody(body)) return true;
  return replayableOf(body)?.replayable === true;
}

/** The body to give another try: the same static body, or a new view of a streamed one. */
export function replay(body: Body): Body {
  const shared = replayableOf(body);
  return shared === undefined ? body : shared.view();
}
