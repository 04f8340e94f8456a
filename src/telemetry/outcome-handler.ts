import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { ForwardingHandler } from '../core/forwarding-handler.js';

type Controller = Dispatcher.DispatchController;

/**
 * A handler that forwards every callback unchanged and reports, once, how the request
 * ended: its final status, the response body's bytes, and the error when it failed. The
 * telemetry of a call (`CallTelemetry`) and of each try (`AttemptTelemetry`)
 * are two of them. The report comes before the callback is forwarded, so a span or a log
 * entry is done when the caller hears of the end. A report that throws goes to
 * {@link OutcomeHandler.reportFailure}: telemetry never fails a request.
 *
 * Nothing is allocated here: the outcome is a few fields of the one object.
 */
export abstract class OutcomeHandler extends ForwardingHandler {
  /** The final status (interim 1xx responses are not one; 101 for an upgrade), 0 until then. */
  status = 0;
  /** Response body bytes forwarded so far. */
  bytes = 0;
  #done = false;

  override onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (statusCode >= 200) this.status = statusCode;
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  override onResponseData(controller: Controller, chunk: Buffer): void {
    this.bytes += chunk.length;
    super.onResponseData(controller, chunk);
  }

  override onResponseEnd(controller: Controller, trailers: IncomingHttpHeaders): void {
    this.#finish(undefined);
    super.onResponseEnd(controller, trailers);
  }

  override onResponseError(controller: Controller, error: Error): void {
    this.#finish(error);
    super.onResponseError(controller, error);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.status = statusCode;
    this.#finish(undefined);
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  /** Reports the outcome: called once, `error` undefined when the request ended with a response. */
  protected abstract report(error: Error | undefined): void;

  /** What to do with a report that threw (the telemetry hub's failure counter). */
  protected abstract reportFailure(failure: unknown): void;

  #finish(error: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    try {
      this.report(error);
    } catch (failure) {
      this.reportFailure(failure);
    }
  }
}
