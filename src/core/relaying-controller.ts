import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { failDispatch } from './forwarding-handler.js';
import { FollowingController } from './following-controller.js';

/** Where a call of several tries stands, for an error that must say what was happening. */
export interface CallProgress {
  /**
   * `try`: a try is on a connection (its request sent or being sent, or its response
   * arriving); `backoff`: waiting to retry; `waiting`: the try in force waits for an
   * endpoint or a connection and nothing of it was sent.
   */
  readonly phase: 'waiting' | 'backoff' | 'try';
  /** The number of the try in force (1 for the first), or of the last one sent while in `backoff`. */
  readonly attempt: number;
}

/**
 * The options key of a {@link CallProgressSlot}: the timeout layer puts one on the options
 * it sends down, so that the call of several tries below can say where it stands even
 * when no try has connected yet (the caller then has no controller to ask: every try
 * failed to connect, or waits for one).
 */
export const kCallProgress = Symbol.for('proxyless.callProgress');

/** Where the outermost call of several tries below registers itself (see {@link kCallProgress}). */
export interface CallProgressSlot {
  /** The outermost {@link RelayingController} below, once it exists. */
  source: RelayingController | undefined;
}

/**
 * Registers `call` in the options' {@link CallProgressSlot}, if they carry one and no
 * call above it did (the retry call holds the hedged calls of its tries: it says where
 * the whole call stands).
 */
export function reportProgressTo(opts: Dispatcher.DispatchOptions, call: RelayingController): void {
  const slot = (opts as { [kCallProgress]?: CallProgressSlot })[kCallProgress];
  if (slot !== undefined && slot.source === undefined) slot.source = call;
}

/**
 * A call made of several tries (retries, hedged backups) as its caller sees it: the
 * {@link FollowingController} the caller holds, and the one place that relays the
 * followed try's callbacks to the caller's handler, with itself as the controller. The
 * caller hears `onRequestStart` once (when the first try starts) and one end: the
 * response's, an upgrade, or an error ({@link RelayingController.failCaller}), never
 * two. The retry and hedge layers' calls are subclasses; they decide which try is
 * followed and when the call ends, this class says it to the caller.
 */
export abstract class RelayingController extends FollowingController {
  /** The caller's handler. */
  protected readonly caller: Dispatcher.DispatchHandler;
  #callerStarted = false;
  #finished = false;

  /** @param caller the handler every relayed callback goes to */
  constructor(caller: Dispatcher.DispatchHandler) {
    super();
    this.caller = caller;
  }

  /** True once the caller has had its end (a response's, an upgrade or an error). */
  get finished(): boolean {
    return this.#finished;
  }

  /** True when `attempt` is the try whose progress the caller is told of. */
  protected abstract follows(attempt: unknown): boolean;

  /** The call ended (its caller has or is about to have its end): release what it holds (timers, slots). */
  protected abstract callEnded(): void;

  /** Where the call stands now (see {@link CallProgress}). */
  abstract progress(): CallProgress;

  /** Gives the caller its controller (this call) when the first try starts; later tries start silently. */
  protected startCaller(context: unknown): void {
    if (this.#callerStarted) return;
    this.#callerStarted = true;
    this.caller.onRequestStart?.(this, context);
  }

  /** `attempt` wrote its request: relayed when it is followed. */
  requestSent(attempt: unknown): void {
    if (!this.#finished && this.follows(attempt)) this.caller.onRequestSent?.();
  }

  /** `attempt` wrote a chunk of its body: relayed when it is followed (a replayed body is reported again). */
  bodySent(attempt: unknown, chunk: Buffer): void {
    if (!this.#finished && this.follows(attempt)) this.caller.onBodySent?.(chunk);
  }

  /** `attempt`'s response began arriving: relayed when it is followed. */
  responseStarted(attempt: unknown): void {
    if (!this.#finished && this.follows(attempt)) this.caller.onResponseStarted?.();
  }

  /** The response the caller gets: its status line and headers. */
  responseStart(status: number, headers: IncomingHttpHeaders, message?: string): void {
    this.caller.onResponseStart?.(this, status, headers, message);
  }

  /** A chunk of the response's body. */
  responseData(chunk: Buffer): void {
    this.caller.onResponseData?.(this, chunk);
  }

  /** The response ended: the call is over. */
  responseEnd(trailers: IncomingHttpHeaders): void {
    if (this.#finished) return;
    this.#end();
    this.caller.onResponseEnd?.(this, trailers);
  }

  /** The request was upgraded: the call is over, the socket is the caller's. */
  upgrade(status: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    if (this.#finished) return;
    this.#end();
    this.caller.onRequestUpgrade?.(this, status, headers, socket);
  }

  /**
   * Ends the call with `error` (once): through `onResponseError` when the caller has its
   * controller, else as undici fails a request that never started.
   */
  protected failCaller(error: Error): void {
    if (this.#finished) return;
    this.#end();
    if (this.#callerStarted) this.caller.onResponseError?.(this, error);
    else failDispatch(this.caller, error);
  }

  #end(): void {
    this.#finished = true;
    this.callEnded();
    this.unfollow();
  }
}
