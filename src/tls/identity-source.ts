/**
 * Identity sources: where a workload's X.509-SVID comes from, and how a new one (a
 * rotation) reaches the TLS contexts that use it.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { IdentityNotReadyError } from '../core/errors/index.js';
import type { X509Svid } from './svid.js';

/** The events of an {@link IdentitySource}. */
export interface IdentitySourceEvents {
  /** A new SVID replaced the current one (the first one too, with `previous` undefined). */
  rotated: [svid: X509Svid, previous: X509Svid | undefined];
  /**
   * A problem that did not replace the current SVID: a half-written or mismatched pair of
   * files, a failed issuance. Emitted only when someone listens (never thrown).
   */
  error: [error: Error];
  /**
   * A new version that does not load was held back (file sources): it is taken if it
   * becomes good, reported as an `error` if it stays bad. Says why, for logs and tests.
   */
  held: [reason: string];
}

/**
 * A source of X.509-SVIDs for this workload. The mesh reads `current()` each time it
 * builds a TLS context and rebuilds them on `rotated`.
 *
 * To plug in another provider (SPIRE's Workload API, Istio's CA over gRPC), extend
 * {@link BaseIdentitySource}: call `publish(svid)` with each new SVID (made with
 * `loadSvid`, which checks it) and `reportError(error)` for a failure that keeps the
 * current one; implement `close()` to stop fetching. Rules every source keeps:
 *
 * - a new SVID is published only after it was checked whole (chain, rules, key);
 * - a failure never replaces a good SVID: it is reported, and the old one stays in use
 *   until a good one comes (or it expires: then handshakes fail with `expired`);
 * - `ready()` resolves with the first SVID and rejects only when the source is closed
 *   first (or its timeout passes); `close()` stops all timers and watches.
 */
export interface IdentitySource {
  /** The source's name, e.g. `files(/etc/certs)`, `dev(spiffe://cluster.local/ns/a/sa/b)`. */
  readonly name: string;
  /** The SVID in use now, or undefined before the first one. */
  current(): X509Svid | undefined;
  /** Resolves with the first SVID (at once if there is one). */
  ready(options?: { readonly timeout?: number }): Promise<X509Svid>;
  /** Listens to `rotated` and `error`. */
  on<E extends keyof IdentitySourceEvents>(event: E, listener: (...args: IdentitySourceEvents[E]) => void): this;
  /** Stops listening. */
  off<E extends keyof IdentitySourceEvents>(event: E, listener: (...args: IdentitySourceEvents[E]) => void): this;
  /** Stops watching and rotating; `current()` keeps answering the last SVID. */
  close(): Promise<void>;
}

/** The shared part of identity sources: the current SVID, `ready()`, events. */
export abstract class BaseIdentitySource extends EventEmitter<IdentitySourceEvents> implements IdentitySource {
  /** See {@link IdentitySource.name}. */
  abstract readonly name: string;
  #current: X509Svid | undefined;
  #lastError: Error | undefined;
  #closed = false;
  #waiters = new Set<{ resolve: (svid: X509Svid) => void; reject: (error: Error) => void }>();

  /** See {@link IdentitySource.current}. */
  current(): X509Svid | undefined {
    return this.#current;
  }

  /** The last error reported, if any (cleared by a successful rotation). */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** See {@link IdentitySource.ready}. */
  ready(options: { readonly timeout?: number } = {}): Promise<X509Svid> {
    if (this.#current) return Promise.resolve(this.#current);
    if (this.#closed) return Promise.reject(new IdentityNotReadyError(this.name, 'it was closed', this.#lastError));
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        resolve: (svid: X509Svid) => {
          clearTimeout(timer);
          resolve(svid);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
      if (options.timeout !== undefined) {
        timer = setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new IdentityNotReadyError(this.name, `none within ${options.timeout} ms`, this.#lastError));
        }, options.timeout);
      }
    });
  }

  /** Makes `svid` current and tells listeners; resolves `ready()`. */
  protected publish(svid: X509Svid): void {
    if (this.#closed) return;
    const previous = this.#current;
    this.#current = svid;
    this.#lastError = undefined;
    for (const waiter of this.#waiters) waiter.resolve(svid);
    this.#waiters.clear();
    try {
      this.emit('rotated', svid, previous);
    } catch (error) {
      this.reportError(new Error(`${this.name}: a 'rotated' listener threw: ${(error as Error).message}`, { cause: error }));
    }
  }

  /** Reports a failure that keeps the current SVID: an `error` event when someone listens. */
  protected reportError(error: Error): void {
    this.#lastError = error;
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** Marks the source closed and rejects pending `ready()` calls; subclasses stop their work, then call this. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters) waiter.reject(new IdentityNotReadyError(this.name, 'it was closed', this.#lastError));
    this.#waiters.clear();
  }
}
