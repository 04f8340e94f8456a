import { EventEmitter } from 'node:events';
import type { IKeyValue } from 'etcd3';
import { InvalidConfigError, SourceClosedError, type ConfigSource } from 'proxyless';
import { declaresNoResources, parseMeshYaml } from 'proxyless/config';
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
  /** Callers of `ready()` before the first read: resolved by it, rejected by `close()`. */
  #readyWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
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
   * Throws `SourceClosedError` after `close()`.
   */
  watch(listener: (resources: readonly unknown[]) => void): {
    /** Stops deliveries to this listener. */
    close(): void;
  } {
    if (this.#closed) throw new SourceClosedError(this.name, 'watch its key');
    this.#listeners.add(listener);
    if (this.#resources) listener(this.#resources);
    return { close: () => void this.#listeners.delete(listener) };
  }

  /**
   * Resolves once the key was first read and parsed (an absent key counts: no
   * resources). Rejects with `SourceClosedError` when closed before that.
   */
  ready(): Promise<void> {
    if (this.#resources) return Promise.resolve();
    if (this.#closed) return Promise.reject(new SourceClosedError(this.name, 'become ready'));
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** Stops watching and closes the client it created (not one passed in). A pending `ready()` rejects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) waiter.reject(new SourceClosedError(this.name, 'become ready'));
    await this.#watch.close();
    if (this.#connection.owned) this.#connection.client.close();
  }

  #apply(kv: IKeyValue | undefined): void {
    const revision = kv?.mod_revision ?? '0';
    if (revision === this.#handledRevision) return; // a resync found what we have
    this.#handledRevision = revision;
    let resources: unknown[];
    const text = kv?.value.toString();
    try {
      resources = text === undefined ? [] : parseMeshYaml(text, `etcd:${this.key}`);
    } catch (error) {
      // InvalidConfigError names etcd:<key>:line:column for each problem.
      this.#report(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const kept = this.#resources?.length ?? 0;
    if (text !== undefined && resources.length === 0 && kept > 0 && !declaresNoResources(text)) {
      // An emptied value is what a failed render or write leaves, not "no config".
      this.#report(
        new InvalidConfigError([
          `etcd:${this.key}: the value has no resources, where the config in force has ${kept}; keeping it. ` +
            `To remove every resource on purpose, write Kubernetes' empty list (apiVersion: v1, kind: List, items: []) or delete the key`,
        ]),
      );
      return;
    }
    this.#resources = Object.freeze(resources);
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) waiter.resolve();
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
 * absent or deleted key means no resources (`[]`); a value with no resources (empty,
 * comments only) in place of one that had some is refused the same way, unless it is
 * Kubernetes' empty list (`apiVersion: v1`, `kind: List`, `items: []`). The source only parses; validating the
 * resources is the mesh's job. While etcd cannot be reached, errors are emitted and the
 * last set stays; a fresh read follows when etcd is back.
 *
 * @param options the etcd client URLs (or a client) and the key
 */
export function etcdConfig(options: EtcdConfigOptions): EtcdConfigSource {
  return new EtcdConfigSource(options);
}
