import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { FollowingController } from './following-controller.js';
import type { ReplayableBody } from './replayable-body.js';

type Controller = Dispatcher.DispatchController;

/** Who keeps track of a call: told once, when it ends whichever way. */
export interface RootCallOwner {
  /** The call ended (answered, failed, upgraded or cancelled). */
  callFinished(call: RootCall): void;
}

/**
 * One request as the mesh's caller sees it, from `dispatch` to its last callback.
 *
 * The caller gets this object as its controller at once, in `onRequestStart`, before
 * any wait (a fault delay, discovery, an endpoint, a pool's queue, a backoff): undici's
 * `request()` and `fetch()` hand a caller's abort to the dispatcher only through that
 * controller, so without it an abort during a wait would go unheard until the request
 * was being sent. Aborting it, or {@link RootCall.cancel} (the mesh closing), answers
 * the caller with the reason at once, cancels every wait below (it is the request's
 * {@link Cancellation} scope) and aborts the try in flight; a try that starts later is
 * aborted before undici writes it. Every callback below is forwarded to the caller with
 * this object as the controller, and nothing after the call ended.
 */
export class RootCall extends FollowingController implements Dispatcher.DispatchHandler {
  readonly #caller: Dispatcher.DispatchHandler;
  readonly #owner: RootCallOwner;
  /** Counted in the dispatcher's `inFlight` (a caller's request, not a mirror copy). */
  readonly counted: boolean;
  /** The owner's list of calls in flight (threaded through the calls: nothing allocated per request). */
  previousCall: RootCall | undefined;
  /** See {@link RootCall.previousCall}. */
  nextCall: RootCall | undefined;
  #finished = false;
  #responder: Controller | undefined;
  #body: ReplayableBody | undefined;

  /**
   * @param caller the caller's handler; @param owner told when the call ends;
   * @param counted whether the owner counts it as a caller's request
   */
  constructor(caller: Dispatcher.DispatchHandler, owner: RootCallOwner, counted = true) {
    super();
    this.#caller = caller;
    this.#owner = owner;
    this.counted = counted;
  }

  /** True once the caller has had its last callback. */
  get finished(): boolean {
    return this.#finished;
  }

  /** The response's raw headers, as the layer that delivered them gave them (edited by header operations). */
  override get rawHeaders(): Controller['rawHeaders'] {
    return (this.#responder ?? this.current)?.rawHeaders;
  }

  /** The response's raw trailers. */
  override get rawTrailers(): Controller['rawTrailers'] {
    return (this.#responder ?? this.current)?.rawTrailers;
  }

  /** A streamed request body to close when the call ends (see {@link ReplayableBody.close}). */
  set body(body: ReplayableBody) {
    this.#body = body;
  }

  /**
   * Gives the caller its controller. Returns false when the call is already over (the
   * caller's signal was aborted before the request was made): nothing may be sent.
   */
  begin(): boolean {
    try {
      this.#caller.onRequestStart?.(this, null);
    } catch (error) {
      // As undici does when a handler's onRequestStart throws: the request ends with that error.
      this.onResponseError(this, error as Error);
    }
    return !this.#finished && !this.cancelled;
  }

  onRequestStart(controller: Controller, _context: unknown): void {
    if (this.#finished) {
      controller.abort(this.cancelReason ?? new Error('proxyless: the call already ended'));
      return;
    }
    this.adopt(controller);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    if (this.#finished) {
      socket.destroy();
      return;
    }
    this.#responder = controller;
    this.#finish();
    this.#caller.onRequestUpgrade?.(this, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (this.#finished) return;
    this.#responder = controller;
    this.#caller.onResponseStart?.(this, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.#finished) return;
    this.#caller.onResponseData?.(this, chunk);
  }

  onResponseEnd(controller: Controller, trailers: IncomingHttpHeaders): void {
    if (this.#finished) return;
    this.#responder = controller ?? this.#responder;
    this.#finish();
    this.#caller.onResponseEnd?.(this, trailers);
  }

  onResponseError(_controller: Controller, error: Error): void {
    if (this.#finished) return;
    this.#finish();
    this.#caller.onResponseError?.(this, error);
  }

  onRequestSent(): void {
    if (!this.#finished) this.#caller.onRequestSent?.();
  }

  onBodySent(chunk: Buffer): void {
    if (!this.#finished) this.#caller.onBodySent?.(chunk);
  }

  onResponseStarted(): void {
    if (!this.#finished) this.#caller.onResponseStarted?.();
  }

  /** Aborted (by the caller, or {@link RootCall.cancel} from the mesh): stop what runs below, answer now. */
  protected override cancelCall(reason: Error): void {
    this.onResponseError(this, reason);
    this.current?.abort(reason);
  }

  #finish(): void {
    this.#finished = true;
    this.#body?.close();
    this.#owner.callFinished(this);
  }
}
