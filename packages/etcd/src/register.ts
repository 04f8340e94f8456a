import { EventEmitter } from 'node:events';
import type { Lease } from 'etcd3';
import type { Endpoint, EndpointSpec } from 'proxyless';
import { EtcdLeaseLostError, EtcdUnavailableError, errorText } from './errors.js';
import { checkEndpointObject, endpointKey } from './internal-endpoint-value.js';
import {
  DEFAULT_PREFIX,
  SERVICE_NAME,
  checkOptions,
  checkPrefix,
  connect,
  show,
  throwIfProblems,
  type Connection,
  type EtcdConnectionOptions,
} from './internal-options.js';
import { retryDelay } from './internal-range-watch.js';

/** Anything with a `close()`: an `http.Server`, a Fastify instance, your own object. */
export interface ClosableServer {
  /** Stops accepting new connections (what it does with open ones is up to it). */
  close(): unknown;
}

/** Options for {@link register}. */
export interface RegisterOptions extends EtcdConnectionOptions {
  /** The discovery prefix; the key is `<prefix>/<service>/<instanceId>`. Default `/services`. */
  prefix?: string;
  /** The service this instance belongs to, a DNS-style name such as `reviews`. */
  service: string;
  /**
   * This instance's id within the service. Default: the endpoint's `address:port`, so an
   * instance that restarts on the same address overwrites its old key instead of leaving
   * a second one until the old lease expires. No `/`.
   */
  instanceId?: string;
  /** Where clients reach this instance: `{ address, port, weight?, labels? }`. */
  endpoint: EndpointSpec;
  /**
   * Lease time to live in seconds, 1..86400. Default 10. The key disappears this long
   * after the process dies without deregistering; keepalives go every TTL/3.
   */
  ttl?: number;
  /**
   * The server this instance serves on. When given, a `SIGTERM` listener is installed
   * that deregisters first and then calls `server.close()`, so the instance stops getting
   * new traffic before it stops accepting. It does not exit the process: that is left to
   * the app (the process ends by itself once nothing keeps it alive).
   */
  server?: ClosableServer;
  /**
   * With `server`: how long to wait between deregistering and closing the server, in ms,
   * so that clients whose watches are slower still see the key go before the server
   * stops accepting. Default 0.
   */
  drainDelay?: number;
}

const REGISTER_FIELDS = ['prefix', 'service', 'instanceId', 'endpoint', 'ttl', 'server', 'drainDelay'];

/**
 * This instance's entry in etcd, kept alive under a lease. Created by {@link register}.
 *
 * Events: `registered` (the key was written, after the start and after every
 * re-registration), `error` ({@link EtcdUnavailableError} when etcd cannot be reached,
 * {@link EtcdLeaseLostError} when the lease expired). Without an `error` listener, errors
 * are only kept in {@link Registration.lastError}; they are never thrown.
 */
export class Registration extends EventEmitter {
  /** The etcd key: `<prefix>/<service>/<instanceId>`. */
  readonly key: string;
  readonly #connection: Connection;
  readonly #ttl: number;
  readonly #server: ClosableServer | undefined;
  readonly #drainDelay: number;
  #endpoint: Endpoint;
  #lease: Lease | undefined;
  #registered = false;
  /** Bumped when the current lease is abandoned, so its late events are ignored. */
  #generation = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #lastError: Error | undefined;
  readonly #ready: Promise<void>;
  #resolveReady!: () => void;
  #waiting: Array<() => void> = [];
  readonly #onSigterm: (() => void) | undefined;

