/**
 * How a mesh closes: `close()` refuses new requests and lets those in flight finish
 * within the grace period; then (or at once, on `destroy()`) the shutdown runs, once:
 * every call still running is cancelled, its caller answered at once; pools are
 * destroyed and connection attempts ended, so close() takes no longer than its grace
 * period; listeners stop before any source is released; and everything is closed before
 * the returned promise settles, even when something's close() fails.
 *
 * @module
 */
import type { ConnectingSockets } from '../core/connecting-sockets.js';
import { MeshClosingError } from '../core/errors/index.js';
import type { MeshDispatcher } from './mesh-dispatcher.js';
import type { MeshService } from './mesh-service.js';

/** What a shutdown ends, in the order it ends them (read when it starts). */
export interface ShutdownParts {
  /** The mesh's outbound telemetry: closed first. */
  readonly telemetry: { close(): void };
  /** Every service held (its pools destroyed, then closed). */
  readonly services: readonly MeshService[];
  /** Connection attempts of every pool. */
  readonly connecting: ConnectingSockets;
  /** Admin servers started by the mesh: closed together with the services (an admin request arriving during shutdown may see services closing). */
  readonly admins: readonly { close(): Promise<void> }[];
  /** Stops the mesh's listeners (config watches, identity, sources' errors): first, so a source another mesh holds keeps running. */
  stopListening(): void;
  /** Closes the rest (the ServiceEntry source, files, held sources, the identity source); each promise is awaited, none cut short by another's failure. */
  closeRest(): Promise<void>[];
}

/** See the module comment. */
export class MeshShutdown {
  readonly #grace: number;
  readonly #dispatcher: MeshDispatcher;
  readonly #parts: () => ShutdownParts;
  #closing: Promise<void> | undefined;
  /** Set when the services are being closed: no service may be made after that. */
  #shutDown = false;
  #done: Promise<void> | undefined;

  /**
   * Takes over the dispatcher's `close()` (the same as the mesh's) and `destroy()` (a
   * shutdown at once). @param graceMs `closeGracePeriod`; @param parts what to end, read
   * when the shutdown starts
   */
  constructor(graceMs: number, dispatcher: MeshDispatcher, parts: () => ShutdownParts) {
    this.#grace = graceMs;
    this.#dispatcher = dispatcher;
    this.#parts = parts;
    dispatcher.onClose = () => this.close();
    dispatcher.onDestroy = (error) => this.shutdown(error ?? new MeshClosingError(0));
  }

  /** Closing or closed: nothing new may start (a service, a reload, an admin server). */
  get closed(): boolean {
    return this.#closing !== undefined || this.#shutDown;
  }

  /** The services are being closed: no service may be made any more. */
  get shutDown(): boolean {
    return this.#shutDown;
  }

  /** See `Mesh.close`. */
  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    const clean = await this.#dispatcher.drain(this.#grace);
    await this.shutdown(clean ? undefined : new MeshClosingError(this.#grace));
  }

  /**
   * Closes everything, once: `destroy()` and `close()` may both come (undici's idiom,
   * or a close that took too long), and a second run would release the sources' holds
   * again, closing a source under another mesh that still holds it. `error` is what
   * whatever still runs fails with (default: the grace period ran out).
   */
  shutdown(error: Error | undefined): Promise<void> {
    return (this.#done ??= this.#run(error ?? new MeshClosingError(this.#grace)));
  }

  /** Rejects with the first close() that failed, once everything has closed. */
  async #run(reason: Error): Promise<void> {
    this.#shutDown = true;
    const parts = this.#parts();
    const dispatcher = this.#dispatcher;
    const { services } = parts;
    parts.telemetry.close();
    void dispatcher.drain(0);
    // Whatever still runs (requests past the grace period, mirrored copies, requests
    // waiting for discovery or an endpoint) ends now, each caller answered at once.
    dispatcher.cancelAll(reason);
    // Every call has ended: what a pool still holds is a try whose caller was answered
    // (cancelled while it waited for a connection), which a pool's close() would wait for
    // until the attempt ends (up to connectTimeout). Pools are destroyed instead, and
    // attempts still connecting are ended: close() takes no longer than its grace period.
    await Promise.all(services.map((s) => s.destroy(reason)));
    parts.connecting.destroyAll(reason);
    // Stop listening before releasing: a source another mesh still holds keeps running.
    parts.stopListening();
    // Everything is closed before close() settles, even when a source's close() throws:
    // the first such error is then the outcome (Promise.all would settle at it, with pools
    // and other sources still closing).
    const outcomes = await Promise.allSettled([...parts.admins.map((a) => a.close()), ...services.map((s) => s.close()), dispatcher.closePassthrough(reason), ...parts.closeRest()]);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
