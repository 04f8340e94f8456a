import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { DiscoveryListener, DiscoverySource, DiscoveryWatch, ServiceQuery } from '../types.js';
import { emitSafely } from '../../core/emit-safely.js';
import { SourceClosedError } from '../../core/errors/index.js';
import { DnsError } from './dns-error.js';
import { DnsClient, type DnsTransport } from './internal-client.js';
import { resolutionSteps } from './internal-names.js';
import { resolveDnsOptions, sourceName, type ResolvedDnsOptions } from './internal-options.js';
import { RecordCache } from './internal-record-cache.js';
import { ServiceResolution } from './internal-service-resolution.js';
import type { DnsOptions, DnsSourceState } from './types.js';

/** What tests may swap in (not part of the public API). */
export interface DnsSourceInternals {
  /** Sends the queries instead of the UDP/TCP client. */
  readonly transport?: DnsTransport;
  /** Jitter source, [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

/**
 * A discovery source that finds a service's endpoints in DNS: A/AAAA records with the
 * URL's port, or SRV records (ports and weights from the records) when `srv` is on.
 * Created by {@link dns}; see {@link DnsOptions} for every option and its default.
 *
 * Each watched service is resolved in the background and kept fresh: answers live for
 * their TTL (clamped to `minTtl`..`maxTtl`) and are refreshed between 80 % and 90 % of
 * it; a failing refresh (SERVFAIL, REFUSED, timeout) keeps the last answer for up to
 * `maxStale` past its TTL, after which the service is known with no endpoints until DNS
 * answers again; NXDOMAIN is cached per the zone's SOA (RFC 2308) and reported as
 * `missing`. Requests never wait on DNS once a service has its first answer. Errors go
 * to `error` listeners and {@link DnsSource.state}, never into a request.
 */
export class DnsSource extends EventEmitter implements DiscoverySource {
  /** `dns(<servers>)`, e.g. `dns(10.0.0.10)` or `dns(127.0.0.1:5353)` (port 53 left out). */
  readonly name: string;
  readonly #options: ResolvedDnsOptions;
  readonly #transport: DnsTransport;
  readonly #cache: RecordCache;
  readonly #resolutions = new Map<string, ServiceResolution>();
  #readyWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  #lastRefresh: Date | undefined;
  #lastError: Error | undefined;
  #queries = 0;
  #failures = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @param options see {@link DnsOptions}; validated, every problem reported at once */
  constructor(options?: DnsOptions);
  /** @internal */
  constructor(options: DnsOptions | undefined, internals: DnsSourceInternals);
  constructor(options?: DnsOptions, internals: DnsSourceInternals = {}) {
    super();
    this.#options = resolveDnsOptions(options);
    const o = this.#options;
    this.name = sourceName(o.servers);
    this.#transport = internals.transport ?? new DnsClient({ servers: o.servers, timeout: o.timeout, attempts: o.attempts });
    const random = internals.random ?? Math.random;
    this.#cache = new RecordCache(
      this.#transport,
      {
        sourceName: this.name,
        family: o.family,
        minTtl: o.minTtl,
        maxTtl: o.maxTtl,
        maxNegativeTtl: o.maxNegativeTtl,
        maxStale: o.maxStale,
      },
      {
        random,
        onQuery: () => void this.#queries++,
        onAnswer: () => void (this.#lastRefresh = new Date()),
        onError: (error) => {
          this.#failures++;
          this.#report(error);
        },
      },
    );
  }

  /**
   * Starts resolving a service (or joins the resolution already running for the same
   * names). The first update comes with the first answer: `reset` with the endpoints,
   * or `missing` when every name tried is NXDOMAIN (and at once for an IP address).
   * Throws {@link SourceClosedError} after `close()`.
   */
  watch(service: ServiceQuery, listener: DiscoveryListener): DiscoveryWatch {
    if (this.#closed) throw new SourceClosedError(this.name, `watch ${service.fqdn}:${service.port}`);
    const steps = resolutionSteps(service, this.#options.srvPattern, this.#options.addressFallback);
    if (steps.length === 0 && isIP(service.host) === 0) {
      this.#report(new DnsError(this.name, service.fqdn, 'A', [], 'invalid-name', 'not a name that can be asked in DNS'));
    }
    const key = JSON.stringify(steps);
    let resolution = this.#resolutions.get(key);
    if (!resolution) {
      resolution = new ServiceResolution(
        this.#cache,
        steps,
        this.#options.family,
        () => this.#checkReady(),
        (error) => this.#report(new Error(`${this.name}: a discovery listener threw: ${String(error)}`, { cause: error })),
      );
      this.#resolutions.set(key, resolution);
    }
    const owner = resolution;
    const detach = owner.attach(service.port, listener);
    let open = true;
    return {
      close: () => {
        if (!open) return;
        open = false;
        detach();
        if (owner.watchers === 0 && this.#resolutions.get(key) === owner) {
          owner.dispose();
          this.#resolutions.delete(key);
        }
        this.#checkReady();
      },
    };
  }

  /**
   * Resolves once every service watched so far has had its first answer (at once when
   * none is waiting). While the servers fail it stays pending: queries are retried and
   * each failure is an `error` event. Rejects with {@link SourceClosedError} once the
   * source is closed (a call waiting then, or a call after).
   */
  ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new SourceClosedError(this.name, 'become ready'));
    if (!this.#waiting()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** The source's state: ready, last refresh and error, services and endpoints known, cache and query counts. */
  state(): DnsSourceState {
    let services = 0;
    let endpoints = 0;
    for (const resolution of this.#resolutions.values()) {
      if (!resolution.known) continue;
      services++;
      const result = resolution.result;
      if (result.kind === 'found') endpoints += result.targets.length;
    }
    return {
      name: this.name,
      ready: !this.#waiting(),
      lastRefresh: this.#lastRefresh,
      lastError: this.#lastError,
      services,
      endpoints,
      names: this.#cache.size,
      stale: this.#cache.staleCount,
      queries: this.#queries,
      failures: this.#failures,
    };
  }

  /** Stops every refresh, closes the sockets, and rejects pending {@link DnsSource.ready} calls. Safe to call twice. */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    this.#closed = true;
    for (const resolution of this.#resolutions.values()) resolution.dispose();
    this.#resolutions.clear();
    this.#cache.close();
    this.#checkReady();
    await this.#transport.close();
  }

  #waiting(): boolean {
    for (const resolution of this.#resolutions.values()) if (resolution.waitingForFirstAnswer()) return true;
    return false;
  }

  #checkReady(): void {
    if (this.#readyWaiters.length === 0 || (!this.#closed && this.#waiting())) return;
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) {
      if (this.#closed) waiter.reject(new SourceClosedError(this.name, 'become ready'));
      else waiter.resolve();
    }
  }

  #report(error: Error): void {
    this.#lastError = error;
    // Outside our timers' promise chains: never an unhandled rejection from the source.
    if (this.listenerCount('error') > 0) emitSafely(this, 'error', error);
  }
}

/**
 * A discovery source backed by DNS:
 *
 * ```ts
 * const mesh = createMesh({ discovery: [dns({ servers: ['10.0.0.10'], srv: true })] });
 * await mesh.fetch('http://reviews.bookinfo/'); // SRV _http._tcp.reviews.bookinfo.svc.cluster.local
 * ```
 *
 * Without `servers`, the system's resolvers are asked. See {@link DnsOptions}.
 */
export function dns(options?: DnsOptions): DnsSource {
  return new DnsSource(options);
}
