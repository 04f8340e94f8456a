import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';

type Controller = Dispatcher.DispatchController;

/**
 * A dispatch handler that forwards every callback of undici's handler API to the handler
 * it wraps. Layers subclass it and override the callbacks they care about.
 *
 * Why a class and not `{ ...handler }`: spreading drops prototype methods, so a handler
 * written as a class would silently lose its callbacks.
 */
export class ForwardingHandler implements Dispatcher.DispatchHandler {
  /** The handler every callback is forwarded to. */
  protected readonly next: Dispatcher.DispatchHandler;

  /** @param next the handler to forward to */
  constructor(next: Dispatcher.DispatchHandler) {
    this.next = next;
  }

  /** Forwards `onRequestStart`. */
  onRequestStart(controller: Controller, context: unknown): void {
    this.next.onRequestStart?.(controller, context);
  }

  /** Forwards `onRequestUpgrade`. */
  onRequestUpgrade(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  /** Forwards `onResponseStart`. */
  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.next.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  /** Forwards `onResponseData`. */
  onResponseData(controller: Controller, chunk: Buffer): void {
    this.next.onResponseData?.(controller, chunk);
  }

  /** Forwards `onResponseEnd`. */
  onResponseEnd(controller: Controller, trailers: IncomingHttpHeaders): void {
    this.next.onResponseEnd?.(controller, trailers);
  }

  /** Forwards `onResponseError`. */
  onResponseError(controller: Controller, error: Error): void {
    this.next.onResponseError?.(controller, error);
  }

  /** Forwards `onRequestSent`. */
  onRequestSent(): void {
    this.next.onRequestSent?.();
  }

  /** Forwards `onBodySent`. */
  onBodySent(chunk: Buffer): void {
    this.next.onBodySent?.(chunk);
  }

  /** Forwards `onResponseStarted`. */
  onResponseStarted(): void {
    this.next.onResponseStarted?.();
  }
}

/**
 * Delivers an error to a handler the way undici does when a dispatch fails before any
 * connection exists (a `null` controller). Returns `true`: the request was handled (it
 * got its answer). A dispatcher's `false` means "busy, wait for `drain`" in undici's
 * contract, which a failed request must not say: a caller honouring it would wait for a
 * `drain` event that never comes.
 */
export function failDispatch(handler: Dispatcher.DispatchHandler, error: Error): boolean {
  if (typeof handler.onResponseError !== 'function') throw error;
  handler.onResponseError(null as unknown as Controller, error);
  return true;
}
