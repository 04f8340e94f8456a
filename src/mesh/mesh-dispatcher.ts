import { Agent, Dispatcher, Dispatcher1Wrapper } from 'undici';
import {
  DiscoveryTimeoutError,
  InvalidRequestError,
  MeshClosedError,
  UnknownServiceError,
} from '../core/errors.js';
import { failDispatch, ForwardingHandler } from '../core/forwarding-handler.js';
import { hasHeader, withHeader } from '../core/headers.js';
import type { MeshService } from './mesh-service.js';

type Controller = Dispatcher.DispatchController;

/** undici ships `Dispatcher1Wrapper.wrapHandler` without a type declaration. */
interface LegacyWrapper {
  wrapHandler(handler: object): Dispatcher.DispatchHandler;
}

/** A parsed request origin, cached: the per-request path does no URL parsing. */
interface Route {
  readonly service: MeshService;
  /** `host[:port]` as written, sent as the `host` header so the backend sees the logical name. */
  readonly authority: string;
  readonly protocol: string;
}

/** What the dispatcher needs from the mesh. */
export interface DispatcherContext {
  /** The service for a URL host and port (created and watched on first use). */
  service(host: string, port: number): MeshService;
  readonly registryOnly: boolean;
  readonly discoveryTimeout: number;
  readonly closeGracePeriod: number;
  /** Pool options for hosts passed through untouched. */
  readonly passthroughOptions: Agent.Options;
}

/** Counts a request as in flight from dispatch until its response ends or fails. */
class InFlightHandler extends ForwardingHandler {
  readonly #owner: MeshDispatcher;
  #done = false;

  constructor(next: Dispatcher.DispatchHandler, owner: MeshDispatcher) {
    super(next);
    this.#owner = owner;
  }

  override onResponseEnd(controller: Controller, trailers: Parameters<ForwardingHandler['onResponseEnd']>[1]): void {
    this.#finish();
    super.onResponseEnd(controller, trailers);
  }

  override onResponseError(controller: Controller, error: Error): void {
    this.#finish();
    super.onResponseError(controller, error);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onRequestUpgrade']>[2], socket: Parameters<ForwardingHandler['onRequestUpgrade']>[3]): void {
    this.#finish();
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#owner.requestFinished();
  }
}

const MAX_CACHED_ORIGINS = 10_000;

/**
 * The mesh as an undici Dispatcher: `undici.request(url, { dispatcher })`, undici's or
 * Node's `fetch(url, { dispatcher })`, and `setGlobalDispatcher(dispatcher)` all enter
 * here. The URL's host names the service; hosts no source knows follow the outbound
 * traffic policy. Accepts both undici handler APIs, so Node 22/24's bundled fetch
 * (which speaks the older one) works without a wrapper.
 */
export class MeshDispatcher extends Dispatcher {
  readonly #context: DispatcherContext;
  readonly #routes = new Map<string, Route>();
  #passthrough: Agent | undefined;
  #inFlight = 0;
  #closed = false;
  #idle: (() => void) | undefined;

  /**
   * Made by the mesh; use `mesh.dispatcher`.
   * @internal
   */
  constructor(context: DispatcherContext) {
    super();
    this.#context = context;
  }

  /** Requests dispatched and not yet finished. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** True after `close()` began. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Routes one request. Errors reach `handler.onResponseError`; nothing throws. */
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (typeof handler.onRequestStart !== 'function') {
      // A consumer of undici's older handler API (Node 22/24's bundled fetch).
      handler = (Dispatcher1Wrapper as unknown as LegacyWrapper).wrapHandler(handler);
      if ((opts as { allowH2?: boolean }).allowH2 !== false) opts = { ...opts, allowH2: false } as Dispatcher.DispatchOptions;
    }
    if (this.#closed) return failDispatch(handler, new MeshClosedError());
    const origin = opts.origin;
    const key = typeof origin === 'string' ? origin : origin instanceof URL ? origin.origin : undefined;
    if (key === undefined) {
      return failDispatch(handler, new InvalidRequestError('the request has no origin: call with an absolute URL such as http://reviews/api/1'));
    }
    let route = this.#routes.get(key);
    if (route === undefined) {
      try {
        route = this.#route(key);
      } catch (error) {
        return failDispatch(handler, error as Error);
      }
    }
    this.#inFlight++;
    const tracked = new InFlightHandler(handler, this);
    try {
      return this.#send(route, opts, tracked);
    } catch (error) {
      // A layer threw (e.g. a user layer's wrap); the caller gets the error, never a hang.
      return failDispatch(tracked, error as Error);
    }
  }

