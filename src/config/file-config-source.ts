import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { InvalidConfigError } from '../core/errors.js';
import { parseMeshYaml } from './parse-mesh-yaml.js';
import type { ConfigSource } from './types.js';

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const DEBOUNCE_MS = 50;

/** One parsed document and where it came from (`mesh.yaml#2`). */
export interface LocatedResource {
  readonly resource: unknown;
  readonly origin: string;
}

/**
 * Mesh config from a YAML/JSON file, or from every `.yaml`, `.yml` and `.json` file of a
 * directory (in name order), watched for changes. The first load is synchronous
 * ({@link FileConfigSource.loadNow}), so `createMesh` can report a bad file at once;
 * later edits are delivered to the watcher, and a bad edit is reported as an `error`
 * event while the mesh keeps its last good config.
 */
export class FileConfigSource extends EventEmitter implements ConfigSource {
  /** `file(<path>)`. */
  readonly name: string;
  readonly #path: string;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #listener: ((resources: readonly unknown[]) => void) | undefined;
  #last: LocatedResource[] = [];

  /** @param path a file or a directory */
  constructor(path: string) {
    super();
    this.#path = resolve(path);
    this.name = `file(${path})`;
  }

  /** Reads and parses now; throws {@link InvalidConfigError} naming file, line and column. */
  loadNow(): LocatedResource[] {
    let stat;
    try {
      stat = statSync(this.#path);
    } catch {
      throw new InvalidConfigError([`${this.#path}: no such file or directory (config: expected a YAML/JSON file or a directory of them)`]);
    }
    const files = stat.isDirectory()
      ? readdirSync(this.#path)
          .filter((f) => CONFIG_EXTENSIONS.has(extname(f)))
          .sort()
          .map((f) => join(this.#path, f))
      : [this.#path];
    const out: LocatedResource[] = [];
    const problems: string[] = [];
    for (const file of files) {
      try {
        const resources = parseMeshYaml(readFileSync(file, 'utf8'), file);
        resources.forEach((resource, index) => out.push({ resource, origin: `${file}#${index + 1}` }));
      } catch (error) {
        if (error instanceof InvalidConfigError) problems.push(...error.problems);
        else problems.push(`${file}: ${(error as Error).message}`);
      }
    }
    if (problems.length > 0) throw new InvalidConfigError(problems);
    this.#last = out;
    return out;
  }

  /** The resources of the last successful load, with their origins. */
  get located(): readonly LocatedResource[] {
    return this.#last;
  }

  /** Watches the file or directory; each good change calls `listener` with the resources. */
  watch(listener: (resources: readonly unknown[]) => void): { close(): void } {
    this.#listener = listener;
    const isDirectory = statSync(this.#path, { throwIfNoEntry: false })?.isDirectory() ?? false;
    // Watch the directory even for a file: editors replace files by rename.
    const directory = isDirectory ? this.#path : dirname(this.#path);
    const name = basename(this.#path);
    this.#watcher = watch(directory, (_event, changed) => {
      if (!isDirectory && changed !== null && changed !== name) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#reload(), DEBOUNCE_MS);
    });
    this.#watcher.on('error', (error) => this.#report(error));
    return { close: () => void this.close() };
  }

  /** Loaded synchronously at construction by the mesh, so always ready. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Stops watching. */
  close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
    return Promise.resolve();
  }

  #reload(): void {
    try {
      const resources = this.loadNow();
      this.#listener?.(resources.map((r) => r.resource));
    } catch (error) {
      this.#report(error as Error);
    }
  }

  #report(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}
