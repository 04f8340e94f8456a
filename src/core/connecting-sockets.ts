/**
 * The sockets that are still connecting (TCP connect, TLS handshake), so a close can end
 * them at once.
 *
 * Why: undici has no way to abandon a connection attempt. A pool's `destroy()` fails its
 * queued requests at once, but the socket being connected lives on until it connects or
 * its `connectTimeout` fires, keeping the process alive that long; and a pool's
 * `close()` waits for that attempt (it waits for every queued request, including one
 * whose caller has gone). An endpoint that accepts TCP and never answers the TLS
 * handshake, or a host whose SYNs are dropped, would make `mesh.close()` take up to
 * `connectTimeout` whatever `closeGracePeriod` says. Wrapping the pools' connector with
 * {@link ConnectingSockets.wrap} records each socket from the start of its attempt until
 * undici hears the outcome; {@link ConnectingSockets.destroyAll} ends the ones still
 * pending, and undici then sees an ordinary connection error.
 *
 * @module
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';

/** Connection attempts in progress through the connectors it wrapped. */
export class ConnectingSockets {
  readonly #pending = new Set<Socket>();
  #closedWith: Error | undefined;

  /** Attempts in progress now. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * `connector`, recording each socket it makes until its callback runs. After
   * {@link ConnectingSockets.destroyAll}, a new attempt fails at once with that error.
   */
  wrap(connector: buildConnector.connector): buildConnector.connector {
    return (options, callback) => {
      if (this.#closedWith !== undefined) {
        const error = this.#closedWith;
        queueMicrotask(() => callback(error, null));
        return undefined as unknown as Socket;
      }
      let socket: Socket | undefined;
      let settled = false;
      socket = connector(options, (...outcome: Parameters<buildConnector.Callback>) => {
        settled = true;
        if (socket !== undefined) this.#pending.delete(socket);
        callback(...outcome);
      }) as unknown as Socket | undefined;
      // A connector may answer synchronously (an immediate error): nothing to track then.
      if (!settled && socket !== undefined) this.#pending.add(socket);
      return socket as Socket;
    };
  }

  /** Ends every attempt in progress with `error` (their callbacks get it) and refuses new ones. */
  destroyAll(error: Error): void {
    this.#closedWith ??= error;
    for (const socket of [...this.#pending]) socket.destroy(error);
    this.#pending.clear();
  }
}
