import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** What a {@link FileWatcher} read: a file's text, a directory's files, or why there is nothing. */
export type FileSnapshot =
  /** The path is a file; its text (UTF-8). */
  | { readonly kind: 'file'; readonly text: string }
  /** The path is a directory; the files `include` accepts, by name, in name order. */
  | { readonly kind: 'directory'; readonly files: ReadonlyMap<string, string> }
  /** Nothing at the path (or its directory is gone). */
  | { readonly kind: 'missing' }
  /** It cannot be read (permissions, a symlink loop, ...). */
  | { readonly kind: 'unreadable'; readonly error: Error };

/** What the consumer makes of a snapshot: done with it, or wants it confirmed. */
export type SnapshotVerdict = 'done' | 'suspect';

/** Options of {@link FileWatcher}. */
export interface FileWatcherOptions {
  /** The file or directory followed (absolute). */
  readonly path: string;
  /** Quiet time after a change before reading, and the gap between the two reads that must agree, in ms. */
  readonly debounce: number;
  /** How long a version the consumer finds suspect must stay unchanged to be delivered again as confirmed, in ms. */
  readonly settle: number;
  /**
   * How often to check that the watched directory is still the one being watched (it may
   * have been removed, recreated or replaced, which kills an `fs.watch`), and to look for
   * it while it is missing, in ms.
   */
  readonly recheckInterval: number;
  /** For a directory: the entries that count (e.g. by extension). Default: every file. */
  readonly include?: (name: string) => boolean;
  /** The most bytes read (a file, or a directory's files together). Default {@link MAX_FILE_BYTES}. */
  readonly maxBytes?: number;
  /**
   * A version the consumer already has (see {@link snapshotKey}), so the first read of an
   * unchanged path delivers nothing.
   */
  readonly known?: string;
}

/** The consumer's side of a {@link FileWatcher}. */
export interface FileWatcherHandlers {
  /**
   * A version of the path that read the same twice, `debounce` ms apart, and differs from
   * the last one delivered. Return `'suspect'` (it may be half-written: no final line
   * break, a parse error, much less than before) to have it read again after `settle` ms
   * and delivered once more with `confirmed` true if still unchanged; a change meanwhile
   * starts over with the new version. Return `'done'` (or nothing) otherwise.
   */
  change(snapshot: FileSnapshot, confirmed: boolean): SnapshotVerdict | void;
  /** A problem of the watch itself (not of the content), e.g. `fs.watch` failing. */
  error(error: Error): void;
}

/** Default bound on what one read takes in: far above any config or endpoints file, below what hurts a process. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Thrown (and turned into an `unreadable` snapshot) when a read would exceed `maxBytes`. */
class TooLargeError extends Error {
  readonly code = 'EFBIG';
  constructor(path: string, bytes: number, max: number) {
    super(`${path} holds ${bytes} bytes (expected: at most ${max}; is it the right file?)`);
  }
}

/** Counts the bytes of one read against the bound. */
function budget(max: number): (path: string, size: number) => void {
  let used = 0;
  return (path, size) => {
    used += size;
    if (used > max) throw new TooLargeError(path, used, max);
  };
}

/** A string that is equal for two snapshots exactly when their content is. */
export function snapshotKey(snapshot: FileSnapshot): string {
  switch (snapshot.kind) {
    case 'file':
      return `f\0${snapshot.text}`;
    case 'directory': {
      let key = 'd';
      for (const [name, text] of snapshot.files) key += `\0${name}\0${text.length}\0${text}`;
      return key;
    }
    case 'missing':
      return 'm';
    case 'unreadable':
      return `u\0${snapshot.error.message}`;
  }
}

/**
 * Follows a file or a directory of files and delivers each new, complete version: the
 * one place that knows how files change under a program.
 *
 * - **The directory is watched**, not the file: editors, `mv` and Kubernetes ConfigMap
 *   volumes replace a file by renaming another over it (or swapping a symlink), which a
 *   watch on the file itself would lose. Any event schedules a read; an unchanged version
 *   is not delivered again.
 * - **Debounced and read twice**: a version is read once the path has been quiet for
 *   `debounce` ms, then again `debounce` ms later; only two equal reads count, so a
 *   writer still writing is waited for.
 * - **Confirmation of suspect versions**: a writer that truncates and then writes, or
 *   pauses mid-write for longer than `debounce`, leaves a version that reads the same
 *   twice and is still incomplete. The consumer, which knows the format, can call it
 *   suspect; it is delivered again, confirmed, only after staying unchanged for
 *   `settle` ms.
 * - **Directories that come and go**: a missing directory is looked for every
 *   `recheckInterval` ms; a directory removed and created again, or replaced, is
 *   noticed by the same check (its identity changed) and watched afresh.
 *
 * Timers are unref'd and the watch is not persistent: following a file never keeps a
 * process alive. The safe way to write a followed file is still to write a temporary file
 * next to it and rename it over the old one (atomic on POSIX file systems).
 */
