import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { InvalidOptionError, ProxylessError } from '../core/errors.js';
import { CatalogSource } from './catalog-source.js';
import { parseEndpointsFile } from './internal-endpoints-file.js';

/** Options for {@link file}. */
export interface FileSourceOptions {
  /**
   * How long the file must stay quiet after a change before it is read, in ms. Editors
   * and deploy tools often write a file in several steps; reading once they are done
   * avoids loading half a file. Default 100.
   */
  debounce?: number;
  /**
   * While the file's directory does not exist (so it cannot be watched yet), how often to
   * look for it again, in ms. Default 1000.
   */
  retryInterval?: number;
}

/**
 * Why an endpoints file could not be used: it is missing or unreadable, is not valid
 * YAML/JSON, or has the wrong shape or a bad endpoint. The source keeps its last good
 * set and reports this error as an `error` event (`discoveryError` on the mesh).
 */
export class EndpointsFileError extends ProxylessError {
  /** The file's path as given to {@link file}. */
  readonly path: string;
  /**
   * Every problem, one line each. Syntax and shape problems start with
   * `path:line:column:`, e.g. `endpoints.yaml:4:11: reviews[1].port: 0 (expected: an integer from 1 to 65535)`.
   */
  readonly problems: readonly string[];

  /**
   * @param path the file; @param summary what went wrong, one clause;
   * @param problems the lines; @param kept what the source does meanwhile
   */
  constructor(path: string, summary: string, problems: readonly string[], kept: string, options?: ErrorOptions) {
    super(
      'PROXYLESS_ERR_ENDPOINTS_FILE',
      `endpoints file ${path} ${summary}; ${kept}${problems.length > 0 ? `:\n  ${problems.join('\n  ')}` : ''}`,
      options,
    );
    this.path = path;
    this.problems = problems;
  }
}

/**
 * A discovery source that reads services and their endpoints from a YAML or JSON file
 * and follows its changes. Created by {@link file}.
 */
export class FileEndpointsSource extends CatalogSource {
  /** `file(<path>)`, with the path as given. */
  readonly name: string;
  /** The path as given. */
  readonly path: string;
  readonly #absolute: string;
  readonly #directory: string;
  readonly #debounce: number;
  readonly #retryInterval: number;
  #watcher: FSWatcher | undefined;
  #debounceTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #loading = false;
  #again = false;
  #closed = false;
  /** The text of the last read (good or bad), so an unchanged file is not parsed again. */
  #lastText: string | undefined;

  /** @param path the file; @param options see {@link FileSourceOptions} */
  constructor(path: string, options: FileSourceOptions = {}) {
    super();
    const problems: string[] = [];
    if (typeof path !== 'string' || path.length === 0) {
      problems.push(`path: ${JSON.stringify(path)} (expected: the path of a YAML or JSON file)`);
    }
    if (options === null || typeof options !== 'object') {
      problems.push(`options: ${JSON.stringify(options)} (expected: an object such as { debounce: 100 })`);
      options = {};
    }
    for (const key of Object.keys(options)) {
      if (key !== 'debounce' && key !== 'retryInterval') {
        problems.push(`${key}: unknown field (expected one of: debounce, retryInterval)`);
      }
    }
    const { debounce = 100, retryInterval = 1000 } = options;
    if (!Number.isInteger(debounce) || debounce < 0 || debounce > 60_000) {
      problems.push(`debounce: ${JSON.stringify(debounce)} (expected: a whole number of milliseconds from 0 to 60000)`);
    }
    if (!Number.isInteger(retryInterval) || retryInterval < 10 || retryInterval > 3_600_000) {
      problems.push(`retryInterval: ${JSON.stringify(retryInterval)} (expected: a whole number of milliseconds from 10 to 3600000)`);
    }
    if (problems.length > 0) throw new InvalidOptionError('file', problems);
    this.path = path;
    this.name = `file(${path})`;
    this.#absolute = resolve(path);
    this.#directory = dirname(this.#absolute);
    this.#debounce = debounce;
    this.#retryInterval = retryInterval;
    this.#startWatching();
    void this.#load();
  }

