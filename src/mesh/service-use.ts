/**
 * A service's use, as its eviction reads it: each request counts on its service from
 * dispatch until its response ends, and marks the service as just used.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import { ReleaseOnEndHandler } from '../core/release-on-end-handler.js';

/** A counter, not a clock: ordering is all eviction needs, and it costs less than `performance.now()`. */
let useClock = 0;

/** The next tick of the use counter every service shares (higher is more recent). */
export function nextUse(): number {
  return ++useClock;
}

/** Ends a request's count on its service (see `MeshService.track`). */
export class ServiceUseHandler extends ReleaseOnEndHandler {
  readonly #service: { untrack(): void };

  constructor(next: Dispatcher.DispatchHandler, service: { untrack(): void }) {
    super(next);
    this.#service = service;
  }

  protected override released(): void {
    this.#service.untrack();
  }
}
