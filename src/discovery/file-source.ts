import { basename, dirname, resolve } from 'node:path';
import { InvalidOptionError, ProxylessError } from '../core/errors/index.js';
import { FileWatcher, type FileSnapshot, type SnapshotVerdict } from '../core/file-watcher.js';
import { CatalogSource } from './catalog-source.js';
import { parseEndpointsFile } from './internal-endpoints-file.js';
import type { DiscoverySourceState, Endpoint } from './types.js';

/** Options for {@link file}. */
export interface FileSourceOptions {
  /**
   * How long the file must stay quiet after a change before it is read, in ms; it is
   * then read a second time this much later and used only if both reads agree. Editors
   * and deploy tools often write a file in several steps; reading once they are done
   * avoids loading half a file. Default 100.
   */
  debounce?: number;
  /**
   * How often to check that the file's directory is still the one watched (removed and
   * created again, replaced) and, while it is missing, to look for it, in ms. Default 1000.
   */
  retryInterval?: number;
  /**
   * How long a version that looks half-written must stay unchanged before it is used,
   * in ms: one that does not end with a line break, does not parse, or drops more than
   * half of the services or endpoints in force. Default 1000.
   */
  settle?: number;
}

/** What {@link FileEndpointsSource.state} shows: the common state and what is held back. */
export interface FileSourceState extends DiscoverySourceState {
  /**
   * A version read but not used yet, and why, e.g. `it does not end with a line break
   * (a write may be under way): used if unchanged after 1000 ms`; undefined when none.
   */
  readonly held: string | undefined;
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
  readonly #settle: number;
  readonly #watcher: FileWatcher;
  #held: string | undefined;
  #closed = false;

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
      if (key !== 'debounce' && key !== 'retryInterval' && key !== 'settle') {
        problems.push(`${key}: unknown field (expected one of: debounce, retryInterval, settle)`);
      }
    }
    const { debounce = 100, retryInterval = 1000, settle = 1000 } = options;
    if (!Number.isInteger(debounce) || debounce < 0 || debounce > 60_000) {
      problems.push(`debounce: ${JSON.stringify(debounce)} (expected: a whole number of milliseconds from 0 to 60000)`);
    }
    if (!Number.isInteger(retryInterval) || retryInterval < 10 || retryInterval > 3_600_000) {
      problems.push(`retryInterval: ${JSON.stringify(retryInterval)} (expected: a whole number of milliseconds from 10 to 3600000)`);
    }
    if (!Number.isInteger(settle) || settle < 0 || settle > 600_000) {
      problems.push(`settle: ${JSON.stringify(settle)} (expected: a whole number of milliseconds from 0 to 600000)`);
    }
    if (problems.length > 0) throw new InvalidOptionError('file', problems);
    this.path = path;
    this.name = `file(${path})`;
    this.#absolute = resolve(path);
    this.#directory = dirname(this.#absolute);
    this.#settle = settle;
    this.#watcher = new FileWatcher(
      { path: this.#absolute, debounce, settle, recheckInterval: retryInterval },
      {
        change: (snapshot, confirmed) => this.#onVersion(snapshot, confirmed),
        error: (error) => this.reportError(this.#error(`cannot be watched (${error.message})`, [], error)),
      },
    );
    this.#watcher.start();
  }

  /** See {@link DiscoverySource.state}; adds the version held back, if any. */
  override state(): FileSourceState {
    return { ...super.state(), held: this.#held };
  }

  /** Stops watching the file; no more updates. */
  override close(): Promise<void> {
    this.#closed = true;
    this.#watcher.close();
    return super.close();
  }

  /**
   * A new version of the file (read the same twice). Before the first good load every
   * version is used or reported at once; after it, a version that may be half-written
   * is held until it has stayed unchanged for `settle` ms (see {@link FileSourceOptions.settle}).
   */
  #onVersion(snapshot: FileSnapshot, confirmed: boolean): SnapshotVerdict {
    if (this.#closed) return 'done';
    const guarded = this.state().ready && !confirmed;
    this.#held = undefined;
    if (snapshot.kind !== 'file') {
      if (guarded && snapshot.kind === 'missing') return this.#hold('it is missing (a writer may be replacing it)');
      const summary =
        snapshot.kind === 'missing' ? 'does not exist' : snapshot.kind === 'directory' ? 'is a directory' : `cannot be read (${snapshot.error.message})`;
      this.reportError(this.#error(summary, [], snapshot.kind === 'unreadable' ? snapshot.error : undefined));
      return 'done';
    }
    const text = snapshot.text;
    const result = parseEndpointsFile(text, this.path);
    if (!result.ok) {
      if (guarded) return this.#hold('it does not parse (a write may be under way)');
      this.reportError(this.#error('is invalid', result.problems));
      return 'done';
    }
    if (guarded) {
      if (!text.endsWith('\n')) return this.#hold('it does not end with a line break (a write may be under way)');
      const shrink = this.#bigShrink(result.catalog);
      if (shrink) return this.#hold(shrink);
    }
    this.replaceCatalog(result.catalog);
    this.markReady();
    return 'done';
  }

  #hold(why: string): 'suspect' {
    this.#held = `${why}: used if unchanged after ${this.#settle} ms`;
    this.emit('held', this.#held);
    return 'suspect';
  }

  /** Why `next` looks like a cut-off file: it loses more than half the services or endpoints in force. */
  #bigShrink(next: ReadonlyMap<string, readonly Endpoint[]>): string | undefined {
    const { services, endpoints } = this.state();
    let nextEndpoints = 0;
    for (const list of next.values()) nextEndpoints += list.length;
    if (services >= 2 && next.size * 2 < services) return `it has ${next.size} of the ${services} services in force`;
    if (endpoints >= 2 && nextEndpoints * 2 < endpoints) return `it has ${nextEndpoints} of the ${endpoints} endpoints in force`;
    return undefined;
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
 *   Kubernetes ConfigMap volumes) is seen, and so is a file deleted and created again,
 *   or its directory removed and created again. Changes are read once the file has been
 *   quiet for `debounce` ms, and used once a second read agrees.
 * - Half-written versions are held back: once the source has a good set, a version that
 *   does not end with a line break, does not parse, is missing, or drops more than half
 *   the services or endpoints is used (or reported) only if it stays unchanged for
 *   `settle` ms; `state().held` says why one is waiting, and a `held` event (with that reason) fires each time a version is held. The safe way to write the file
 *   is still to write a temporary file in the same directory and rename it over this one.
 * - An invalid version (bad YAML, wrong shape, bad endpoint) or a missing file changes
 *   nothing: the last good set keeps serving and an {@link EndpointsFileError} is
 *   emitted as `error`, with `path:line:column` for every problem.
 * - `ready()` resolves after the first successful load. If the file is missing or
 *   invalid at start, `ready()` stays pending and an error is emitted for each version
 *   seen, until a valid one appears; requests for its services wait up to the mesh's
 *   `discoveryTimeout` meanwhile.
 * - An empty file is invalid (a half-written file must not drop every endpoint); write
 *   `{}` for "no services".
 * - `close()` stops watching; after it `watch()` throws and a pending `ready()` rejects
 *   with `SourceClosedError`.
 *
 * @param path the file, absolute or relative to the working directory
 * @param options see {@link FileSourceOptions}
 */
export function file(path: string, options?: FileSourceOptions): FileEndpointsSource {
  return new FileEndpointsSource(path, options);
}
