import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Cancellation } from '../../core/cancellation.js';
import { classifyFailure } from '../../core/classify-failure.js';
import { PerTryTimeoutError } from '../../core/errors/index.js';
import type { RetryCall } from './retry-layer.js';

type Controller = Dispatcher.DispatchController;

/** A discarded response body (before a retry) is read up to this size, then the try is dropped. */
const DRAIN_LIMIT = 1024 * 1024;

/**
 * The handler of one try, and the try's cancellation scope: a per-try timeout or the
 * call's abort cancels it, which ends what the try waits for below (an endpoint, a
 * pool's queue) and aborts its request if it is on a connection, or when it gets one.
 */
export class TryHandler extends Cancellation implements Dispatcher.DispatchHandler {
  readonly #call: RetryCall;
  #draining = false;
  #drained = 0;
  #done = false;
  #started = false;
  #timer: NodeJS.Timeout | undefined;
  #controller: Controller | undefined;

  constructor(call: RetryCall, perTryTimeoutMs: number | undefined, service: string) {
    super();
    this.#call = call;
    if (perTryTimeoutMs !== undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.cancel(new PerTryTimeoutError(service, perTryTimeoutMs));
      }, perTryTimeoutMs);
    }
  }

  /** True while the try's request is on a connection (started, not yet ended). */
  get inFlight(): boolean {
    return this.#started && !this.#done;
  }

  /** Cancelled: abort the request on its connection, or end the try now when it has none. */
  protected override whenCancelled(reason: Error): void {
    this.#clear();
    if (this.#controller !== undefined) this.#controller.abort(reason);
    else this.onResponseError(null as unknown as Controller, reason);
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#controller = controller;
    if (this.#done || this.cancelled) {
      // The try ended while it waited (a per-try timeout in a pool's queue): never send it.
      controller.abort(this.cancelReason ?? new Error('proxyless: the try ended before it was sent'));
      return;
    }
    this.#started = true;
    this.#call.tryStarted(this, controller, context);
  }

  onRequestSent(): void {
    if (!this.#done) this.#call.requestSent(this);
  }

  onBodySent(chunk: Buffer): void {
    if (!this.#done) this.#call.bodySent(this, chunk);
  }

  onResponseStarted(): void {
    if (!this.#done) this.#call.responseStarted(this);
  }

  onRequestUpgrade(_controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    if (this.#done) {
      socket.destroy();
      return;
    }
    this.#done = true;
    this.#clear();
    this.#call.upgrade(statusCode, headers, socket);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (this.#done) return;
    if (statusCode < 200) return; // interim responses (100, 103) are not passed on
    this.#clear();
    if (this.#call.retryStatus(statusCode, headers)) {
      this.#draining = true;
      return;
    }
    this.#call.responseStart(statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#done) return;
    if (this.#draining) {
      this.#drained += chunk.length;
      if (this.#drained > DRAIN_LIMIT) controller.abort(new Error('proxyless: dropping a large response body before a retry'));
      return;
    }
    this.#call.responseData(chunk);
  }

  onResponseEnd(_controller: Controller, trailers: IncomingHttpHeaders): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#draining) this.#call.retryLater();
    else this.#call.responseEnd(trailers);
  }

  onResponseError(_controller: Controller, error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#clear();
    if (this.#draining || this.#call.retryFailure(classifyFailure(error, this.#started))) this.#call.retryLater();
    else this.#call.fail(error);
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