  /** Stops watching the file; no more updates. */
  override close(): Promise<void> {
    this.#closed = true;
    this.#stopWatching();
    clearTimeout(this.#debounceTimer);
    clearTimeout(this.#retryTimer);
    return super.close();
  }

  /**
   * Watches the directory rather than the file: editors and tools that write a new file
   * and rename it over the old one (and Kubernetes ConfigMap volumes, which swap a
   * symlink) replace the file's inode, which a watch on the file itself would lose.
   * Any event in the directory schedules a read; an unchanged file costs one read.
   */
  #startWatching(): boolean {
    if (this.#closed || this.#watcher) return true;
    try {
      // Not persistent: a discovery source must not keep the process alive by itself.
      const watcher = watch(this.#directory, { persistent: false }, () => this.#schedule());
      watcher.on('error', (error) => {
        this.#stopWatching();
        this.reportError(this.#error(`cannot be watched (${error.message})`, [], error));
        this.#retryWatching();
      });
      this.#watcher = watcher;
      return true;
    } catch (error) {
      // A missing directory is reported by the read that follows, as a missing file.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.reportError(this.#error(`cannot be watched (${(error as Error).message})`, [], error));
      }
      this.#retryWatching();
      return false;
    }
  }

  #stopWatching(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #retryWatching(): void {
    if (this.#closed || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#startWatching()) void this.#load();
    }, this.#retryInterval);
    this.#retryTimer.unref();
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounceTimer);
    this.#debounceTimer = setTimeout(() => {
      this.#debounceTimer = undefined;
      void this.#load();
    }, this.#debounce);
    this.#debounceTimer.unref();
  }

  /** Reads and applies the file; a change that arrives during a read causes one more read. */
  async #load(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return;
    }
    this.#loading = true;
    try {
      do {
        this.#again = false;
        await this.#loadOnce();
      } while (this.#again && !this.#closed);
    } finally {
      this.#loading = false;
    }
  }

  async #loadOnce(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#absolute, 'utf8');
    } catch (error) {
      if (this.#closed) return;
      this.#lastText = undefined;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && this.#watcher && !(await this.#directoryExists())) {
        // The directory went away: its watch is dead. Look for it again until it is back.
        this.#stopWatching();
        this.#retryWatching();
      }
      if (this.#closed) return;
      const summary = code === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as Error).message})`;
      this.reportError(this.#error(summary, [], error));
      return;
    }
    if (this.#closed || text === this.#lastText) return;
    this.#lastText = text;
    const result = parseEndpointsFile(text, this.path);
    if (!result.ok) {
      this.reportError(this.#error('is invalid', result.problems));
      return;
    }
    this.replaceCatalog(result.catalog);
    this.markReady();
  }

  async #directoryExists(): Promise<boolean> {
    try {
      return (await stat(this.#directory)).isDirectory();
    } catch {
      return false;
    }
  }

  #error(summary: string, problems: readonly string[], cause?: unknown): EndpointsFileError {
    const { services, ready } = this.state();
    const kept = ready
      ? `keeping the last good version (${services} service${services === 1 ? '' : 's'})`
      : `its services wait until a valid version appears (watching ${basename(this.#absolute)} in ${this.#directory})`;
    return new EndpointsFileError(this.path, summary, problems, kept, cause === undefined ? undefined : { cause });
  }
}

/**
 * A discovery source that reads services and their endpoints from a YAML or JSON file,
 * in the same shape `staticEndpoints` takes, and reloads it when it changes:
 *
 * ```yaml
 * # endpoints.yaml
 * reviews:
 *   - 127.0.0.1:9080
 *   - { address: 127.0.0.1, port: 9081, weight: 2, labels: { version: v2 } }
 * ratings.bookinfo: ["10.0.1.7:9080"]
 * ```
 *
 * ```ts
 * const mesh = createMesh({ discovery: [file('./endpoints.yaml')] });
 * ```
 *
 * - The file's directory is watched, so a file replaced by rename (editors, `mv`,
 *   Kubernetes ConfigMap volumes) is seen, and so is a file deleted and created again.
 *   Changes are read once the file has been quiet for `debounce` ms.
 * - An invalid version (bad YAML, wrong shape, bad endpoint) or a missing file changes
 *   nothing: the last good set keeps serving and an {@link EndpointsFileError} is
 *   emitted as `error`, with `path:line:column` for every problem.
 * - `ready()` resolves after the first successful load. If the file is missing or
 *   invalid at start, `ready()` stays pending and an error is emitted for each version
 *   seen, until a valid one appears; requests for its services wait up to the mesh's
 *   `discoveryTimeout` meanwhile.
 * - An empty file is invalid (a half-written file must not drop every endpoint); write
 *   `{}` for "no services".
 * - `close()` stops watching.
 *
 * @param path the file, absolute or relative to the working directory
 * @param options see {@link FileSourceOptions}
 */
export function file(path: string, options?: FileSourceOptions): FileEndpointsSource {
  return new FileEndpointsSource(path, options);
}
