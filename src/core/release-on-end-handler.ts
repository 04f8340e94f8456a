import type { Dispatcher } from 'undici';
import { ForwardingHandler } from './forwarding-handler.js';

type Controller = Dispatcher.DispatchController;

/**
 * A forwarding handler that calls {@link ReleaseOnEndHandler.released} once, when the
 * request ends whichever way: response end, error or upgrade, or an explicit
 * {@link ReleaseOnEndHandler.release} (a layer below threw before the request started).
 * For counts of requests in flight.
 */
export abstract class ReleaseOnEndHandler extends ForwardingHandler {
  #done = false;

  override onResponseEnd(controller: Controller, trailers: Parameters<ForwardingHandler['onResponseEnd']>[1]): void {
    this.release();
    super.onResponseEnd(controller, trailers);
  }

  override onResponseError(controller: Controller, error: Error): void {
    this.release();
    super.onResponseError(controller, error);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onRequestUpgrade']>[2], socket: Parameters<ForwardingHandler['onRequestUpgrade']>[3]): void {
    this.release();
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  /** Ends the request's count now (only the first call counts). */
  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.released();
  }

  /** What ending the count does. */
  protected abstract released(): void;
}
