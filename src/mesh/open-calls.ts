/**
 * The calls a dispatcher has not finished yet, mirrored copies included: counted for
 * `inFlight`, waited for by a drain, cancelled at once when the mesh shuts down.
 *
 * @module
 */
import type { RootCall, RootCallOwner } from '../core/root-call.js';

/**
 * See the module comment. A list threaded through the calls themselves: a Set
 * reallocated its table on nearly every add and delete at low concurrency (120 bytes per
 * request).
 */
export class OpenCalls implements RootCallOwner {
  #head: RootCall | undefined;
  #count = 0;
  #inFlight = 0;
  #idle: (() => void) | undefined;

  /** Callers' requests not finished yet (mirrored copies are not counted). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Adds a call that has just begun; returns it. */
  track(call: RootCall): RootCall {
    const head = this.#head;
    call.nextCall = head;
    if (head !== undefined) head.previousCall = call;
    this.#head = call;
    this.#count++;
    if (call.counted) this.#inFlight++;
    return call;
  }

  /** See {@link RootCallOwner.callFinished}: the call leaves the list (once). */
  callFinished(call: RootCall): void {
    const { previousCall: previous, nextCall: next } = call;
    if (previous === undefined && this.#head !== call) return; // not tracked, or already removed
    if (previous !== undefined) previous.nextCall = next;
    else this.#head = next;
    if (next !== undefined) next.previousCall = previous;
    call.previousCall = call.nextCall = undefined;
    this.#count--;
    if (call.counted) this.#inFlight--;
    if (this.#count === 0 && this.#idle) this.#idle();
  }

  /**
   * Ends every call still running with `error`: each caller is answered at once, each
   * wait ends, each request on a connection is aborted.
   */
  cancelAll(error: Error): void {
    const calls: RootCall[] = [];
    for (let call = this.#head; call !== undefined; call = call.nextCall) calls.push(call);
    for (const call of calls) call.cancel(error);
  }

  /** Resolves `true` once every call has finished, or `false` when `graceMs` passed first. */
  whenIdle(graceMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idle = undefined;
        resolve(false);
      }, graceMs);
      this.#idle = () => {
        clearTimeout(timer);
        this.#idle = undefined;
        resolve(true);
      };
    });
  }
}
