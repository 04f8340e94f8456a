import type { MeshService } from './mesh-service.js';

/**
 * The mesh's service table, from `mesh.serviceStats()`. The mesh keeps one service
 * (pools, discovery watches, balancer) per scheme, host, port and subset it was asked
 * for; past `maxServices` it evicts the least recently used services that have nothing
 * in flight.
 */
export interface ServiceStats {
  /** Services held now. */
  readonly services: number;
  /** The `maxServices` option. It is exceeded only while every service has requests in flight. */
  readonly maxServices: number;
  /** Services with requests in flight now. */
  readonly busy: number;
  /** Services evicted since the mesh was created. */
  readonly evicted: number;
}

/** What the mesh's `servicesEvicted` event reports. */
export interface ServicesEvictedInfo {
  /** The services evicted, as `scheme://fqdn:port/subset`. */
  readonly services: readonly string[];
  /** Services held after the eviction. */
  readonly remaining: number;
  /** The `maxServices` option. */
  readonly maxServices: number;
}

/** An eviction brings the table down to this share of `maxServices`, so the next ones come in batches. */
const EVICT_TO = 0.9;

/**
 * The services of a mesh, bounded whatever the hosts' source (a wildcard ServiceEntry,
 * DNS with ALLOW_ANY, hosts no source knows): adding one to a full table first evicts
 * the least recently used services with nothing in flight, down to 90 % of the bound so
 * that evictions come in batches (each one scans the table). A service with requests in
 * flight (waiting for discovery, between retries) is never evicted: the table may exceed
 * the bound by the number of such services (and, while they hold it full, by 10 % more
 * before the next scan).
 */
export class ServiceTable {
  readonly #services = new Map<string, MeshService>();
  readonly #max: number;
  /** Called for each service evicted, before it is closed. */
  readonly #onEvict: (service: MeshService) => void;
  #evicted = 0;
  /**
   * After a scan that could evict nothing (every service busy), the size at which to
   * scan again: 10 % of the bound later, so that a table held full by requests in flight
   * does not cost a scan per new service.
   */
  #nextScanAt = 0;

  /** @param maxServices the bound; @param onEvict hears each service before it is closed */
  constructor(maxServices: number, onEvict: (service: MeshService) => void) {
    this.#max = maxServices;
    this.#onEvict = onEvict;
  }

  /** The service under `key`, if held. */
  get(key: string): MeshService | undefined {
    return this.#services.get(key);
  }

  /** Every service held. */
  values(): IterableIterator<MeshService> {
    return this.#services.values();
  }

  /**
   * Makes room for one more service: evicts (and closes) idle services when the table is
   * full. Returns the keys evicted, least recently used first (empty when none).
   */
  makeRoom(): string[] {
    if (this.#services.size < Math.max(this.#max, this.#nextScanAt)) return [];
    const target = Math.min(this.#max - 1, Math.floor(this.#max * EVICT_TO));
    const idle: Array<[string, MeshService]> = [];
    for (const entry of this.#services) if (entry[1].inFlight === 0) idle.push(entry);
    idle.sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    const evicted: string[] = [];
    for (const [key, service] of idle) {
      if (this.#services.size <= target) break;
      this.#services.delete(key);
      this.#onEvict(service);
      void service.close();
      evicted.push(key);
    }
    this.#evicted += evicted.length;
    this.#nextScanAt = this.#services.size >= this.#max ? this.#services.size + Math.max(1, this.#max - Math.floor(this.#max * EVICT_TO)) : 0;
    return evicted;
  }

  /** Adds a service (after {@link ServiceTable.makeRoom}). */
  add(key: string, service: MeshService): void {
    this.#services.set(key, service);
  }

  /** Services held now. */
  get size(): number {
    return this.#services.size;
  }

  /** See {@link ServiceStats}. */
  stats(): ServiceStats {
    let busy = 0;
    for (const service of this.#services.values()) if (service.inFlight > 0) busy++;
    return { services: this.#services.size, maxServices: this.#max, busy, evicted: this.#evicted };
  }
}