  #send(route: Route, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const service = route.service;
    switch (service.status) {
      case 'known':
        if (service.balancer === undefined) return this.#passThrough(opts, handler);
        if (route.protocol !== 'http:') {
          return failDispatch(
            handler,
            new InvalidRequestError(
              `"${route.authority}" is a mesh service: call it with http://${route.authority}/...; ` +
                `the mesh balances plain HTTP to its endpoints (TLS to endpoints is configured per ` +
                `service, not with an https:// URL)`,
            ),
          );
        }
        if (!hasHeader(opts.headers, 'host')) opts = { ...opts, headers: withHeader(opts.headers, 'host', route.authority) };
        return service.dispatch(opts, handler);
      case 'missing':
        if (this.#context.registryOnly) {
          return failDispatch(handler, new UnknownServiceError(service.name.host, service.sourceNames()));
        }
        return this.#passThrough(opts, handler);
      default: {
        // Discovery has not answered yet for this host: wait for it, bounded.
        const timeout = this.#context.discoveryTimeout;
        void service.waitUntil(timeout, () => service.status !== 'pending').then((settled) => {
          if (!settled) {
            failDispatch(handler, new DiscoveryTimeoutError(service.name.host, service.pendingSources(), timeout));
            return;
          }
          try {
            this.#send(route, opts, handler);
          } catch (error) {
            failDispatch(handler, error as Error);
          }
        });
        return true;
      }
    }
  }

  #passThrough(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const agent = this.#passthrough ?? (this.#passthrough = new Agent(this.#context.passthroughOptions));
    return agent.dispatch(opts, handler);
  }

  #route(origin: string): Route {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new InvalidRequestError(`origin ${JSON.stringify(origin)} is not a URL (expected: e.g. http://reviews:9080)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidRequestError(`${url.protocol} URLs are not supported (expected: http: or https:)`);
    }
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    const route: Route = { service: this.#context.service(hostname, port), authority: url.host, protocol: url.protocol };
    // A plain bound keeps hosts from an unbounded set of URLs from growing memory.
    if (this.#routes.size >= MAX_CACHED_ORIGINS) this.#routes.clear();
    this.#routes.set(origin, route);
    return route;
  }

  /**
   * Drops the cached origin → service routes (after services were forgotten).
   * @internal
   */
  forgetRoutes(): void {
    this.#routes.clear();
  }

  /**
   * Called when a request finishes (its response ended or failed).
   * @internal
   */
  requestFinished(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle) this.#idle();
  }

  /**
   * Refuses new requests and resolves once every in-flight request has finished or
   * `graceMs` has passed (resolving `false` then).
   */
  drain(graceMs: number): Promise<boolean> {
    this.#closed = true;
    if (this.#inFlight === 0) return Promise.resolve(true);
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

  /** Closes the pass-through pools (after {@link drain}). */
  async closePassthrough(error?: Error): Promise<void> {
    if (!this.#passthrough) return;
    if (error) await this.#passthrough.destroy(error);
    else await this.#passthrough.close();
  }

  /** undici's `close()`: the same as `mesh.close()`, set by the mesh. */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = this.onClose();
    if (callback) void done.then(callback);
    else return done;
  }

  /** undici's `destroy()`: closes at once, failing requests in flight. */
  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const callback = typeof a === 'function' ? a : b;
    const done = this.onDestroy(typeof a === 'function' ? null : (a ?? null));
    if (callback) void done.then(callback);
    else return done;
  }

  /** Set by the mesh: what `close()` does. */
  onClose: () => Promise<void> = () => Promise.resolve();
  /** Set by the mesh: what `destroy()` does. */
  onDestroy: (error: Error | null) => Promise<void> = () => Promise.resolve();
}
