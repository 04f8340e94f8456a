import type { Etcd3, IKeyValue, Watcher } from 'etcd3';

/** What a {@link RangeWatch} tells its owner. Handlers must not throw. */
export interface RangeWatchHandlers {
  /**
   * The whole range as etcd holds it at `revision`: after the first read and after every
   * resync (the watch was lost or compacted). Replaces everything known before.
   */
  snapshot(kvs: readonly IKeyValue[], revision: bigint): void;
  /** A key in the range was created or changed after the last snapshot. */
  put(kv: IKeyValue): void;
  /** A key in the range was deleted (or its lease expired) after the last snapshot. */
  delete(kv: IKeyValue): void;
  /** A read failed or the watch was lost; a resync follows in `retryInMs` by itself. */
  trouble(error: unknown, retryInMs: number, what: 'read' | 'watch'): void;
}

/** How long a new watch may take to be established before it is abandoned, in ms. */
const CONNECT_TIMEOUT = 10_000;

/** Settings of a {@link RangeWatch}. */
export interface RangeWatchSettings {
  /** The etcd client to read and watch with. */
  readonly client: Etcd3;
  /** Watch every key starting with this; or */
  readonly prefix?: string;
  /** watch exactly this key. */
  readonly key?: string;
  /** Who hears about the range. */
  readonly handlers: RangeWatchHandlers;
  /** First retry delay in ms (doubled per failure). Default 200. */
  readonly initialDelay?: number;
  /** Longest retry delay in ms. Default 3000. */
  readonly maxDelay?: number;
}

/**
 * Retry delay for the `attempt`-th consecutive failure (0-based): `initial × 2^attempt`
 * capped at `max`, with "equal jitter" (between half and all of it), so clients that lost
 * etcd together do not all come back in the same millisecond.
 */
export function retryDelay(attempt: number, initial: number, max: number, random: () => number = Math.random): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * A consistent view of a key range in etcd: read it whole (one revision), then watch it
 * from the next revision, so no change is missed or seen twice. When the watch is lost
 * (the member it ran on went away, the stream ended) or cancelled (its start revision was
 * compacted), the view is rebuilt the same way: a fresh read, then a new watch. A failed
 * read is retried with backoff until etcd answers. Nothing here throws or rejects.
 *
 * The etcd3 client can resume a lost watch itself, but it tracks the resume revision
 * from response headers, which can move past events not yet delivered; a fresh read
 * costs one range request per reconnect and is always right.
 */
export class RangeWatch {
  readonly #settings: RangeWatchSettings;
  readonly #initialDelay: number;
  readonly #maxDelay: number;
  /** Bumped whenever the current read or watch is abandoned; late events of older ones are ignored. */
  #generation = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #watcher: Watcher | undefined;
  #closed = false;

  /** @param settings what to watch and who to tell; nothing happens before {@link RangeWatch.start} */
  constructor(settings: RangeWatchSettings) {
    this.#settings = settings;
    this.#initialDelay = settings.initialDelay ?? 200;
    this.#maxDelay = settings.maxDelay ?? 3000;
  }

  /** Starts: the first read happens now. */
  start(): void {
    void this.#sync();
  }

  /** Stops: no more handler calls; the watch is cancelled (waiting at most one second). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    clearTimeout(this.#timer);
    const watcher = this.#watcher;
    this.#watcher = undefined;
    if (watcher) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        watcher.cancel().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 1000);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    }
  }

  async #sync(): Promise<void> {
    if (this.#closed) return;
    const generation = ++this.#generation;
    this.#dropWatcher();
    const { client, prefix, key, handlers } = this.#settings;
    let kvs: IKeyValue[];
    let revision: bigint;
    try {
      const response = prefix !== undefined ? await client.getAll().prefix(prefix).exec() : await client.get(key!).exec();
      kvs = response.kvs;
      revision = BigInt(response.header.revision);
    } catch (error) {
      if (this.#closed || generation !== this.#generation) return;
      this.#retry(error, 'read');
      return;
    }
    if (this.#closed || generation !== this.#generation) return;
    this.#failures = 0;
    guard(() => handlers.snapshot(kvs, revision));
    this.#watch(revision + 1n, generation);
  }

  #watch(from: bigint, generation: number): void {
    const { client, prefix, key, handlers } = this.#settings;
    const builder = client.watch();
    if (prefix !== undefined) builder.prefix(prefix);
    else builder.key(key!);
    // `watcher()` rather than `create()`: listeners are attached before anything can be
    // emitted, so neither a 'disconnected' before the first 'connected' nor an 'error'
    // (an unhandled 'error' event would throw) can slip by.
    const watcher = builder.startRevision(from.toString()).watcher();
    this.#watcher = watcher;
    const live = (): boolean => !this.#closed && generation === this.#generation;
    // A watch that never gets established would leave the view silently stale (etcd3
    // 1.x can wedge its attach queue after etcd cancels a watch at creation, e.g. for a
    // compacted revision): after a while, say so and start over.
    const watchdog = setTimeout(() => {
      if (live()) this.#retry(new Error(`the watch was not established within ${CONNECT_TIMEOUT / 1000} s`), 'watch');
    }, CONNECT_TIMEOUT);
    watchdog.unref();
    watcher.once('connected', () => clearTimeout(watchdog));
    watcher.on('put', (kv) => {
      if (live()) guard(() => handlers.put(kv));
    });
    watcher.on('delete', (kv) => {
      if (live()) guard(() => handlers.delete(kv));
    });
    watcher.on('disconnected', (error) => {
      if (live()) this.#retry(error, 'watch');
    });
    // Etcd cancelled the watch: typically "required revision has been compacted".
    watcher.on('error', (error) => {
      if (live()) this.#retry(error, 'watch');
    });
  }

  /** Abandons the current read or watch and schedules a fresh read. */
  #retry(error: unknown, what: 'read' | 'watch'): void {
    this.#generation++;
    this.#dropWatcher();
    // A lost watch is retried at once the first time: usually another member answers.
    const delay = what === 'watch' && this.#failures === 0 ? 0 : retryDelay(this.#failures, this.#initialDelay, this.#maxDelay);
    this.#failures++;
    guard(() => this.#settings.handlers.trouble(error, delay, what));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#sync();
    }, delay);
    this.#timer.unref();
  }

  #dropWatcher(): void {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    // Its listeners stay (guarded by the generation), so a late 'error' has a listener.
    // Not awaited: cancelling a watcher on a broken stream settles only on reconnect.
    if (watcher) watcher.cancel().catch(() => undefined);
  }
}

/**
 * Runs a handler so that a bug in it can neither crash the process (the etcd3 client
 * rethrows listener errors asynchronously) nor stop the watch: it becomes a process warning.
 */
function guard(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.emitWarning(`@proxyless/etcd: a watch handler threw (the watch goes on): ${text}`, 'ProxylessEtcdWarning');
  }
}