export class FileWatcher {
  readonly #options: FileWatcherOptions;
  readonly #handlers: FileWatcherHandlers;
  /** The directory whose events matter: the path itself when it is a directory, else its parent. */
  #watchedDirectory: string | undefined;
  #watcher: FSWatcher | undefined;
  /** The watched directory's identity when the watch began (see `directoryIdentity`). */
  #identity: string | undefined;
  #debounceTimer: NodeJS.Timeout | undefined;
  #settleTimer: NodeJS.Timeout | undefined;
  #recheckTimer: NodeJS.Timeout | undefined;
  #lastKey: string | undefined;
  /** The suspect version waiting for confirmation, if any. */
  #suspect: { key: string; snapshot: FileSnapshot } | undefined;
  #reading = false;
  #again = false;
  #closed = false;
  /** The last watch failure reported, so a failure that persists is reported once, not every recheck. */
  #lastWatchError: string | undefined;

  /** @param options see {@link FileWatcherOptions}; @param handlers see {@link FileWatcherHandlers} */
  constructor(options: FileWatcherOptions, handlers: FileWatcherHandlers) {
    this.#options = options;
    this.#handlers = handlers;
    this.#lastKey = options.known;
  }

  /** Starts watching and reads the path once (delivered unless it is the `known` version). */
  start(): void {
    if (this.#closed) return;
    void this.#startWatching().then(() => this.#read());
    this.#recheckTimer = setInterval(() => void this.#recheck(), this.#options.recheckInterval);
    this.#recheckTimer.unref();
  }

  /** Stops watching; nothing is delivered after this. Safe to call twice. */
  close(): void {
    this.#closed = true;
    this.#stopWatching();
    clearTimeout(this.#debounceTimer);
    clearTimeout(this.#settleTimer);
    clearInterval(this.#recheckTimer);
    this.#suspect = undefined;
  }

  /** Watches the right directory; true when a watch is running. */
  async #startWatching(): Promise<boolean> {
    if (this.#closed) return false;
    if (this.#watcher) return true;
    const path = this.#options.path;
    const info = await stat(path).catch(() => undefined);
    const directory = info?.isDirectory() ? path : dirname(path);
    const identity = await directoryIdentity(directory);
    if (this.#closed || this.#watcher) return this.#watcher !== undefined;
    if (identity === undefined) return false; // missing: the recheck looks for it again
    try {
      const watcher = watch(directory, { persistent: false }, () => this.#schedule());
      watcher.on('error', (error) => {
        // The watch is dead (its directory went away, or the system refused it): the
        // recheck starts a new one when it can.
        this.#stopWatching();
        this.#watchFailed(error);
        this.#schedule();
      });
      this.#watcher = watcher;
      this.#watchedDirectory = directory;
      this.#identity = identity;
      this.#lastWatchError = undefined;
      return true;
    } catch (error) {
      this.#watchFailed(error as Error);
      return false;
    }
  }

  /** Reports a watch failure (a missing directory is not one), once while it lasts. */
  #watchFailed(error: Error): void {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error.message === this.#lastWatchError) return;
    this.#lastWatchError = error.message;
    this.#handlers.error(error);
  }

  #stopWatching(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#watchedDirectory = undefined;
    this.#identity = undefined;
  }

  /**
   * Every `recheckInterval`: a watch is running on the directory that is there now (not
   * one removed or replaced since), or one is started; a change of directory means its
   * content may have changed without an event, so it is read again.
   */
  async #recheck(): Promise<void> {
    if (this.#closed) return;
    const path = this.#options.path;
    const info = await stat(path).catch(() => undefined);
    const wanted = info?.isDirectory() ? path : dirname(path);
    if (this.#watcher) {
      const identity = await directoryIdentity(wanted);
      if (this.#closed) return;
      if (wanted === this.#watchedDirectory && identity === this.#identity) return;
      this.#stopWatching();
    }
    if (await this.#startWatching()) this.#schedule();
    else if (this.#lastKey !== 'm') this.#schedule(); // gone: say so once
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounceTimer);
    this.#debounceTimer = setTimeout(() => {
      this.#debounceTimer = undefined;
      void this.#read();
    }, this.#options.debounce);
    this.#debounceTimer.unref();
  }

  /** Reads until two reads agree, then delivers; a change during a read causes one more. */
  async #read(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = true;
    try {
      do {
        this.#again = false;
        await this.#readOnce();
      } while (this.#again && !this.#closed);
    } catch (error) {
      // A consumer's bug must not become an unhandled rejection of our timers.
      if (!this.#closed) this.#handlers.error(error as Error);
    } finally {
      this.#reading = false;
    }
  }

  async #readOnce(): Promise<void> {
    let snapshot = await this.#snapshot();
    if (snapshot.kind === 'missing' && this.#watchedDirectory !== undefined && (await directoryIdentity(this.#watchedDirectory)) === undefined) {
      // The watched directory is gone, and its watch with it: start afresh (now, or at a
      // recheck once it is back), so a directory created again at once is not missed.
      this.#stopWatching();
      void this.#startWatching();
    }
    let key = snapshotKey(snapshot);
    for (;;) {
      if (this.#closed) return;
      await delay(this.#options.debounce);
      if (this.#closed) return;
      const again = await this.#snapshot();
      const againKey = snapshotKey(again);
      if (againKey === key) break;
      snapshot = again;
      key = againKey;
    }
    if (this.#closed) return;
    if (this.#suspect) {
      if (this.#suspect.key === key) return; // still waiting for it to settle
      clearTimeout(this.#settleTimer);
      this.#suspect = undefined;
    }
    if (key === this.#lastKey) return;
    const verdict = this.#handlers.change(snapshot, false);
    if (this.#closed) return;
    if (verdict !== 'suspect') {
      this.#lastKey = key;
      return;
    }
    this.#suspect = { key, snapshot };
    this.#settleTimer = setTimeout(() => void this.#confirm(), this.#options.settle);
    this.#settleTimer.unref();
  }

  /** The suspect version after `settle` ms: delivered as confirmed if unchanged, else read afresh. */
  async #confirm(): Promise<void> {
    const suspect = this.#suspect;
    if (this.#closed || !suspect) return;
    const now = await this.#snapshot();
    if (this.#closed || this.#suspect !== suspect) return;
    this.#suspect = undefined;
    if (snapshotKey(now) !== suspect.key) {
      void this.#read();
      return;
    }
    this.#lastKey = suspect.key;
    try {
      this.#handlers.change(suspect.snapshot, true);
    } catch (error) {
      this.#handlers.error(error as Error);
    }
  }

  async #snapshot(): Promise<FileSnapshot> {
    const path = this.#options.path;
    const charge = budget(this.#options.maxBytes ?? MAX_FILE_BYTES);
    try {
      const info = await stat(path);
      if (!info.isDirectory()) {
        charge(path, info.size);
        return { kind: 'file', text: await readFile(path, 'utf8') };
      }
      const include = this.#options.include ?? (() => true);
      const names = (await readdir(path, { withFileTypes: true }))
        .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && include(entry.name))
        .map((entry) => entry.name)
        .sort();
      const files = new Map<string, string>();
      for (const name of names) {
        try {
          const file = join(path, name);
          charge(file, (await stat(file)).size);
          files.set(name, await readFile(file, 'utf8'));
        } catch (error) {
          // Removed between the listing and the read: the next event reads again.
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
      return { kind: 'directory', files };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
      return { kind: 'unreadable', error: error as Error };
    }
  }
}

/**
 * Reads a path the way {@link FileWatcher} does, synchronously (for a first load that
 * must report its errors at once, e.g. in `createMesh`).
 */
export function readSnapshotSync(path: string, include: (name: string) => boolean = () => true, maxBytes = MAX_FILE_BYTES): FileSnapshot {
  const charge = budget(maxBytes);
  try {
    const info = statSync(path);
    if (!info.isDirectory()) {
      charge(path, info.size);
      return { kind: 'file', text: readFileSync(path, 'utf8') };
    }
    const names = readdirSync(path, { withFileTypes: true })
      .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && include(entry.name))
      .map((entry) => entry.name)
      .sort();
    const files = new Map<string, string>();
    for (const name of names) {
      const file = join(path, name);
      charge(file, statSync(file).size);
      files.set(name, readFileSync(file, 'utf8'));
    }
    return { kind: 'directory', files };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'unreadable', error: error as Error };
  }
}

/**
 * What tells a directory from one removed and created again under the same name: its
 * device and inode, and its birth time, since file systems reuse a freed inode number at
 * once (where birth times are not kept, Node gives the change time, which only makes us
 * watch afresh more often).
 */
async function directoryIdentity(directory: string): Promise<string | undefined> {
  try {
    const info = await stat(directory);
    return info.isDirectory() ? `${info.dev}:${info.ino}:${info.birthtimeMs}` : undefined;
  } catch {
    return undefined;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
