import type { IKeyValue } from 'etcd3';
import { type Endpoint } from 'proxyless';
import { CatalogSource } from 'proxyless/discovery';
import { EtcdUnavailableError, EtcdValueError, errorText } from './errors.js';
import { endpointKey, parseRegistrationValue } from './internal-endpoint-value.js';
import {
  DEFAULT_PREFIX,
  SERVICE_NAME,
  checkOptions,
  checkPrefix,
  connect,
  throwIfProblems,
  type Connection,
  type EtcdConnectionOptions,
} from './internal-options.js';
import { RangeWatch } from './internal-range-watch.js';

/** Options for {@link etcdDiscovery}. */
export interface EtcdDiscoveryOptions extends EtcdConnectionOptions {
  /**
   * Where instances live: keys `<prefix>/<service>/<instance-id>`. Default `/services`.
   * A trailing slash is ignored.
   */
  prefix?: string;
}

interface Instance {
  readonly service: string;
  readonly endpoint: Endpoint;
  readonly modRevision: bigint;
}

/**
 * A discovery source backed by etcd: every key `<prefix>/<service>/<instance-id>` is one
 * instance of `<service>`, its value JSON `{ "address", "port", "weight"?, "labels"? }`.
 * Created by {@link etcdDiscovery}.
 */
export class EtcdDiscoverySource extends CatalogSource {
  /** `etcd(<prefix>)`, e.g. `etcd(/services)`. */
  readonly name: string;
  /** The key prefix, without trailing slash. */
  readonly prefix: string;
  readonly #connection: Connection;
  readonly #watch: RangeWatch;
  /** Valid instances by etcd key. */
  #instances = new Map<string, Instance>();
  /** The same, by service (lower case), then etcd key. */
  #byService = new Map<string, Map<string, Instance>>();
  /** Keys whose bad value was reported already, with that value's revision (reported once). */
  readonly #reported = new Map<string, string>();
  #closed = false;

  /** @param options see {@link EtcdDiscoveryOptions} */
  constructor(options: EtcdDiscoveryOptions) {
    super();
    const problems: string[] = [];
    const record = checkOptions(options, ['prefix'], `{ endpoints: ["http://127.0.0.1:2379"], prefix: "/services" }`, problems);
    const prefix = checkPrefix('prefix', record?.prefix ?? DEFAULT_PREFIX, problems);
    throwIfProblems('etcdDiscovery', problems);
    this.prefix = prefix;
    this.name = `etcd(${prefix || '/'})`;
    this.#connection = connect(options);
    this.#watch = new RangeWatch({
      client: this.#connection.client,
      prefix: `${prefix}/`,
      handlers: {
        snapshot: (kvs) => this.#onSnapshot(kvs),
        put: (kv) => this.#onPut(kv),
        delete: (kv) => this.#onDelete(kv),
        trouble: (error, retryInMs, what) => this.#onTrouble(error, retryInMs, what),
      },
    });
    this.#watch.start();
  }

  /** Stops watching etcd and closes the client it created (not one passed in). */
  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await super.close();
    await this.#watch.close();
    if (this.#connection.owned) this.#connection.client.close();
  }

  #onSnapshot(kvs: readonly IKeyValue[]): void {
    const previous = this.#instances;
    const next = new Map<string, Instance>();
    const present = new Set<string>();
    for (const kv of kvs) {
      const key = kv.key.toString();
      present.add(key);
      const instance = this.#parse(kv) ?? previous.get(key);
      if (instance) next.set(key, instance);
    }
    for (const key of this.#reported.keys()) {
      if (!present.has(key)) this.#reported.delete(key);
    }
    this.#instances = next;
    const byService = new Map<string, Map<string, Instance>>();
    // A service seen once stays known with no endpoints when its last instance leaves, so
    // requests wait (up to discoveryTimeout) for a restarting instance rather than falling
    // through to other sources; a resync keeps that, so it agrees with the watch.
    for (const service of this.#byService.keys()) byService.set(service, new Map());
    for (const [key, instance] of next) {
      let instances = byService.get(instance.service);
      if (!instances) byService.set(instance.service, (instances = new Map()));
      instances.set(key, instance);
    }
    this.#byService = byService;
    const catalog = new Map<string, readonly Endpoint[]>();
    for (const [service, instances] of byService) catalog.set(service, endpointsOf(instances));
    this.replaceCatalog(catalog);
    this.markReady();
  }

  #onPut(kv: IKeyValue): void {
    const instance = this.#parse(kv);
    if (!instance) return; // the last good value of this key, if any, stays
    const key = kv.key.toString();
    this.#reported.delete(key);
    const previous = this.#instances.get(key);
    this.#instances.set(key, instance);
    let instances = this.#byService.get(instance.service);
    if (!instances) this.#byService.set(instance.service, (instances = new Map()));
    instances.set(key, instance);
    this.setService(instance.service, endpointsOf(instances));
    if (previous && previous.service !== instance.service) this.#removeFromService(previous.service, key);
  }

  #onDelete(kv: IKeyValue): void {
    const key = kv.key.toString();
    this.#reported.delete(key);
    const instance = this.#instances.get(key);
    if (!instance) return;
    this.#instances.delete(key);
    this.#removeFromService(instance.service, key);
  }

  #removeFromService(service: string, key: string): void {
    const instances = this.#byService.get(service);
    if (!instances?.delete(key)) return;
    this.setService(service, endpointsOf(instances));
  }

  #onTrouble(error: unknown, retryInMs: number, what: 'read' | 'watch'): void {
    const { services, endpoints, ready } = this.state();
    const doing = ready
      ? `keeping the last known endpoints (${services} services, ${endpoints} endpoints)`
      : 'its services wait for the first read';
    const action = what === 'read' ? `cannot read ${this.prefix}/` : `lost the watch on ${this.prefix}/`;
    this.reportError(
      new EtcdUnavailableError(
        `${this.name}: ${action} from etcd (${this.#connection.description}): ${errorText(error)}; ${doing}; ` +
          `reading again in ${retryInMs} ms`,
        this.#connection.endpoints,
        error,
      ),
    );
  }

  /** The instance a key holds, or `undefined` (reported once per value) when it is malformed. */
  #parse(kv: IKeyValue): Instance | undefined {
    const key = kv.key.toString();
    const problem = (text: string): undefined => {
      if (this.#reported.get(key) === kv.mod_revision) return undefined;
      this.#reported.set(key, kv.mod_revision);
      this.reportError(new EtcdValueError(this.name, key, text));
      return undefined;
    };
    const rest = key.slice(this.prefix.length + 1);
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1) {
      return problem(`expected a key ${this.prefix}/<service>/<instance-id>`);
    }
    const service = rest.slice(0, slash);
    if (!SERVICE_NAME.test(service)) {
      return problem(`${JSON.stringify(service)} is not a service name (expected a DNS-style name such as "reviews" or "reviews.bookinfo")`);
    }
    const endpoint = parseRegistrationValue(kv.value.toString());
    if (typeof endpoint === 'string') return problem(endpoint);
    return { service: service.toLowerCase(), endpoint, modRevision: BigInt(kv.mod_revision) };
  }
}

