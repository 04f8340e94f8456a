import { EventEmitter } from 'node:events';
import { extname, join, resolve } from 'node:path';
import { InvalidConfigError, SourceClosedError, type ConfigDiagnostic } from '../core/errors/index.js';
import { emitSafely } from '../core/emit-safely.js';
import { FileWatcher, readSnapshotSync, snapshotKey, type FileSnapshot, type SnapshotVerdict } from '../core/file-watcher.js';
import type { ConfigSource } from './types.js';
import { declaresNoResources } from './empty-config.js';
import { YamlDocumentCache } from './yaml-document-cache.js';

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const isConfigFile = (name: string): boolean => CONFIG_EXTENSIONS.has(extname(name));

/** One parsed document and where it came from (`mesh.yaml#2`). */
export interface LocatedResource {
  readonly resource: unknown;
  readonly origin: string;
}

/** Timings of a {@link FileConfigSource}; the defaults suit people and deploy tools editing files. */
export interface FileConfigTimings {
  /** Quiet time after a change before reading, and between the two reads that must agree, in ms. Default 50. */
  readonly debounce?: number;
  /** How long a version that looks half-written must stay unchanged to be used, in ms. Default 1000. */
  readonly settle?: number;
  /** How often the directory's identity is checked (removed, recreated), in ms. Default 1000. */
  readonly recheckInterval?: number;
}

/** What one read of the path gave. */
interface Loaded {
  readonly kind: 'file' | 'directory';
  readonly resources: LocatedResource[];
  /** Some file holds the empty-list marker. */
  readonly declaredEmpty: boolean;
  /** Files whose text does not end with a line break. */
  readonly unterminated: readonly string[];
}

/**
 * Mesh config from a YAML/JSON file, or from every `.yaml`, `.yml` and `.json` file of a
 * directory (in name order), watched for changes. The first load is synchronous
 * ({@link FileConfigSource.loadNow}), so `createMesh` can report a bad file at once;
 * later edits are delivered to the watcher, and a bad edit is reported as an `error`
 * event while the mesh keeps its last good config.
 *
 * Edits are followed with the shared file watcher (see `FileWatcher`): the directory is
 * watched, versions are read twice, and a directory removed and created again is
 * watched afresh. A version that may be half-written (it does not end with a line break,
 * does not parse, is missing, or has less than half the resources of the last one) is
 * used only once it has stayed unchanged for `settle` ms.
 *
 * **An emptied file is not "no config".** A version with no resources at all (an empty
 * or comments-only file, a directory with no config files, the file replaced by an empty
 * directory) after one that had resources is refused with an `error`, unless a file
 * says so explicitly with Kubernetes' empty list (`EMPTY_CONFIG_MARKER`):
 * `apiVersion: v1`, `kind: List`, `items: []`. A truncating writer produces an empty
 * file; it never produces that document by accident.
 *
 * Reloads parse only the documents whose text changed ({@link YamlDocumentCache}).
 */
export class FileConfigSource extends EventEmitter implements ConfigSource {
  /** `file(<path>)`. */
  readonly name: string;
  readonly #path: string;
  readonly #timings: Required<FileConfigTimings>;
  readonly #listeners = new Set<(resources: readonly unknown[]) => void>();
  /** A document cache per file (a directory has several). */
  #parsers = new Map<string, YamlDocumentCache>();
  #watcher: FileWatcher | undefined;
  #kind: 'file' | 'directory' | undefined;
  #last: LocatedResource[] = [];
  /** The snapshot key of the last version used. */
  #lastKey: string | undefined;
  #held: string | undefined;
  #closed = false;

  /** @param path a file or a directory; @param timings see {@link FileConfigTimings} */
  constructor(path: string, timings: FileConfigTimings = {}) {
    super();
    this.#path = resolve(path);
    this.name = `file(${path})`;
    this.#timings = { debounce: timings.debounce ?? 50, settle: timings.settle ?? 1000, recheckInterval: timings.recheckInterval ?? 1000 };
  }

