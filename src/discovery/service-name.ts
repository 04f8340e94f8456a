import type { ServiceName } from './types.js';

/**
 * Turns URL hosts into {@link ServiceName}s the way Kubernetes DNS search paths do:
 * `reviews` is `reviews.<namespace>.svc.<clusterDomain>`, `reviews.bookinfo` is
 * `reviews.bookinfo.svc.<clusterDomain>`, and a name ending in `.svc` gets the cluster
 * domain. Any other dotted name (`api.example.com`) is taken as written. A two-label
 * name (`example.com`) may be either; both spellings are kept and the exact one is
 * tried first, so an external name registered as such still matches itself.
 */
export class ServiceNamer {
  readonly #namespace: string;
  readonly #clusterDomain: string;
  readonly #svcSuffix: string;

  /** @param namespace this workload's namespace; @param clusterDomain e.g. `cluster.local` */
  constructor(namespace: string, clusterDomain: string) {
    this.#namespace = namespace;
    this.#clusterDomain = clusterDomain;
    this.#svcSuffix = `.svc.${clusterDomain}`;
  }

  /** The {@link ServiceName} for a host (any case, no port), short names in this namespace. */
  name(rawHost: string): ServiceName {
    return this.nameIn(rawHost, this.#namespace);
  }

  /**
   * The {@link ServiceName} for a host whose short form is relative to `namespace`
   * (config resources resolve short hosts in their own namespace, as Istio does).
   */
  nameIn(rawHost: string, localNamespace: string = this.#namespace): ServiceName {
    const host = rawHost.toLowerCase().replace(/\.$/, '');
    let service: string | undefined;
    let namespace: string | undefined;
    if (host.endsWith(this.#svcSuffix)) {
      [service, namespace] = host.slice(0, -this.#svcSuffix.length).split('.');
    } else if (host.endsWith('.svc')) {
      [service, namespace] = host.slice(0, -'.svc'.length).split('.');
    } else {
      const labels = host.split('.');
      if (labels.length === 1) [service, namespace] = [host, localNamespace];
      else if (labels.length === 2) [service, namespace] = labels;
    }
    if (!service || !namespace || isIpAddress(host)) {
      return { host, fqdn: host, names: [host] };
    }
    const fqdn = `${service}.${namespace}${this.#svcSuffix}`;
    const names = [host];
    const add = (n: string): void => {
      if (!names.includes(n)) names.push(n);
    };
    if (namespace === this.#namespace) add(service);
    add(`${service}.${namespace}`);
    add(`${service}.${namespace}.svc`);
    add(fqdn);
    return { host, fqdn, names };
  }

  /** The namespace short names resolve in. */
  get namespace(): string {
    return this.#namespace;
  }

  /** The cluster domain, e.g. `cluster.local`. */
  get clusterDomain(): string {
    return this.#clusterDomain;
  }
}

function isIpAddress(host: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':') || host.startsWith('[');
}
