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

/** The HTTP version a connection speaks, in the access log's words (Envoy's `%PROTOCOL%`). */
export type ConnectionProtocol = 'HTTP/1.1' | 'HTTP/2';

/** The most targets whose connections' protocol is remembered (then the memory starts again). */
const MAX_PROTOCOLS = 4096;

/**
 * Connection attempts in progress through the connectors it wrapped, and the HTTP
 * version each target's latest connection speaks (for the access log's `protocol`).
 */
export class ConnectingSockets {
  readonly #pending = new Set<Socket>();
  /** `host:port` (IPv6 in brackets) → the protocol of the latest connection made to it. */
  readonly #protocols = new Map<string, ConnectionProtocol>();
  #closedWith: Error | undefined;

  /**
   * The HTTP version of the latest connection these connectors made to `target`
   * (`address:port`, an IPv6 address in brackets, as endpoint keys are written), or
   * undefined when none reached it. undici's rule: HTTP/2 when TLS negotiated `h2` by
   * ALPN, else HTTP/1.1. A pool's connections to one endpoint share one connector and one
   * ALPN offer, so they agree unless the server changes its answer between connections;
   * this is the protocol a request to that endpoint went out in, not one read from the
   * request itself (undici's handler API does not say which connection carried it).
   */
  protocolOf(target: string): ConnectionProtocol | undefined {
    return this.#protocols.get(target);
  }

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
        const connected = outcome[1];
        if (outcome[0] == null && connected != null) this.#remember(options, connected);
        callback(...outcome);
      }) as unknown as Socket | undefined;
      // A connector may answer synchronously (an immediate error): nothing to track then.
      if (!settled && socket !== undefined) this.#pending.add(socket);
      return socket as Socket;
    };
  }

  /** Notes the protocol of a connection just made (undici's choice: `h2` by ALPN, else HTTP/1.1). */
  #remember(options: buildConnector.Options, socket: Socket): void {
    const port = options.port === '' || options.port === undefined ? (options.protocol === 'https:' ? '443' : '80') : String(options.port);
    // undici strips an IPv6 address's brackets before calling the connector; endpoint keys keep them.
    const host = options.hostname.includes(':') && !options.hostname.startsWith('[') ? `[${options.hostname}]` : options.hostname;
    const key = `${host}:${port}`;
    const protocol: ConnectionProtocol = (socket as { alpnProtocol?: string | false | null }).alpnProtocol === 'h2' ? 'HTTP/2' : 'HTTP/1.1';
    if (this.#protocols.get(key) === protocol) return;
    if (this.#protocols.size >= MAX_PROTOCOLS) this.#protocols.clear();
    this.#protocols.set(key, protocol);
  }

  /** Ends every attempt in progress with `error` (their callbacks get it) and refuses new ones. */
  destroyAll(error: Error): void {
    this.#closedWith ??= error;
    for (const socket of [...this.#pending]) socket.destroy(error);
    this.#pending.clear();
  }
}
