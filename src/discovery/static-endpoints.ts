import { InvalidOptionError } from '../core/errors/index.js';
import { CatalogSource } from './catalog-source.js';
import { parseEndpointList } from './parse-endpoint.js';
import type { EndpointInput } from './types.js';

/** A service-name → endpoints map as `staticEndpoints` takes it. */
export type StaticEndpointsMap = Record<string, readonly EndpointInput[]>;

/**
 * A discovery source with a fixed catalog that code can change at run time with `set`
 * and `delete` (tests and simple control planes use it). Created by {@link staticEndpoints}.
 */
export class StaticEndpointsSource extends CatalogSource {
  /** Always `static`. */
  readonly name = 'static';

  /** @param services the initial catalog; validated, every problem reported at once */
  constructor(services: StaticEndpointsMap = {}) {
    super();
    if (services === null || typeof services !== 'object' || Array.isArray(services)) {
      throw new InvalidOptionError('staticEndpoints', [
        `services: ${JSON.stringify(services)} (expected: an object mapping service names to endpoint lists)`,
      ]);
    }
    const problems: string[] = [];
    const catalog = new Map<string, ReturnType<typeof parseEndpointList> & object>();
    for (const [service, list] of Object.entries(services)) {
      const parsed = parseEndpointList(service, list, problems);
      if (parsed) catalog.set(service, parsed);
    }
    if (problems.length > 0) throw new InvalidOptionError('staticEndpoints', problems);
    this.replaceCatalog(catalog);
    this.markReady();
  }

  /**
   * Replaces a service's endpoints (adding the service if new). Requests in flight on a
   * removed endpoint complete; new requests go to the new set.
   */
  set(service: string, endpoints: readonly EndpointInput[]): void {
    const problems: string[] = [];
    const parsed = parseEndpointList(service, endpoints, problems);
    if (!parsed) throw new InvalidOptionError('staticEndpoints.set', problems);
    this.setService(service, parsed);
  }

  /** Forgets a service: its watchers hear `missing` (unless another spelling still matches). */
  delete(service: string): boolean {
    return this.deleteService(service);
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