  /** Reads and parses now; throws {@link InvalidConfigError} naming file, line and column. */
  loadNow(): LocatedResource[] {
    const snapshot = readSnapshotSync(this.#path, isConfigFile);
    const loaded = this.#load(snapshot);
    this.#use(loaded, snapshot);
    return loaded.resources;
  }

  /** The resources of the last successful load, with their origins. */
  get located(): readonly LocatedResource[] {
    return this.#last;
  }

  /** A version read but not used yet, and why; undefined when none. */
  get held(): string | undefined {
    return this.#held;
  }

  /**
   * Watches the file or directory; each good change calls `listener` with the
   * resources. Throws `SourceClosedError` after `close()`.
   */
  watch(listener: (resources: readonly unknown[]) => void): { close(): void } {
    if (this.#closed) throw new SourceClosedError(this.name, 'watch its file');
    this.#listeners.add(listener);
    if (!this.#watcher) {
      this.#watcher = new FileWatcher(
        { path: this.#path, include: isConfigFile, known: this.#lastKey, ...this.#timings },
        {
          change: (snapshot, confirmed) => this.#onVersion(snapshot, confirmed),
          error: (error) => this.#report(error),
        },
      );
      this.#watcher.start();
    }
    return {
      close: () => {
        this.#listeners.delete(listener);
        if (this.#listeners.size === 0) this.#stopWatching();
      },
    };
  }

  /** Loaded synchronously at construction by the mesh, so always ready. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Stops watching. Safe to call twice. */
  close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    this.#stopWatching();
    return Promise.resolve();
  }

  #stopWatching(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  /** A new version from the watcher: used, held for confirmation, or refused with an error. */
  #onVersion(snapshot: FileSnapshot, confirmed: boolean): SnapshotVerdict {
    if (this.#closed) return 'done';
    this.#held = undefined;
    const hold = (why: string): 'suspect' => {
      this.#held = `${why}: used if unchanged after ${this.#timings.settle} ms`;
      return 'suspect';
    };
    if (snapshot.kind === 'missing' && !confirmed) return hold('it is missing (a writer may be replacing it)');
    let loaded: Loaded;
    try {
      loaded = this.#load(snapshot);
    } catch (error) {
      if (!confirmed && error instanceof InvalidConfigError && snapshot.kind !== 'unreadable') return hold('it does not parse (a write may be under way)');
      this.#report(this.#keeping(error as Error));
      return 'done';
    }
    const kept = this.#last.length;
    if (this.#kind !== undefined && loaded.kind !== this.#kind) {
      this.#report(this.#keeping(new InvalidConfigError([`${this.#path}: was a ${this.#kind}, is now a ${loaded.kind} (expected: the same kind as when the mesh started)`])));
      return 'done';
    }
    if (loaded.resources.length === 0 && kept > 0 && !loaded.declaredEmpty) {
      if (!confirmed) return hold('it has no resources');
      const what = loaded.kind === 'file' ? 'is empty (no resources)' : 'has no config file with resources';
      this.#report(
        this.#keeping(
          new InvalidConfigError([
            `${this.#path}: ${what}, where the config in force has ${kept}. An emptied file is taken for a failed write, not for ` +
              `"no config"; to remove every resource on purpose, write Kubernetes' empty list: apiVersion: v1, kind: List, items: []`,
          ]),
        ),
      );
      return 'done';
    }
    if (!confirmed) {
      if (loaded.unterminated.length > 0) return hold(`${loaded.unterminated.join(', ')} does not end with a line break (a write may be under way)`);
      if (kept >= 2 && loaded.resources.length * 2 < kept) return hold(`it has ${loaded.resources.length} of the ${kept} resources in force`);
    }
    this.#use(loaded, snapshot);
    const resources = loaded.resources.map((r) => r.resource);
    for (const listener of [...this.#listeners]) {
      try {
        listener(resources);
      } catch (error) {
        this.#report(error as Error);
      }
    }
    return 'done';
  }

  #use(loaded: Loaded, snapshot: FileSnapshot): void {
    this.#kind = loaded.kind;
    this.#last = loaded.resources;
    this.#lastKey = snapshotKey(snapshot);
  }

  /** Parses a snapshot; throws {@link InvalidConfigError} with every problem of every file. */
  #load(snapshot: FileSnapshot): Loaded {
    if (snapshot.kind === 'missing') {
      throw new InvalidConfigError([`${this.#path}: no such file or directory (config: expected a YAML/JSON file or a directory of them)`]);
    }
    if (snapshot.kind === 'unreadable') {
      throw new InvalidConfigError([`${this.#path}: cannot be read (${snapshot.error.message})`]);
    }
    const files: Array<[string, string]> =
      snapshot.kind === 'file' ? [[this.#path, snapshot.text]] : [...snapshot.files].map(([name, text]) => [join(this.#path, name), text]);
    const parsers = new Map<string, YamlDocumentCache>();
    const resources: LocatedResource[] = [];
    const problems: (string | ConfigDiagnostic)[] = [];
    const unterminated: string[] = [];
    let declaredEmpty = false;
    for (const [file, text] of files) {
      const parser = this.#parsers.get(file) ?? new YamlDocumentCache();
      parsers.set(file, parser);
      try {
        const parsed = parser.parse(text, file);
        parsed.forEach((resource, index) => resources.push({ resource, origin: `${file}#${index + 1}` }));
        if (parsed.length === 0 && declaresNoResources(text)) declaredEmpty = true;
        if (text.length > 0 && !text.endsWith('\n')) unterminated.push(file);
      } catch (error) {
        if (error instanceof InvalidConfigError) problems.push(...error.diagnostics.filter((d) => d.severity === 'error'));
        else problems.push(`${file}: ${(error as Error).message}`);
      }
    }
    if (problems.length > 0) throw new InvalidConfigError(problems);
    this.#parsers = parsers;
    return { kind: snapshot.kind, resources, declaredEmpty, unterminated };
  }

  /** An error as reported on reload: it says the last good config stays. */
  #keeping(error: Error): Error {
    if (!(error instanceof InvalidConfigError)) return error;
    const kept = this.#last.length;
    return new InvalidConfigError([...error.diagnostics.filter((d) => d.severity === 'error'), `(${this.name}: keeping the last good version, ${kept} resource${kept === 1 ? '' : 's'})`]);
  }

  #report(error: Error): void {
    if (this.listenerCount('error') > 0) emitSafely(this, 'error', error);
  }
}
