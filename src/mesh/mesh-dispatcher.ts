import { Agent, Dispatcher, Dispatcher1Wrapper } from 'undici';
import {
  DiscoveryTimeoutError,
  InvalidRequestError,
  MeshClosedError,
  UnknownServiceError,
} from '../core/errors/index.js';
import { cancellationOf, kCancellation } from '../core/cancellation.js';
import { failDispatch } from '../core/forwarding-handler.js';
import { hasHeader, withHeader } from '../core/headers.js';
import { isStreamBody, ReplayableBody } from '../core/replayable-body.js';
import { RootCall } from '../core/root-call.js';
import type { ServiceName } from '../discovery/types.js';
import { normalizePath, type PathSteps } from '../route/normalize-path.js';
import { RequestView } from '../route/request-view.js';
import type { CompiledVirtualService } from '../route/route-table.js';
import { routeRequest, type RouterContext } from '../route/router.js';
import type { MeshService } from './mesh-service.js';
import { callTelemetryOf, kCallTelemetry } from '../telemetry/call-hooks.js';
import type { CallTelemetry } from '../telemetry/call-telemetry.js';
import { sendAttempt } from '../telemetry/attempt-telemetry.js';
import { OutboundTelemetry } from '../telemetry/outbound-telemetry.js';
import { OpenCalls } from './open-calls.js';

/** undici ships `Dispatcher1Wrapper.wrapHandler` without a type declaration. */
interface LegacyWrapper {
  wrapHandler(handler: object): Dispatcher.DispatchHandler;
}

/** A parsed request origin, cached: the per-request path does no URL parsing. */
interface Route {
  /** The host's own service (used when no VirtualService binds the host). */
  readonly service: MeshService;
  /** The VirtualService bound to the host, if any. */
  readonly virtualService: CompiledVirtualService | undefined;
  /** `host[:port]` as written, sent as the `host` header so the backend sees the logical name. */
  readonly authority: string;
  /** `http:` or `https:`. */
  readonly protocol: string;
  /** The port the caller used. */
  readonly port: number;
  /** The router's callbacks for this origin, made once (not per request). */
  router?: RouterContext;
}

/** What the dispatcher needs from the mesh. */
export interface DispatcherContext {
  /** The service for a host, port, scheme and subset (created and watched on first use). */
  service(name: ServiceName, port: number, secure: boolean, subset?: string): MeshService;
  /** The names of a URL host. */
  name(host: string): ServiceName;
  /** The VirtualService bound to a host, if any. */
  /** The VirtualService for a host, for requests on `port`. */
  virtualService(name: ServiceName, port: number): CompiledVirtualService | undefined;
  readonly registryOnly: boolean;
  readonly discoveryTimeout: number;
  readonly closeGracePeriod: number;
  /** Bytes of a streamed request body kept so it can be sent again (`requestBufferLimit`). */
  readonly requestBufferLimit: number;
  /** Pool options for hosts passed through untouched. */
  readonly passthroughOptions: Agent.Options;
  /** How request paths are normalised before routing (Istio's `pathNormalization`). */
  readonly pathSteps: PathSteps;
  /** The mesh's outbound telemetry. */
  readonly telemetry?: DispatcherTelemetry | undefined;
}

/**
 * What the dispatcher asks of the mesh's outbound telemetry (`OutboundTelemetry`), in
 * types that name nothing of `@opentelemetry/api` (an optional peer: the package's
 * declarations must not import it).
 */
export interface DispatcherTelemetry {
  /** The call's telemetry, a handler around `caller`; undefined when nothing would see the call. `parent`: the call a mirror copies. */
  begin(caller: Dispatcher.DispatchHandler, opts: Dispatcher.DispatchOptions, origin: string, parent?: object): Dispatcher.DispatchHandler | undefined;
  /** The dispatcher picked `service` for the call on `opts` (`passthrough`: a host no source knows). */
  toService(opts: Dispatcher.DispatchOptions, service: MeshService, passthrough?: boolean): void;
}

