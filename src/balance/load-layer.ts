import type { Dispatcher } from 'undici';
import { ForwardingHandler } from '../core/forwarding-handler.js';
import { layer, type Layer } from '../core/layer.js';
import type { EndpointTarget, EndpointLoadView } from '../core/target.js';
import type { EndpointLoad } from './endpoint-load.js';
import { stallClock, type StallClock } from './stall-clock.js';

type Controller = Dispatcher.DispatchController;

/** `#rtt` before the response headers arrived. */
const NOT_YET = -1;

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
 *
 * This process's own event-loop stalls are left out too (see {@link StallClock}): the
 * stall that kept the response waiting ({@link StallClock.heldUp}) is subtracted. When
 * that stall was most of the sample (the remainder under half of it) the response may
 * have arrived at any moment of it: the remainder is then only a lower bound, and counts
 * as a censored sample ("at least this long", as a cancelled try's). Dropping such
 * samples left a slow replica with none at all on a busy machine, where most of its
 * answers come during a stall, and P2C kept treating it as new (in line with the others). Linkerd's balancer has no such correction; without it one
 * 20 ms garbage collection makes every endpoint with a request in flight look 20 ms slow,
 * and Peak EWMA then favours an endpoint that is really slow but had nothing in flight.
 */
class LoadTrackingHandler extends ForwardingHandler {
  readonly #load: EndpointLoadView;
  #start: number;
  #stalledAtStart: number;
  /** Time to response headers (less the stall that held them up), or {@link NOT_YET}. */
  #rtt = NOT_YET;
  /** `#rtt` is only a lower bound: a stall of this process held the headers up for most of it. */
  #rttCensored = false;
  /** Whether the last {@link LoadTrackingHandler.#elapsed} was only a lower bound. */
  #censored = false;
  #written = false;
  #done = false;

  constructor(next: Dispatcher.DispatchHandler, load: EndpointLoadView) {
    super(next);
    this.#load = load;
    stallClock.enter();
    this.#start = performance.now();
    this.#stalledAtStart = stallClock.read(this.#start);
    load.start();
  }

  override onRequestStart(controller: Controller, context: unknown): void {
    this.#start = performance.now();
    this.#stalledAtStart = stallClock.read(this.#start);
    this.#written = true;
    super.onRequestStart(controller, context);
  }

  override onResponseStart(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onResponseStart']>[2], statusMessage?: string): void {
    if (statusCode >= 200 && this.#rtt === NOT_YET) {
      this.#rtt = this.#elapsed(performance.now());
      this.#rttCensored = this.#censored;
    }
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
        stallClock.leave();
        const now = performance.now();
        if (this.#rtt !== NOT_YET) this.#report(this.#rtt, this.#rttCensored, now, true);
        else if (!this.#written) this.#load.finishWithoutSample();
        else this.#load.finishCancelled(this.#elapsed(now), now);
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
    stallClock.leave();
    this.#load.finishWithoutSample();
  }

  #finish(ok: boolean): void {
    if (this.#done) return;
    this.#done = true;
    stallClock.leave();
    const now = performance.now();
    if (this.#rtt !== NOT_YET) this.#report(this.#rtt, this.#rttCensored, now, ok);
    else this.#report(this.#elapsed(now), this.#censored, now, ok);
  }

  /** Reports the outcome: a failure always counts (with its penalty); a latency that is only a lower bound counts as one. */
  #report(rtt: number, censored: boolean, now: number, ok: boolean): void {
    if (ok && censored) this.#load.finishCancelled(rtt, now);
    else this.#load.finish(rtt, now, ok);
  }

  /**
   * Time since the request was written less the stall of this process that kept its answer
   * waiting ({@link StallClock.heldUp}); sets `#censored` when that stall was most of it
   * (the result is then only a lower bound).
   */
  #elapsed(now: number): number {
    const raw = now - this.#start;
    const stalled = stallClock.heldUp(now, this.#stalledAtStart);
    const rest = stalled > 0 ? raw - stalled : raw;
    this.#censored = rest * 2 < raw;
    return rest > 0 ? rest : 0;
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
