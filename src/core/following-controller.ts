import type { Dispatcher } from 'undici';

type Controller = Dispatcher.DispatchController;

/**
 * The controller a caller holds for a call made of several tries (retries, hedged
 * backups): it follows the try in force, so `pause`/`resume` and the response's raw
 * headers are the current try's, and `abort()` ends the whole call through
 * {@link FollowingController.cancelCall}. Subclasses are the call objects themselves,
 * so a call costs one object, not two.
 */
export abstract class FollowingController implements Controller {
  /** The current try's controller. */
  current: Controller | undefined;
  #aborted = false;
  #paused = false;
  #reason: Error | null = null;

  /** True once the caller aborted the call. */
  get aborted(): boolean {
    return this.#aborted;
  }
  /** True while the caller has paused the response. */
  get paused(): boolean {
    return this.#paused;
  }
  /** Why the caller aborted, if it did. */
  get reason(): Error | null {
    return this.#reason;
  }
  /** The current try's raw response headers. */
  get rawHeaders(): Controller['rawHeaders'] {
    return this.current?.rawHeaders;
  }
  /** The current try's raw trailers. */
  get rawTrailers(): Controller['rawTrailers'] {
    return this.current?.rawTrailers;
  }
  /** Ends the whole call (once). */
  abort(reason: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.cancelCall(reason);
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

  /** Stops every try of the call, in flight or to come. */
  protected abstract cancelCall(reason: Error): void;
}
