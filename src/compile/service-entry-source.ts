import { EventEmitter } from 'node:events';
import type { Located, ServiceEntryResource } from '../config/load-config.js';
import type { ServiceNamer } from '../discovery/service-name.js';
import { LOCALITY_LABEL } from '../balance/locality.js';
import { serviceEntryIndex } from './service-entry-index.js';
import type {
  DiscoveryListener,
  DiscoverySource,
  DiscoverySourceState,
  DiscoveryWatch,
  Endpoint,
  ServiceQuery,
} from '../discovery/types.js';

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

interface Watcher {
  readonly query: ServiceQuery;
  readonly listener: DiscoveryListener;
  last: string | undefined;
}

/** What one ServiceEntry says about one host and port. */
export interface ServiceEntryAnswer {
  /** The endpoints (empty with resolution NONE: the mesh passes requests through). */
  readonly endpoints: readonly Endpoint[];
  /** resolution NONE: no balancing, requests go to the address the caller used. */
  readonly passthrough: boolean;
  /** `location: MESH_EXTERNAL` (Istio's default): a service outside the mesh. */
  readonly meshExternal: boolean;
  /** The entry, for explain output. */
  readonly where: string;
}

/**
 * ServiceEntries as a discovery source, asked before the user's sources: a host that a
 * ServiceEntry declares gets the same routing and policies as an internal service.
 *
 * Resolution (Istio's): `STATIC` uses the entry's endpoint addresses; `DNS` uses its
 * endpoints' host names (or the host itself when it lists none), resolved when the
 * connection is made; `DNS_ROUND_ROBIN` the one endpoint (or the host); `NONE` knows the
 * service but balances nothing: requests go where the caller sent them. The endpoint
 * port is the endpoint's `ports[<port name>]`, else the port's `targetPort`, else its
 * `number`. A request to a port the entry does not declare is not this entry's.
 * Wildcard hosts (`*.example.com`) match any name under them.
 */
export class ServiceEntrySource extends EventEmitter implements DiscoverySource {
  /** Always `ServiceEntry`. */
  readonly name = 'ServiceEntry';
  #entries: readonly Located<ServiceEntryResource>[] = [];
  readonly #namer: ServiceNamer;
  readonly #watchers = new Set<Watcher>();
  #lastRefresh: Date | undefined;

  constructor(namer: ServiceNamer) {
    super();
    this.#namer = namer;
  }

  /** Replaces the entries (a config reload); watchers hear about what changed for them. */
  setEntries(entries: readonly Located<ServiceEntryResource>[]): void {
    this.#entries = entries;
    this.#lastRefresh = new Date();
    for (const watcher of this.#watchers) this.#notify(watcher);
  }

  /** What the entries say about a host and port, or undefined. */
  answer(query: ServiceQuery): ServiceEntryAnswer | undefined {
    for (const { resource, where } of serviceEntryIndex(this.#entries, this.#namer).declaring(query)) {
      const spec = resource.spec;
      const port = spec.ports.find((p) => p.number === query.port);
      if (!port) continue;
      const resolution = spec.resolution ?? 'NONE';
      const meshExternal = spec.location !== 'MESH_INTERNAL';
      if (resolution === 'NONE') return { endpoints: [], passthrough: true, meshExternal, where };
      const targetPort = (ports?: Record<string, number>): number => ports?.[port.name] ?? port.targetPort ?? port.number;
      const listed = spec.endpoints ?? [];
      const endpoints: Endpoint[] =
        listed.length > 0
          ? listed.map((e) => ({ address: e.address, port: targetPort(e.ports), weight: e.weight ?? 1, labels: endpointLabels(e) }))
          : [{ address: query.host, port: targetPort(), weight: 1, labels: NO_LABELS }];
      return { endpoints, passthrough: false, meshExternal, where };
    }
    return undefined;
  }

  /** Answers at once from the current entries. */
  watch(query: ServiceQuery, listener: DiscoveryListener): DiscoveryWatch {
    const watcher: Watcher = { query, listener, last: undefined };
    this.#watchers.add(watcher);
    this.#notify(watcher);
    return { close: () => void this.#watchers.delete(watcher) };
  }

  /** Config is loaded before the mesh starts: always ready. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** See {@link DiscoverySource.state}. */
  state(): DiscoverySourceState {
    let endpoints = 0;
    for (const { resource } of this.#entries) endpoints += resource.spec.endpoints?.length ?? 0;
    return { name: this.name, ready: true, lastRefresh: this.#lastRefresh, lastError: undefined, services: this.#entries.length, endpoints };
  }

  /** Stops delivering updates. */
  close(): Promise<void> {
    this.#watchers.clear();
    return Promise.resolve();
  }

  #notify(watcher: Watcher): void {
    const answer = this.answer(watcher.query);
    const key = answer ? JSON.stringify(answer) : 'missing';
    if (key === watcher.last) return;
    watcher.last = key;
    watcher.listener(answer ? { type: 'reset', endpoints: answer.endpoints } : { type: 'missing' });
  }
}

/** The first of `entries` that declares the service (on any port), if any. */
export function serviceEntryFor(entries: readonly Located<ServiceEntryResource>[], namer: ServiceNamer, name: Pick<ServiceQuery, 'host' | 'fqdn'>): Located<ServiceEntryResource> | undefined {
  return serviceEntryIndex(entries, namer).first(name);
}

/**
 * A ServiceEntry endpoint's labels; its `locality` field becomes Istio's locality label
 * (the field wins over a label, as in Istio), for locality load balancing.
 */
function endpointLabels(e: { labels?: Record<string, string> | undefined; locality?: string | undefined }): Readonly<Record<string, string>> {
  if (e.locality === undefined || e.locality === '') return e.labels ? Object.freeze({ ...e.labels }) : NO_LABELS;
  return Object.freeze({ ...e.labels, [LOCALITY_LABEL]: e.locality });
}
