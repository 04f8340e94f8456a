/**
 * The endpoint set of one service: what the winning source says, filtered by the
 * subset's labels. New endpoints join, changed ones are updated in place, removed ones
 * drain (no new requests, those in flight complete) and are kept until drained, so a
 * shutdown can still end them.
 *
 * @module
 */
import { NoHealthyUpstreamError } from '../core/errors/index.js';
import type { Endpoint } from '../discovery/types.js';
import type { EndpointState } from './endpoint-state.js';

/** Hears endpoints join and leave the set (the outlier detector follows them). */
export interface EndpointSetListener {
  add(endpoint: EndpointState): void;
  remove(endpoint: EndpointState): void;
}

/** See the module comment. */
export class ServiceEndpoints {
  readonly #endpoints = new Map<string, EndpointState>();
  /** Endpoints discovery removed whose pools are still draining (ended by {@link ServiceEndpoints.destroyAll}). */
  readonly #draining = new Set<EndpointState>();
  #list: EndpointState[] = [];
  /** Available endpoints in the list, or -1 when it must be counted again. */
  #availableCount = -1;

  /** The current endpoints (including ones not available right now); a new array after each change. */
  get list(): readonly EndpointState[] {
    return this.#list;
  }

  /**
   * Applies a source's set: endpoints in `next` carrying all of `subset`'s labels belong
   * (`create` makes the new ones), the others drain. Returns whether the set changed.
   */
  update(next: ReadonlyMap<string, Endpoint>, subset: Readonly<Record<string, string>> | undefined, create: (key: string, endpoint: Endpoint) => EndpointState, listener: EndpointSetListener | undefined): boolean {
    let changed = false;
    for (const [key, state] of this.#endpoints) {
      const endpoint = next.get(key);
      if (!endpoint || (subset && !hasLabels(endpoint, subset))) {
        this.#endpoints.delete(key);
        listener?.remove(state);
        this.#draining.add(state);
        void state.drain().then(() => this.#draining.delete(state));
        changed = true;
      }
    }
    for (const [key, endpoint] of next) {
      if (subset && !hasLabels(endpoint, subset)) continue;
      const state = this.#endpoints.get(key);
      if (!state) {
        const created = create(key, endpoint);
        this.#endpoints.set(key, created);
        listener?.add(created);
        changed = true;
      } else if (state.weight !== endpoint.weight || state.labels !== endpoint.labels) {
        state.weight = endpoint.weight;
        state.labels = endpoint.labels;
        changed = true;
      }
    }
    if (changed) {
      this.#list = [...this.#endpoints.values()];
      this.#availableCount = -1;
    }
    return changed;
  }

  /**
   * How many requests the endpoints' connections carry at once (available endpoints ×
   * `connectionsEach`). Counted again only after an endpoint's availability or the set
   * changed (O(1) per request).
   */
  capacity(connectionsEach: number): number {
    if (this.#availableCount < 0) {
      let available = 0;
      for (const endpoint of this.#list) if (endpoint.available) available++;
      this.#availableCount = available;
    }
    return this.#availableCount * connectionsEach;
  }

  /** An endpoint's availability changed: the capacity is counted again. */
  availabilityChanged(): void {
    this.#availableCount = -1;
  }

  /** The error of a service whose endpoints all refuse traffic, counting the ejected and the unhealthy. */
  noHealthyUpstream(host: string): NoHealthyUpstreamError {
    let ejected = 0;
    let unhealthy = 0;
    for (const endpoint of this.#list) {
      if (endpoint.ejected) ejected++;
      if (endpoint.unhealthy) unhealthy++;
    }
    return new NoHealthyUpstreamError(host, this.#list.length, ejected, unhealthy);
  }

  /** Drains every current endpoint (the service is closing). */
  drainAll(): Promise<void>[] {
    return [...this.#endpoints.values()].map((e) => e.drain());
  }

  /** Ends every request still on the endpoints (removed ones still draining included) with `error`. */
  destroyAll(error: Error): Promise<void> {
    return Promise.all([...this.#endpoints.values(), ...this.#draining].map((e) => e.destroy(error))).then(() => undefined);
  }
}

function hasLabels(endpoint: Endpoint, labels: Readonly<Record<string, string>>): boolean {
  for (const key in labels) if (endpoint.labels[key] !== labels[key]) return false;
  return true;
}
