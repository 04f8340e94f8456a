import type { Dispatcher } from 'undici';
import { ForwardingHandler } from '../core/forwarding-handler.js';
import { layer, type Layer } from '../core/layer.js';
import type { EndpointTarget } from '../mesh/types.js';
import type { EndpointLoad } from './endpoint-load.js';

type Controller = Dispatcher.DispatchController;

/**
 * Records an endpoint's load for the balancers: pending requests, and the time to
 * response headers as the Peak EWMA sample. Connection errors and resets count as
 * failures (a latency penalty). A cancelled request (a hedge that lost, a timeout, the
 * caller's abort) that was written but had no headers yet gives a censored sample, "at
 * least this long" (see {@link EndpointLoad.finishCancelled}); one that had its headers
 * gives its time to headers; one never written gives none.
 *
 * The latency clock starts when undici writes the request to a connected socket
 * (`onRequestStart`), not at dispatch: connecting and waiting in the pool's queue are
 * left out of the sample, as Linkerd measures after the endpoint is ready. Otherwise the
 * first request on every new connection would set a Peak EWMA peak that lingers for
 * tens of seconds (τ = 10 s). Queueing still counts as load through `pending`.
 */
class LoadTrackingHandler extends ForwardingHandler {
  readonly #load: EndpointLoad;
  #start: number;
  #rtt = -1;
  #written = false;
  #done = false;

  constructor(next: Dispatcher.DispatchHandler, load: EndpointLoad) {
    super(next);
    this.#load = load;
    this.#start = performance.now();
    load.start();
  }

  override onRequestStart(controller: Controller, context: unknown): void {
    this.#start = performance.now();
    this.#written = true;
    super.onRequestStart(controller, context);
  }

  override onResponseStart(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onResponseStart']>[2], statusMessage?: string): void {
    if (statusCode >= 200 && this.#rtt < 0) this.#rtt = performance.now() - this.#start;
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  override onResponseEnd(controller: Controller, trailers: Parameters<ForwardingHandler['onResponseEnd']>[1]): void {
    this.#finish(true);
    super.onResponseEnd(controller, trailers);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onRequestUpgrade']>[2], socket: Parameters<ForwardingHandler['onRequestUpgrade']>[3]): void {
    this.#finish(true);
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  override onResponseError(controller: Controller, error: Error): void {
    if (!this.#done) {
      if (controller?.aborted) {
        this.#done = true;
        const now = performance.now();
        if (this.#rtt >= 0) this.#load.finish(this.#rtt, now, true);
        else if (this.#written) this.#load.finishCancelled(now - this.#start, now);
        else this.#load.finishWithoutSample();
      } else {
        this.#finish(false);
      }
    }
    super.onResponseError(controller, error);
  }

  /** The request never started (a layer below threw): release its pending slot. */
  abandon(): void {
    if (this.#done) return;
    this.#done = true;
    this.#load.finishWithoutSample();
  }

  #finish(ok: boolean): void {
    if (this.#done) return;
    this.#done = true;
    const now = performance.now();
    this.#load.finish(this.#rtt >= 0 ? this.#rtt : now - this.#start, now, ok);
  }
}

/** The endpoint-stack layer with role `load`: feeds pending counts and latency to the balancers. */
export function loadLayer(): Layer<EndpointTarget> {
  return layer<EndpointTarget>('load', (next, target) => {
    const load = target.load;
    return (opts, handler) => {
      const tracking = new LoadTrackingHandler(handler, load);
      try {
        return next(opts, tracking);
      } catch (error) {
        // A layer below threw before the request started: it is not pending anymore.
        tracking.abandon();
        throw error;
      }
    };
  });
}