/** The handler of a mirrored copy: its response is dropped, it never affects the caller. */
const DISCARD: Dispatcher.DispatchHandler = {
  onRequestStart() {},
  onResponseStart() {},
  onResponseData() {},
  onResponseEnd() {},
  onResponseError() {},
};

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
  /** Every call not finished yet, mirrored copies included: cancelled when the mesh shuts down. */
  readonly #calls = new OpenCalls();
  #closed = false;

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
    return this.#calls.inFlight;
  }

  /** True after `close()` began. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Routes one request. Errors reach `handler.onResponseError`; nothing throws. Returns
   * `true` always: in undici's contract `false` asks the caller to wait for a `drain`
   * event, and the mesh never makes a caller wait (its pools queue, its limits fail
   * fast), so it never emits one.
   *
   * The caller gets its controller at once (`onRequestStart`), before any wait: its
   * abort then ends the request wherever it is, answered at once (the call object is
   * `src/core/root-call.ts`).
   */
  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (typeof handler.onRequestStart !== 'function') {
      // A consumer of undici's older handler API (Node 22/24's bundled fetch).
      handler = (Dispatcher1Wrapper as unknown as LegacyWrapper).wrapHandler(handler);
      if ((opts as { allowH2?: boolean }).allowH2 !== false) opts = { ...opts, allowH2: false } as Dispatcher.DispatchOptions;
    }
    if (this.#closed) return failDispatch(handler, new MeshClosedError());
    if (typeof opts.path === 'string') {
      // Before anything reads the path: routes match, and the upstream gets, the normal form.
      let path: string;
      try {
        path = normalizePath(opts.path, this.#context.pathSteps);
      } catch (error) {
        return failDispatch(handler, error as Error);
      }
      if (path !== opts.path) opts = { ...opts, path };
    }
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
    // The call's telemetry sits between the call and the caller: it sees how the call ends.
    const telemetry = this.#context.telemetry?.begin(handler, opts, key) as CallTelemetry | undefined;
    const call = this.#calls.track(new RootCall(telemetry ?? handler, this.#calls));
    try {
      // An abort before the request was made (an already-aborted signal) sends nothing.
      if (!call.begin()) return true;
      this.#send(route, this.#callOptions(opts, call, route, telemetry), call);
    } catch (error) {
      // A layer threw (e.g. a user layer's wrap); the caller gets the error, never a hang.
      failDispatch(call, error as Error);
    }
    return true;
  }

  /**
   * The request's options for the layers, in one copy: its cancellation, the logical
   * `host` header when no VirtualService routes it (the router writes its own), and a
   * streamed body made replayable.
   */
  #callOptions(opts: Dispatcher.DispatchOptions, call: RootCall, route: Route, telemetry: CallTelemetry | undefined): Dispatcher.DispatchOptions {
    const headers = route.virtualService === undefined && !hasHeader(opts.headers, 'host') ? withHeader(opts.headers, 'host', route.authority) : opts.headers;
    if (!isStreamBody(opts.body)) return { ...opts, headers, [kCancellation]: call, [kCallTelemetry]: telemetry } as Dispatcher.DispatchOptions;
    const body = new ReplayableBody(opts.body, this.#context.requestBufferLimit, route.service.name.host);
    call.body = body;
    return { ...opts, headers, body: body.view(), [kCancellation]: call, [kCallTelemetry]: telemetry } as unknown as Dispatcher.DispatchOptions;
  }

  /**
   * Ends every call still running (requests and mirrored copies) with `error`: each
   * caller is answered at once, each wait ends, each request on a connection is aborted.
   * @internal
   */
  cancelAll(error: Error): void {
    this.#calls.cancelAll(error);
  }

  #send(route: Route, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const vs = route.virtualService;
    if (vs !== undefined) {
      const request = new RequestView(opts, route.protocol === 'https:' ? 'https' : 'http', route.authority, route.port);
      return routeRequest(vs, request, handler, (route.router ??= this.#routerContext(route)));
    }
    return this.#sendToService(route.service, opts, handler, true);
  }

  /** The router's way back into the mesh for one request's origin. */
  #routerContext(route: Route): RouterContext {
    return {
      random: Math.random,
      sendTo: (destination, port, opts, handler) => {
        const service = this.#context.service(destination.name, port, route.protocol === 'https:', destination.subset);
        // The request's own host may pass through (ALLOW_ANY) when discovery does not know it.
        const ownHost = destination.name.fqdn === route.service.name.fqdn;
        return this.#sendToService(service, opts, handler, ownHost);
      },
      mirror: (destination, port, opts) => {
        // A copy is its own call: the caller's abort does not end it, the mesh closing does.
        if (this.#closed) return;
        const main = callTelemetryOf(opts);
        const telemetry = (main === undefined ? undefined : this.#context.telemetry?.begin(DISCARD, opts, main.origin, main)) as CallTelemetry | undefined;
        const call = this.#calls.track(new RootCall(telemetry ?? DISCARD, this.#calls, false));
        if (!call.begin()) return;
        const service = this.#context.service(destination.name, port, route.protocol === 'https:', destination.subset);
        try {
          const copy = { ...opts, [kCancellation]: call } as Dispatcher.DispatchOptions;
          this.#sendToService(service, telemetry === undefined ? copy : OutboundTelemetry.attach(copy, telemetry), call, false);
        } catch (error) {
          failDispatch(call, error as Error);
        }
      },
    };
  }

  /**
   * Sends to one service according to what discovery knows of it: through its stack when
   * known, passed through (or refused, REGISTRY_ONLY) when unknown, after a bounded wait
   * while discovery has not answered; the wait ends at once when the request is
   * cancelled (the caller's abort, the mesh closing).
   */
  #sendToService(service: MeshService, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, mayPassThrough: boolean): boolean {
    // Counted on the service until the response ends: a busy service is never evicted.
    const tracked = service.track(handler);
    try {
      return this.#sendTracked(service, opts, tracked, mayPassThrough);
    } catch (error) {
      return failDispatch(tracked, error as Error);
    }
  }

  #sendTracked(service: MeshService, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, mayPassThrough: boolean): boolean {
    switch (service.status) {
      case 'known':
        if (service.balancer === undefined) return this.#passThrough(opts, handler, service, false);
        this.#context.telemetry?.toService(opts, service);
        return service.dispatch(opts, handler);
      case 'missing':
        if (this.#context.registryOnly || !mayPassThrough) {
          return failDispatch(handler, new UnknownServiceError(service.name.host, service.sourceNames(), mayPassThrough ? undefined : 'route'));
        }
        return this.#passThrough(opts, handler, service, true);
      default: {
        // Discovery has not answered yet for this host: wait for it, bounded.
        const timeout = this.#context.discoveryTimeout;
        service.wait(timeout, () => service.status !== 'pending', cancellationOf(opts), (outcome) => {
          if (outcome instanceof Error) return void failDispatch(handler, outcome);
          if (!outcome) return void failDispatch(handler, new DiscoveryTimeoutError(service.name.host, service.pendingSources(), timeout));
          try {
            this.#sendTracked(service, opts, handler, mayPassThrough);
          } catch (error) {
            failDispatch(handler, error as Error);
          }
        });
        return true;
      }
    }
  }

  #passThrough(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, service: MeshService, unknown: boolean): boolean {
    const agent = this.#passthrough ?? (this.#passthrough = new Agent(this.#context.passthroughOptions));
    const telemetry = callTelemetryOf(opts);
    if (telemetry === undefined) return agent.dispatch(opts, handler);
    // Traced and propagated as a sidecar's outbound passthrough is: one try, to the host itself.
    const host = telemetry.hub.passthroughTarget(service, unknown);
    telemetry.hub.toService(opts, service, unknown);
    return sendAttempt(telemetry, host, opts, handler, (o, h) => agent.dispatch(o, h));
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
    const name = this.#context.name(hostname);
    const route: Route = {
      service: this.#context.service(name, port, url.protocol === 'https:'),
      virtualService: this.#context.virtualService(name, port),
      authority: url.host,
      protocol: url.protocol,
      port,
    };
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
   * Refuses new requests and resolves once every call (mirrored copies included) has
   * finished or `graceMs` has passed (resolving `false` then).
   */
  drain(graceMs: number): Promise<boolean> {
    this.#closed = true;
    return this.#calls.whenIdle(graceMs);
  }

  /**
   * Destroys the pass-through pools, once {@link drain} has ended and every call left was
   * cancelled: what they still hold is a try whose caller was answered, which a `close()`
   * would wait for until its connection attempt ended.
   */
  async closePassthrough(error: Error): Promise<void> {
    if (!this.#passthrough) return;
    await this.#passthrough.destroy(error);
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