/**
 * A service's endpoints in a stable order (by etcd key), one per `address:port`: when two
 * keys name the same endpoint (an instance restarted under a new id before its old key
 * expired), the more recently written one wins.
 */
function endpointsOf(instances: ReadonlyMap<string, Instance>): readonly Endpoint[] {
  const byEndpoint = new Map<string, Instance>();
  for (const key of [...instances.keys()].sort()) {
    const instance = instances.get(key)!;
    const id = endpointKey(instance.endpoint);
    const other = byEndpoint.get(id);
    if (!other || other.modRevision < instance.modRevision) byEndpoint.set(id, instance);
  }
  return Object.freeze([...byEndpoint.values()].map((instance) => instance.endpoint));
}

/**
 * A discovery source that reads service instances from etcd and follows them with a
 * watch:
 *
 * ```ts
 * import { createMesh } from 'proxyless';
 * import { etcdDiscovery } from '@proxyless/etcd';
 *
 * const mesh = createMesh({
 *   discovery: [etcdDiscovery({ endpoints: ['http://127.0.0.1:2379'], prefix: '/services' })],
 * });
 * // etcdctl put /services/reviews/a '{"address":"127.0.0.1","port":9080,"labels":{"version":"v1"}}'
 * await mesh.fetch('http://reviews/');
 * ```
 *
 * - Keys are `<prefix>/<service>/<instance-id>`; values JSON
 *   `{ "address": "127.0.0.1", "port": 9080, "weight": 1, "labels": { "version": "v1" } }`
 *   (`weight` and `labels` optional; other fields ignored). {@link register} writes them.
 * - It reads the prefix once, then watches it from the next revision. When the watch is
 *   lost (a member went away) or compacted, it reads the whole prefix again and watches
 *   from there. While etcd cannot be reached, the last known endpoints keep serving and
 *   an {@link EtcdUnavailableError} is emitted per attempt; it catches up when etcd is back.
 * - A malformed key or value is skipped with an {@link EtcdValueError} naming the key (once
 *   per value); that key's last good value, if any, stays in use.
 * - A service seen once stays known, with no endpoints, after its last instance leaves.
 * - `ready()` resolves after the first successful read.
 *
 * @param options the etcd client URLs (or a client) and the key prefix
 */
export function etcdDiscovery(options: EtcdDiscoveryOptions): EtcdDiscoverySource {
  return new EtcdDiscoverySource(options);
}
