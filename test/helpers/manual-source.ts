import { EventEmitter } from 'node:events';
import type {
  DiscoveryListener,
  DiscoverySource,
  DiscoverySourceState,
  DiscoveryUpdate,
  DiscoveryWatch,
  ServiceName,
} from 'proxyless';

/**
 * A discovery source the test drives by hand: it answers nothing until told, so tests
 * can hold the mesh in the "discovery has not answered yet" state that a DNS or etcd
 * source is in before its first reply. (No real server can be held there on demand.)
 */
export class ManualSource extends EventEmitter implements DiscoverySource {
  readonly name: string;
  readonly watches = new Map<string, DiscoveryListener>();

  constructor(name = 'manual') {
    super();
    this.name = name;
  }

  watch(service: ServiceName, listener: DiscoveryListener): DiscoveryWatch {
    this.watches.set(service.fqdn, listener);
    return { close: () => void this.watches.delete(service.fqdn) };
  }

  /** Sends an update to the watch of `fqdn`; throws if nobody watches it yet. */
  send(fqdn: string, update: DiscoveryUpdate): void {
    const listener = this.watches.get(fqdn);
    if (!listener) throw new Error(`nobody watches ${fqdn} (watched: ${[...this.watches.keys()].join(', ')})`);
    listener(update);
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  state(): DiscoverySourceState {
    return { name: this.name, ready: true, lastRefresh: undefined, lastError: undefined, services: this.watches.size, endpoints: 0 };
  }

  close(): Promise<void> {
    this.watches.clear();
    return Promise.resolve();
  }
}