  /** @param options see {@link RegisterOptions} */
  constructor(options: RegisterOptions) {
    super();
    const problems: string[] = [];
    const record = checkOptions(
      options,
      REGISTER_FIELDS,
      `{ endpoints: ["http://127.0.0.1:2379"], service: "reviews", endpoint: { address: "10.0.0.5", port: 9080 } }`,
      problems,
    );
    const prefix = checkPrefix('prefix', record?.prefix ?? DEFAULT_PREFIX, problems);
    const service = record?.service;
    if (typeof service !== 'string' || !SERVICE_NAME.test(service)) {
      problems.push(`service: ${show(service)} (expected: a DNS-style service name such as "reviews" or "reviews.bookinfo")`);
    }
    const endpoint = checkEndpointObject(record?.endpoint, 'endpoint');
    if (typeof endpoint === 'string') problems.push(endpoint);
    const instanceId = record?.instanceId ?? (typeof endpoint === 'string' ? undefined : endpointKey(endpoint));
    if (instanceId !== undefined && (typeof instanceId !== 'string' || instanceId.length === 0 || /[/\s]/.test(instanceId))) {
      problems.push(`instanceId: ${show(instanceId)} (expected: a non-empty string without "/" or spaces, such as "reviews-7d9f-abc12")`);
    }
    const ttl = record?.ttl ?? 10;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) {
      problems.push(`ttl: ${show(ttl)} (expected: a whole number of seconds from 1 to 86400)`);
    }
    const server = record?.server;
    if (server !== undefined && (server === null || typeof (server as { close?: unknown }).close !== 'function')) {
      problems.push(`server: ${show(server)} (expected: an object with a close() method, such as an http.Server)`);
    }
    const drainDelay = record?.drainDelay ?? 0;
    if (typeof drainDelay !== 'number' || !Number.isInteger(drainDelay) || drainDelay < 0 || drainDelay > 600_000) {
      problems.push(`drainDelay: ${show(drainDelay)} (expected: a whole number of milliseconds from 0 to 600000)`);
    } else if (drainDelay > 0 && server === undefined) {
      problems.push(`drainDelay: ${drainDelay} (expected: only together with server)`);
    }
    throwIfProblems('register', problems);
    this.key = `${prefix}/${(service as string).toLowerCase()}/${instanceId as string}`;
    this.#endpoint = endpoint as Endpoint;
    this.#ttl = ttl as number;
    this.#server = server as ClosableServer | undefined;
    this.#drainDelay = drainDelay as number;
    this.#ready = new Promise((resolve) => {
      this.#resolveReady = resolve;
    });
    this.#connection = connect(options);
    if (this.#server) {
      this.#onSigterm = () => void this.#shutdown();
      process.once('SIGTERM', this.#onSigterm);
    }
    this.#register();
  }

  /** True while the key is in etcd under a live lease (as far as this process knows). */
  get registered(): boolean {
    return this.#registered;
  }

  /** The endpoint this registration advertises. */
  get endpoint(): Endpoint {
    return this.#endpoint;
  }

  /** The last error met (also emitted as `error` when someone listens). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /**
   * Resolves once the key was first written. While etcd cannot be reached it stays
   * pending (the registration keeps trying); bound the wait yourself if you need to.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Advertises a new endpoint (new weight, labels, or address) under the same key.
   * Resolves once etcd holds it; while not registered, once the next registration wrote
   * it. Rejects if etcd refuses the write (the new value is still used from the next
   * registration on). Throws `InvalidOptionError` at once for an invalid endpoint.
   */
  update(endpoint: EndpointSpec): Promise<void> {
    const checked = checkEndpointObject(endpoint, 'endpoint');
    if (typeof checked === 'string') throwIfProblems('Registration.update', [checked]);
    this.#endpoint = checked as Endpoint;
    if (this.#closing) return Promise.resolve();
    const lease = this.#lease;
    if (!this.#registered || !lease) return new Promise((resolve) => this.#waiting.push(resolve));
    return lease
      .put(this.key)
      .value(JSON.stringify(this.#endpoint))
      .exec()
      .then(
        () => undefined,
        (error: unknown) => {
          throw new EtcdUnavailableError(
            `registration ${this.key}: could not write the new endpoint: ${errorText(error)}`,
            this.#connection.endpoints,
            error,
          );
        },
      );
  }

  /**
   * Deregisters: revokes the lease, which deletes the key, so clients stop sending new
   * requests here. Then closes the etcd client it created. Never rejects: if etcd cannot
   * be reached, the key disappears when its lease expires (`ttl` seconds), and the error
   * is reported. Also removes the `SIGTERM` listener. Idempotent.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    if (this.#onSigterm) process.off('SIGTERM', this.#onSigterm);
    this.#generation++;
    clearTimeout(this.#timer);
    this.#registered = false;
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease) {
      try {
        await lease.revoke();
      } catch (error) {
        this.#report(
          new EtcdUnavailableError(
            `registration ${this.key}: could not revoke its lease (${errorText(error)}); the key expires within ${this.#ttl} s`,
            this.#connection.endpoints,
            error,
          ),
        );
      }
    }
    for (const resolve of this.#waiting.splice(0)) resolve();
    if (this.#connection.owned) this.#connection.client.close();
  }

  /** SIGTERM: deregister first, so traffic stops coming, then stop accepting. */
  async #shutdown(): Promise<void> {
    await this.close();
    if (this.#drainDelay > 0) await new Promise((resolve) => setTimeout(resolve, this.#drainDelay));
    try {
      await this.#server!.close();
    } catch (error) {
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Grants a lease and writes the key under it; on failure, tries again with backoff. */
  #register(): void {
    if (this.#closing) return;
    const generation = ++this.#generation;
    const lease = this.#connection.client.lease(this.#ttl);
    this.#lease = lease;
    // The lease emits 'lost' when its grant fails, when keepalives find it expired, or
    // when etcd was unreachable for more than twice the TTL.
    lease.on('lost', (error) => this.#fail(generation, error, true));
    lease
      .put(this.key)
      .value(JSON.stringify(this.#endpoint))
      .exec()
      .then(
        () => {
          if (generation !== this.#generation || this.#closing) return;
          this.#failures = 0;
          this.#registered = true;
          this.#resolveReady();
          for (const resolve of this.#waiting.splice(0)) resolve();
          this.emit('registered');
        },
        (error: unknown) => this.#fail(generation, error, false),
      );
  }

  #fail(generation: number, error: unknown, lost: boolean): void {
    if (generation !== this.#generation || this.#closing) return;
    this.#generation++;
    const wasRegistered = this.#registered;
    this.#registered = false;
    const lease = this.#lease;
    this.#lease = undefined;
    // A lease granted before the write failed would linger until its TTL: revoke it.
    lease?.revoke().catch(() => undefined);
    const delay = retryDelay(this.#failures++, 200, 3000);
    this.#report(
      lost && wasRegistered
        ? new EtcdLeaseLostError(this.key, error)
        : new EtcdUnavailableError(
            `registration ${this.key}: could not register with etcd (${this.#connection.description}): ${errorText(error)}; ` +
              `trying again in ${delay} ms`,
            this.#connection.endpoints,
            error,
          ),
    );
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#register();
    }, delay);
    this.#timer.unref();
  }

  #report(error: Error): void {
    this.#lastError = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/**
 * Registers this instance in etcd under a lease kept alive in the background, for
 * {@link etcdDiscovery} (and anything else reading the same keys) to find:
 *
 * ```ts
 * import { createServer } from 'node:http';
 * import { register } from '@proxyless/etcd';
 *
 * const server = createServer(handler).listen(9080);
 * const registration = register({
 *   endpoints: ['http://127.0.0.1:2379'],
 *   prefix: '/services',
 *   service: 'reviews',
 *   endpoint: { address: '10.0.0.5', port: 9080, labels: { version: 'v2' } },
 *   ttl: 10,
 *   server, // on SIGTERM: deregister, then server.close()
 * });
 * await registration.ready();
 * ```
 *
 * Writes `<prefix>/<service>/<instanceId>` = `{"address","port","weight","labels"}` under
 * a lease of `ttl` seconds. When the lease is lost (etcd unreachable for longer than the
 * TTL), it registers again under a new lease as soon as etcd answers. `close()` revokes
 * the lease, which removes the key at once.
 *
 * With `server`, `SIGTERM` deregisters first and then calls `server.close()`, so the
 * instance stops getting traffic before it stops accepting. The process is not exited:
 * once the server has closed and nothing else keeps the event loop alive it ends by
 * itself, or your own SIGTERM handling decides. (Any SIGTERM listener turns off Node's
 * default of exiting at once; the listener is removed after the first signal, so a
 * second SIGTERM exits the process if nothing else listens.)
 *
 * Options are validated at once (`InvalidOptionError`); nothing else throws.
 *
 * @param options see {@link RegisterOptions}
 */
export function register(options: RegisterOptions): Registration {
  return new Registration(options);
}
