import type { Dispatcher } from 'undici';
import { Cancellation } from './cancellation.js';

type Controller = Dispatcher.DispatchController;

/**
 * The controller a caller holds for a call made of several tries (retries, hedged
 * backups) or of waits before its first try: it follows the try in force, so
 * `pause`/`resume` and the response's raw headers are the current try's, and `abort()`
 * ends the whole call through {@link FollowingController.cancelCall}. It is also the
 * call's {@link Cancellation} scope: aborting it cancels every wait below it. Subclasses
 * are the call objects themselves, so a call costs one object, not three.
 */
export abstract class FollowingController extends Cancellation implements Controller {
  /** The current try's controller. */
  current: Controller | undefined;
  #paused = false;

  /** True once the call was aborted (by the caller, a timeout, the mesh closing). */
  get aborted(): boolean {
    return this.cancelled;
  }
  /** True while the caller has paused the response. */
  get paused(): boolean {
    return this.#paused;
  }
  /** Why the call was aborted, if it was. */
  get reason(): Error | null {
    return this.cancelReason ?? null;
  }
  /** The current try's raw response headers. */
  get rawHeaders(): Controller['rawHeaders'] {
    return this.current?.rawHeaders;
  }
  /** The current try's raw trailers. */
  get rawTrailers(): Controller['rawTrailers'] {
    return this.current?.rawTrailers;
  }
  /** Ends the whole call (once): every wait below is cancelled, the try in flight aborted. */
  abort(reason: Error): void {
    this.cancel(reason);
  }
  /** Pauses the current try (and the ones after it). */
  pause(): void {
    this.#paused = true;
    this.current?.pause();
  }
  /** Resumes the current try. */
  resume(): void {
    this.#paused = false;
    this.current?.resume();
  }

  /**
   * Takes a try's controller as the one to follow, or aborts it when the call was
   * aborted meanwhile (the try waited somewhere, a pool's queue for one, and starts
   * only now: undici then writes nothing). Returns false when it aborted it.
   */
  protected adopt(controller: Controller): boolean {
    if (this.cancelled) {
      controller.abort(this.cancelReason!);
      return false;
    }
    this.current = controller;
    if (this.#paused) controller.pause();
    return true;
  }

  protected override whenCancelled(reason: Error): void {
    this.cancelCall(reason);
  }

  /** Stops every try of the call, in flight or to come, and answers the caller with `reason`. */
  protected abstract cancelCall(reason: Error): void;
}
