import { EventEmitter } from 'node:events';
import { InvalidOptionError } from '../core/errors.js';
import { parseEndpoint } from './parse-endpoint.js';
import type {
  DiscoveryListener,
  DiscoverySource,
  DiscoverySourceState,
  DiscoveryWatch,
  Endpoint,
  EndpointInput,
  ServiceName,
} from './types.js';

/** A service-name → endpoints map as `staticEndpoints` takes it. */
export type StaticEndpointsMap = Record<string, readonly EndpointInput[]>;

interface Watcher {
  readonly service: ServiceName;
  readonly listener: DiscoveryListener;
}

/**
 * A discovery source with a fixed catalog that code can change at run time with `set`
 * and `delete` (tests and simple control planes use it). Created by {@link staticEndpoints}.
 */
export class StaticEndpointsSource extends EventEmitter implements DiscoverySource {
  /** Always `static`. */
  readonly name = 'static';
  readonly #catalog = new Map<string, readonly Endpoint[]>();
  readonly #watchers = new Set<Watcher>();
  #lastRefresh = new Date();
  #closed = false;

  /** @param services the initial catalog; validated, every problem reported at once */
  constructor(services: StaticEndpointsMap = {}) {
    super();
    if (services === null || typeof services !== 'object' || Array.isArray(services)) {
      throw new InvalidOptionError('staticEndpoints', [
        `services: ${JSON.stringify(services)} (expected: an object mapping service names to endpoint lists)`,
      ]);
    }
    const problems: string[] = [];
    for (const [service, list] of Object.entries(services)) {
      const parsed = parseList(service, list, problems);
      if (parsed) this.#catalog.set(normaliseName(service), parsed);
    }
    if (problems.length > 0) throw new InvalidOptionError('staticEndpoints', problems);
  }

  /**
   * Replaces a service's endpoints (adding the service if new). Requests in flight on a
   * removed endpoint complete; new requests go to the new set.
   */
  set(service: string, endpoints: readonly EndpointInput[]): void {
    const problems: string[] = [];
    const parsed = parseList(service, endpoints, problems);
    if (!parsed) throw new InvalidOptionError('staticEndpoints.set', problems);
    const key = normaliseName(service);
    this.#catalog.set(key, parsed);
    this.#lastRefresh = new Date();
    for (const watcher of this.#watchers) {
      if (watcher.service.names.includes(key) && this.#lookup(watcher.service) === parsed) {
        watcher.listener({ type: 'reset', endpoints: parsed });
      }
    }
  }

  /** Forgets a service: its watchers hear `missing` (unless another spelling still matches). */
  delete(service: string): boolean {
    const key = normaliseName(service);
    const existed = this.#catalog.delete(key);
    if (existed) {
      this.#lastRefresh = new Date();
      for (const watcher of this.#watchers) {
        if (!watcher.service.names.includes(key)) continue;
        const still = this.#lookup(watcher.service);
        watcher.listener(still ? { type: 'reset', endpoints: still } : { type: 'missing' });
      }
    }
    return existed;
  }

  /** Answers at once: `reset` with the endpoints, or `missing`. */
  watch(service: ServiceName, listener: DiscoveryListener): DiscoveryWatch {
    const watcher: Watcher = { service, listener };
    if (!this.#closed) this.#watchers.add(watcher);
    const endpoints = this.#lookup(service);
    listener(endpoints ? { type: 'reset', endpoints } : { type: 'missing' });
    return { close: () => void this.#watchers.delete(watcher) };
  }

  /** A static catalog is ready at once. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** See {@link DiscoverySource.state}. */
  state(): DiscoverySourceState {
    let endpoints = 0;
    for (const list of this.#catalog.values()) endpoints += list.length;
    return {
      name: this.name,
      ready: true,
      lastRefresh: this.#lastRefresh,
      lastError: undefined,
      services: this.#catalog.size,
      endpoints,
    };
  }

  /** Stops delivering updates. */
  close(): Promise<void> {
    this.#closed = true;
    this.#watchers.clear();
    return Promise.resolve();
  }

  #lookup(service: ServiceName): readonly Endpoint[] | undefined {
    for (const name of service.names) {
      const found = this.#catalog.get(name);
      if (found) return found;
    }
    return undefined;
  }
}

/**
 * A discovery source from a fixed map of services to endpoints:
 *
 * ```ts
 * const endpoints = staticEndpoints({
 *   reviews: ['127.0.0.1:9080', { address: '127.0.0.1', port: 9081, weight: 2, labels: { version: 'v2' } }],
 * });
 * const mesh = createMesh({ discovery: [endpoints] });
 * endpoints.set('reviews', ['127.0.0.1:9082']); // later: replace the set at run time
 * ```
 */
export function staticEndpoints(services: StaticEndpointsMap = {}): StaticEndpointsSource {
  return new StaticEndpointsSource(services);
}

function normaliseName(service: string): string {
  return service.toLowerCase().replace(/\.$/, '');
}

function parseList(service: string, list: unknown, problems: string[]): Endpoint[] | undefined {
  const before = problems.length;
  if (typeof service !== 'string' || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(service)) {
    problems.push(`${JSON.stringify(service)}: (expected: a DNS-style service name such as "reviews" or "reviews.bookinfo")`);
  }
  if (!Array.isArray(list)) {
    problems.push(`${service}: ${JSON.stringify(list)} (expected: an array of endpoints)`);
    return undefined;
  }
  const parsed: Endpoint[] = [];
  const seen = new Set<string>();
  list.forEach((item: EndpointInput, index) => {
    const result = parseEndpoint(item, `${service}[${index}]`);
    if (typeof result === 'string') {
      problems.push(result);
      return;
    }
    const key = `${result.address}|${result.port}`;
    if (seen.has(key)) {
      problems.push(`${service}[${index}]: ${JSON.stringify(item)} (expected: each address:port once per service)`);
      return;
    }
    seen.add(key);
    parsed.push(result);
  });
  return problems.length === before ? Object.freeze(parsed) as Endpoint[] : undefined;
}
