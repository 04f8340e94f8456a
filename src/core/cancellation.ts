import type { Dispatcher } from 'undici';

/**
 * Cancellation of a request before it has a connection.
 *
 * undici's handler API can cancel a request only through the controller it hands over
 * in `onRequestStart`, which comes when the request is written to a socket. Before that,
 * a request of the mesh may be waiting in several places: a fault delay, discovery's
 * first answer, an endpoint to appear, a retry's backoff, a hedge's delay, an endpoint
 * pool's queue. A {@link Cancellation} travels on the request options (under
 * {@link kCancellation}) so each of those waits can be ended at once when the caller
 * aborts, a timeout fires or the mesh closes, instead of running on and sending the
 * request after the caller has gone.
 *
 * The rules every layer of the mesh follows:
 *
 * - A wait registers a listener with {@link Cancellation.listen} and removes it with
 *   {@link Cancellation.unlisten} when it ends; a cancelled wait clears its timer and
 *   fails its handler with the reason.
 * - A layer that cancels part of a call (a try, a backup) gives that part its own
 *   cancellation, linked to the one it received, and puts it on the options it passes on.
 * - A handler that has answered its caller before its request started aborts that
 *   request when it starts (`onRequestStart`): undici then writes nothing. This is what
 *   cancels a request queued in an undici pool, which has no other way out.
 */
export const kCancellation = Symbol.for('proxyless.cancellation');

/** Told once, when a {@link Cancellation} it listens to is cancelled. */
export interface CancelListener {
  /** The cancellation happened; `reason` is what the caller or layer gave. */
  onCancel(reason: Error): void;
}

/**
 * A cancellation scope: cancelled at most once, with a reason, telling its listeners.
 * Subclasses are the call and try objects of the layers (one object per call, not two);
 * a scope is itself a listener, so a child scope links to its parent by listening.
 */
export class Cancellation implements CancelListener {
  #reason: Error | undefined;
  /** One listener (the common case) or several; undefined when none. */
  #listeners: CancelListener | CancelListener[] | undefined;
  #parent: Cancellation | undefined;

  /** True once cancelled. */
  get cancelled(): boolean {
    return this.#reason !== undefined;
  }

  /** Why it was cancelled, if it was. */
  get cancelReason(): Error | undefined {
    return this.#reason;
  }

  /**
   * Adds a listener. When already cancelled, the listener is told at once and not kept.
   * @returns false when it was already cancelled (the listener has been told)
   */
  listen(listener: CancelListener): boolean {
    if (this.#reason !== undefined) {
      listener.onCancel(this.#reason);
      return false;
    }
    const current = this.#listeners;
    if (current === undefined) this.#listeners = listener;
    else if (Array.isArray(current)) current.push(listener);
    else this.#listeners = [current, listener];
    return true;
  }

  /** Removes a listener (a wait that ended, a try that finished). */
  unlisten(listener: CancelListener): void {
    const current = this.#listeners;
    if (current === listener) this.#listeners = undefined;
    else if (Array.isArray(current)) {
      const index = current.indexOf(listener);
      if (index >= 0) current.splice(index, 1);
    }
  }

  /**
   * Cancels (only the first call counts): records the reason, runs
   * {@link Cancellation.whenCancelled} (the owner answers its caller), then tells every
   * listener (waits stop and fail their handlers, whose answers then go nowhere).
   * @returns true when this call cancelled it
   */
  cancel(reason: Error): boolean {
    if (this.#reason !== undefined) return false;
    this.#reason = reason;
    // The owner first (it answers its caller with the reason), then the waits below.
    this.whenCancelled(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) {
      if (Array.isArray(listeners)) for (const listener of listeners) listener.onCancel(reason);
      else listeners.onCancel(reason);
    }
    return true;
  }

  /**
   * Follows `parent` (when given): cancelled when it is, at once if it already is. Call
   * {@link Cancellation.unfollow} when this scope is done, so a long-lived parent does
   * not keep it.
   */
  follow(parent: Cancellation | undefined): void {
    if (parent === undefined || parent === this) return;
    this.#parent = parent;
    parent.listen(this);
  }

  /** Stops following the parent. */
  unfollow(): void {
    this.#parent?.unlisten(this);
    this.#parent = undefined;
  }

  /** A parent scope was cancelled: so is this one. */
  onCancel(reason: Error): void {
    this.cancel(reason);
  }

  /** What a subclass does once cancelled (before the listeners are told). */
  protected whenCancelled(_reason: Error): void {}
}

/** Request options with a cancellation attached (internal). */
export type CancellableOptions = Dispatcher.DispatchOptions & { [kCancellation]?: Cancellation };

/** The cancellation of a request, if a layer above gave it one. */
export function cancellationOf(opts: Dispatcher.DispatchOptions): Cancellation | undefined {
  return (opts as CancellableOptions)[kCancellation];
}
