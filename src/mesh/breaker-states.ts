/**
 * The mesh's side of its services' circuit breakers: their transitions become mesh
 * events, their states can be saved and given to a new process, and an evicted
 * service's open breaker comes back with it.
 *
 * @module
 */
import type { BreakerSnapshot, ServiceBreaker } from '../policy/breaker/index.js';
import type { CircuitEvent, MeshEvents } from './mesh-events.js';
import type { MeshService } from './mesh-service.js';

/** How the breakers' transitions reach the mesh's listeners (safely: a listener that throws must not break the breaker's timers). */
export type CircuitEmitter = <K extends 'circuitOpen' | 'circuitHalfOpen' | 'circuitClose'>(event: K, ...args: MeshEvents[K]) => void;

/** `fqdn:port`: how breakers are named in events and saved states. */
const breakerName = (service: MeshService): string => `${service.name.fqdn}:${service.name.port}`;

/** See the module comment. */
export class BreakerStates {
  /** Saved states waiting for their service, by `fqdn:port`: restored ones, and evicted services' open ones. */
  readonly #saved = new Map<string, unknown>();
  /** Bounds the evicted services' states kept (`maxServices`). */
  readonly #max: number;
  readonly #emit: CircuitEmitter;

  /** @param maxServices bounds the states kept for evicted services; @param emit emits the circuit events */
  constructor(maxServices: number, emit: CircuitEmitter) {
    this.#max = maxServices;
    this.#emit = emit;
  }

  /** Forwards a new breaker's transitions as mesh events, and restores its saved state. */
  watch(service: MeshService, breaker: ServiceBreaker): void {
    const name = breakerName(service);
    // Emitted from the breaker's timers: a listener that throws must not break them.
    breaker.events.on('open', (e) => this.#emit('circuitOpen', { service: name, openedAt: e.openedAt, retryAt: e.retryAt } satisfies CircuitEvent));
    breaker.events.on('halfOpen', () => this.#emit('circuitHalfOpen', { service: name }));
    breaker.events.on('close', () => this.#emit('circuitClose', { service: name }));
    const saved = this.#saved.get(name);
    if (saved !== undefined) {
      this.#saved.delete(name);
      try {
        breaker.importState(saved);
      } catch (error) {
        // A snapshot for another spelling of the host, or a malformed one: the breaker
        // starts closed rather than failing the request that made the service.
        process.emitWarning(`${name}: circuit breaker state not restored: ${(error as Error).message}`, { code: 'PROXYLESS_W_BREAKER_STATE' });
      }
    }
  }

  /** Every breaker's state among `services`, keyed by `fqdn:port`. */
  export(services: Iterable<MeshService>): Record<string, BreakerSnapshot> {
    const out: Record<string, BreakerSnapshot> = {};
    for (const service of services) {
      if (service.breaker) out[breakerName(service)] = service.breaker.exportState();
    }
    return out;
  }

  /** Saved states, each applied when its service makes its breaker. */
  restore(state: Record<string, unknown>): void {
    for (const [name, snapshot] of Object.entries(state)) this.#saved.set(name, snapshot);
  }

  /** An evicted service's open or half-open breaker comes back with it (a bounded map: oldest dropped first). */
  keep(service: MeshService): void {
    const breaker = service.breaker;
    if (!breaker || breaker.state() === 'closed') return;
    const name = breakerName(service);
    this.#saved.delete(name);
    this.#saved.set(name, breaker.exportState());
    if (this.#saved.size > this.#max) this.#saved.delete(this.#saved.keys().next().value!);
  }
}
