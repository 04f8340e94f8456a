import { EventEmitter } from 'node:events';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { InvalidOptionError } from '../core/errors/index.js';
import { formatValue } from '../core/validate.js';
import { loadSheddingSettings } from './adaptive-concurrency.js';
import { InboundExchange } from './exchange.js';
import { InboundStack, type InboundHandler } from './inbound-stack.js';
import { telemetryLayer } from './inbound-telemetry.js';
import { checkDrainOptions, lifecycleOf, type LifecycleMesh, type MeshLifecycle, type LifecycleState } from './lifecycle.js';
import { rateLimitSettings, type RateLimitSettings } from '../config/settings/rate-limit.js';
import { contextLayer, deadlineLayer, drainLayer, healthLayer, loadSheddingLayer, rateLimitLayer, type HealthPaths } from './steps.js';
import type { InboundOptions, MeshIncomingMessage } from './types.js';
import { rateLimitFromConfig, type RateLimitConfigMesh } from './rate-limit-config.js';
import { authorizationLayer, identityLayer, type SecurityMesh } from './security-steps.js';
import { pathSteps } from '../route/normalize-path.js';

/** What the inbound needs of a mesh: its lifecycle's needs, its namespace, its config's rate limits and security state. */
export type InboundMesh = LifecycleMesh & RateLimitConfigMesh & SecurityMesh;

/** Events of an {@link Inbound}. */
export interface InboundEvents {
  /**
   * An error the inbound caught so that no request hangs and the process does not crash:
   * a step or hook that threw (the request got a 500 if it had no answer yet), a handler
   * that threw or rejected. Without a listener each distinct message is a process warning once.
   */
  error: [error: Error];
}

const OPTION_KEYS = ['health', 'drain', 'rateLimit', 'loadShedding', 'telemetry', 'route', 'stack'];
/** Distinct error messages warned about when nobody listens (bounded). */
const MAX_WARNED = 100;

/**
 * The server side of the mesh for one server (or one app): the inbound stack every
 * request goes through before the application's handler. Make it with {@link inbound};
 * the Express and Fastify adapters make one for you.
 *
 * ```ts
 * const inboundSide = inbound(mesh, { rateLimit: { tokenBucket: { maxTokens: 100, tokensPerFill: 100, fillInterval: '1s' } } });
 * const server = createServer(inboundSide.handler((req, res) => res.end(`deadline: ${req.mesh.remainingMs}`)));
 * inboundSide.attach(server).listen(8080);
 * ```
 */
export class Inbound extends EventEmitter<InboundEvents> {
  /** The mesh's lifecycle: readiness, requests in flight, drain. Shared by every inbound of the mesh. */
  readonly lifecycle: MeshLifecycle;
  /** The steps, outermost first (after the `stack` option's edits). */
  readonly roles: readonly string[];
  readonly #handle: InboundHandler;
  readonly #routeOf: ((req: IncomingMessage) => string | undefined) | undefined;
  readonly #report = (error: unknown): void => this.#reportError(error);
  readonly #warned = new Set<string>();
  #lastServer: unknown;

  /** Use {@link inbound}. @param where the factory's name, for errors */
  constructor(mesh: InboundMesh, options: InboundOptions = {}, where = 'inbound') {
    super();
    if (mesh === null || typeof mesh !== 'object' || typeof mesh.close !== 'function' || typeof mesh.ready !== 'function') {
      throw new InvalidOptionError(where, [`mesh: ${formatValue(mesh)} (expected: a mesh from createMesh())`]);
    }
    const problems: string[] = [];
    if (options === null || typeof options !== 'object') throw new InvalidOptionError(where, [`options: ${formatValue(options)} (expected: an object)`]);
    for (const key of Object.keys(options)) if (!OPTION_KEYS.includes(key)) problems.push(`${key}: unknown field (expected one of: ${OPTION_KEYS.join(', ')})`);
    if (options.route !== undefined && typeof options.route !== 'function') problems.push(`route: ${formatValue(options.route)} (expected: a function (req) => route template)`);
    if (options.stack !== undefined && typeof options.stack !== 'function') problems.push(`stack: ${formatValue(options.stack)} (expected: a function (stack) => void)`);
    const health = healthPaths(options.health, problems);
    if (problems.length > 0) throw new InvalidOptionError(where, problems);
    const drain = options.drain === undefined ? undefined : checkDrainOptions(options.drain, where);
    const codeRateLimit: RateLimitSettings | undefined = options.rateLimit === undefined ? undefined : rateLimitSettings(options.rateLimit, where);
    const shedding = loadSheddingSettings(options.loadShedding, where);
    const view = typeof mesh.inboundConfig === 'function' ? mesh.inboundConfig() : undefined;
    const namespace = view?.namespace ?? 'default';
    const security = typeof mesh.inboundSecurity === 'function' ? mesh.inboundSecurity() : undefined;

    this.lifecycle = lifecycleOf(mesh);
    this.#routeOf = options.route;
    const stack = new InboundStack([
      healthLayer(health, this.lifecycle), // before everything: probes are never traced, limited or refused
      drainLayer(this.lifecycle), // counts every request that reaches the app or is refused below
      telemetryLayer(options.telemetry, { telemetry: view?.telemetry, labels: view?.labels ?? {}, namespace }, where), // sees the refusals below: they are spans, metrics and log lines too
      identityLayer(security?.security), // the caller's identity: mTLS peer, then JWT (401)
      authorizationLayer(security?.security, security?.pathSteps ?? pathSteps('BASE')), // AuthorizationPolicy (403)
      deadlineLayer(), // an expired request costs no rate-limit token
      codeRateLimit !== undefined ? rateLimitLayer(codeRateLimit) : rateLimitFromConfig(mesh, where, (e) => this.#reportError(e)), // 429
      loadSheddingLayer(shedding), // 503, innermost: measures the handler itself
      contextLayer(), // terminal: the handler runs in the request's trace context and deadline
    ]);
    options.stack?.(stack);
    this.roles = stack.roles();
    this.#handle = stack.build({ namespace });
    if (drain !== undefined) this.lifecycle.configure(drain);
  }

  /** The workload's readiness state, as `/healthz/ready` reports it. */
  get state(): LifecycleState {
    return this.lifecycle.state;
  }

  /**
   * Runs a request through the inbound stack; `proceed` continues to the application
   * (called inside the request's context, unless a step answered first). For adapters.
   * Never throws: a step that throws is reported and the request answered 500.
   * `setup` runs first, with the new exchange (an adapter sets its `replier` there);
   * `adapterState` becomes the exchange's `adapterState` before it runs.
   */
  handle(req: IncomingMessage, res: ServerResponse, proceed: () => void, setup?: (exchange: InboundExchange) => void, adapterState?: unknown): InboundExchange {
    const exchange = new InboundExchange(req, res, proceed, this.#routeOf, this.#report);
    exchange.adapterState = adapterState;
    (req as { mesh?: unknown }).mesh = exchange;
    if (setup !== undefined) setup(exchange);
    const server = (req.socket as { server?: unknown }).server;
    if (server !== this.#lastServer && server !== null && typeof (server as Server)?.close === 'function') {
      // Servers are found from their requests too, so a drain stops them even if attach() was forgotten.
      this.#lastServer = server;
      this.lifecycle.addServer(server as Server);
    }
    try {
      this.#handle(exchange);
    } catch (error) {
      this.fail(exchange, error);
    }
    return exchange;
  }

  /**
   * A node:http request listener: every request goes through the inbound stack, then to
   * `listener` with `req.mesh`. A listener that throws or rejects gets the request
   * answered 500 (if it had not answered yet) and an `error` event.
   */
  handler(listener: (req: MeshIncomingMessage, res: ServerResponse) => unknown): RequestListener {
    if (typeof listener !== 'function') throw new InvalidOptionError('inbound.handler', [`listener: ${formatValue(listener)} (expected: a function (req, res) => void)`]);
    return (req, res) => {
      this.handle(req, res, () => {
        const result = listener(req as MeshIncomingMessage, res);
        if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, (error: unknown) => {
            const exchange = InboundExchange.of(res);
            if (exchange !== undefined) this.fail(exchange, error);
          });
        }
      });
    };
  }

