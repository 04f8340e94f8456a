import { EventEmitter } from 'node:events';
import type { IKeyValue } from 'etcd3';
import { parseMeshYaml, type ConfigSource } from 'proxyless';
import { EtcdUnavailableError, errorText } from './errors.js';
import { checkOptions, connect, show, throwIfProblems, type Connection, type EtcdConnectionOptions } from './internal-options.js';
import { RangeWatch } from './internal-range-watch.js';

/** Options for {@link etcdConfig}. */
export interface EtcdConfigOptions extends EtcdConnectionOptions {
  /** The key holding the mesh config (YAML, any number of `---` documents), e.g. `/mesh/config`. */
  key: string;
}

/**
 * Mesh config (Istio resources as YAML) read from one etcd key and followed with a
 * watch. Created by {@link etcdConfig}.
 */
export class EtcdConfigSource extends EventEmitter implements ConfigSource {
  /** `etcd(<key>)`, e.g. `etcd(/mesh/config)`. */
  readonly name: string;
  /** The key. */
  readonly key: string;
  readonly #connection: Connection;
  readonly #watch: RangeWatch;
  readonly #listeners = new Set<(resources: readonly unknown[]) => void>();
  /** The last good resources, once loaded. */
  #resources: readonly unknown[] | undefined;
  /** Revision of the value last handled (good or bad), `0` for "no key": unchanged values are skipped. */
  #handledRevision: string | undefined;
  #lastError: Error | undefined;
  readonly #ready: Promise<void>;
  #resolveReady!: () => void;
  #closed = false;

  /** @param options see {@link EtcdConfigOptions} */
  constructor(options: EtcdConfigOptions) {
    super();
    const problems: string[] = [];
    const record = checkOptions(options, ['key'], `{ endpoints: ["http://127.0.0.1:2379"], key: "/mesh/config" }`, problems);
    const key = record?.key;
    if (typeof key !== 'string' || key.length === 0 || /\s/.test(key)) {
      problems.push(`key: ${show(key)} (expected: an etcd key such as "/mesh/config")`);
    }
    throwIfProblems('etcdConfig', problems);
    this.key = key as string;
    this.name = `etcd(${this.key})`;
    this.#ready = new Promise((resolve) => {
      this.#resolveReady = resolve;
    });
    this.#connection = connect(options);
    this.#watch = new RangeWatch({
      client: this.#connection.client,
      key: this.key,
      handlers: {
        snapshot: (kvs) => this.#apply(kvs[0]),
        put: (kv) => this.#apply(kv),
        delete: () => this.#apply(undefined),
        trouble: (error, retryInMs, what) => {
          const doing = this.#resources ? 'keeping the last good config' : 'no config from it yet';
          const action = what === 'read' ? 'cannot read' : 'lost the watch on';
          this.#report(
            new EtcdUnavailableError(
              `${this.name}: ${action} ${this.key} from etcd (${this.#connection.description}): ${errorText(error)}; ` +
                `${doing}; reading again in ${retryInMs} ms`,
              this.#connection.endpoints,
              error,
            ),
          );
        },
      },
    });
    this.#watch.start();
  }

  /** The last error met (also emitted as `error` when someone listens). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /**
   * Delivers the resources now if they are loaded (synchronously), else once they are,
   * and again after every change of the key. A deleted or absent key delivers `[]`.
   */
  watch(listener: (resources: readonly unknown[]) => void): {
    /** Stops deliveries to this listener. */
    close(): void;
  } {
    if (this.#closed) return { close: () => {} };
    this.#listeners.add(listener);
    if (this.#resources) listener(this.#resources);
    return { close: () => void this.#listeners.delete(listener) };
  }

  /** Resolves once the key was first read and parsed (an absent key counts: no resources). */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Stops watching and closes the client it created (not one passed in). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await this.#watch.close();
    if (this.#connection.owned) this.#connection.client.close();
  }

  #apply(kv: IKeyValue | undefined): void {
    const revision = kv?.mod_revision ?? '0';
    if (revision === this.#handledRevision) return; // a resync found what we have
    this.#handledRevision = revision;
    let resources: unknown[];
    try {
      resources = kv ? parseMeshYaml(kv.value.toString(), `etcd:${this.key}`) : [];
    } catch (error) {
      // InvalidConfigError names etcd:<key>:line:column for each problem.
      this.#report(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.#resources = Object.freeze(resources);
    this.#resolveReady();
    for (const listener of [...this.#listeners]) {
      try {
        listener(this.#resources);
      } catch (error) {
        this.#report(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  #report(error: Error): void {
    this.#lastError = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/**
 * A `ConfigSource` (from `proxyless`) reading mesh config from one etcd key, for `createMesh`'s config
 * sources:
 *
 * ```ts
 * import { etcdConfig } from '@proxyless/etcd';
 *
 * const config = etcdConfig({ endpoints: ['http://127.0.0.1:2379'], key: '/mesh/config' });
 * config.on('error', (error) => console.warn(error.message));
 * config.watch((resources) => console.log(`${resources.length} resources`));
 * // etcdctl put /mesh/config "$(cat mesh.yaml)"
 * ```
 *
 * The value is mesh YAML as `parseMeshYaml` reads it (several `---` documents, JSON too).
 * Each change delivers the whole parsed set; text that does not parse emits an
 * `InvalidConfigError` naming `etcd:<key>:line:column` and the last good set stays. An
 * absent or deleted key means no resources (`[]`). The source only parses; validating the
 * resources is the mesh's job. While etcd cannot be reached, errors are emitted and the
 * last set stays; a fresh read follows when etcd is back.
 *
 * @param options the etcd client URLs (or a client) and the key
 */
export function etcdConfig(options: EtcdConfigOptions): EtcdConfigSource {
  return new EtcdConfigSource(options);
}