  /** Adds a server the drain stops accepting on (also found from its first request). */
  attach<S extends Server>(server: S): S {
    if (server === null || typeof server !== 'object' || typeof server.close !== 'function') {
      throw new InvalidOptionError('inbound.attach', [`server: ${formatValue(server)} (expected: an http.Server or https.Server)`]);
    }
    this.lifecycle.addServer(server);
    return server;
  }

  /**
   * Records an error of a request (a handler or step that threw): reported as an `error`
   * event; the request is answered 500 when nothing was sent yet, or its connection is
   * closed when the response had started (the caller must not take half an answer for a whole one).
   */
  fail(exchange: InboundExchange, error: unknown): void {
    exchange.error ??= error;
    this.#reportError(error);
    const res = exchange.res;
    if (!res.headersSent && !res.writableEnded) {
      exchange.flag('LR');
      exchange.reply(500, 'internal error\n');
    } else if (!res.writableEnded) {
      res.destroy();
    }
  }

  #reportError(error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', e);
      } catch (thrown) {
        process.nextTick(() => {
          throw thrown;
        });
      }
      return;
    }
    if (this.#warned.has(e.message) || this.#warned.size >= MAX_WARNED) return;
    this.#warned.add(e.message);
    process.emitWarning(`proxyless inbound: ${e.message}`, { code: 'PROXYLESS_W_INBOUND' });
  }
}

function healthPaths(health: InboundOptions['health'], problems: string[]): HealthPaths | undefined {
  if (health === false) return undefined;
  if (health === undefined) return { ready: '/healthz/ready', live: '/healthz/live' };
  if (health === null || typeof health !== 'object') {
    problems.push(`health: ${formatValue(health)} (expected: false, or { readyPath, livePath })`);
    return undefined;
  }
  for (const key of Object.keys(health)) if (key !== 'readyPath' && key !== 'livePath') problems.push(`health.${key}: unknown field (expected one of: readyPath, livePath)`);
  const check = (field: 'readyPath' | 'livePath', fallback: string): string => {
    const value = health[field] ?? fallback;
    if (typeof value !== 'string' || !/^\/[\x21-\x7e]{0,255}$/.test(value) || value.includes('?')) {
      problems.push(`health.${field}: ${formatValue(value)} (expected: a path such as "${fallback}", without a query)`);
    }
    return value;
  };
  const ready = check('readyPath', '/healthz/ready');
  const live = check('livePath', '/healthz/live');
  if (ready === live) problems.push(`health.livePath: ${formatValue(live)} (expected: a path other than readyPath)`);
  return { ready, live };
}

/**
 * The server side of the mesh: an {@link Inbound} whose stack runs, for every request,
 * the health endpoints, drain accounting, trace context and telemetry, the deadline,
 * local rate limiting and load shedding, then the handler inside the request's context.
 *
 * @param mesh the mesh (its readiness, config and drain)
 * @param options see {@link InboundOptions}; validated now (`InvalidOptionError`)
 */
export function inbound(mesh: InboundMesh, options?: InboundOptions): Inbound {
  return new Inbound(mesh, options);
}
