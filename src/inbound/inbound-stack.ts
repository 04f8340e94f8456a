import { InvalidOptionError } from '../core/errors/index.js';
import { RoleList } from '../core/role-list.js';
import type { InboundExchange } from './exchange.js';
import type { InboundTarget } from './types.js';

/**
 * One inbound step: takes the exchange and either answers it (a refusal) or calls the
 * next step. Synchronous: a step that must wait keeps the exchange and calls `next` later.
 */
export type InboundHandler = (exchange: InboundExchange) => void;

/**
 * A named step of the inbound stack, the mirror of the outbound {@link Layer}: `wrap`
 * gets the next step and returns this one, once per inbound (never per request). A step
 * with nothing to do may return `next` itself: it then costs nothing per request.
 */
export interface InboundLayer {
  /** The role name, unique in the stack, e.g. `rate-limit`. */
  readonly role: string;
  /** Builds this step around `next`. */
  wrap(next: InboundHandler, target: InboundTarget): InboundHandler;
}

/** Creates an {@link InboundLayer}, checking the role name. */
export function inboundLayer(role: string, wrap: (next: InboundHandler, target: InboundTarget) => InboundHandler): InboundLayer {
  if (typeof role !== 'string' || !/^[a-z][a-z0-9-]*$/.test(role)) {
    throw new InvalidOptionError('inboundLayer', [`role: ${JSON.stringify(role)} (expected: a kebab-case name such as "audit-log")`]);
  }
  if (typeof wrap !== 'function') {
    throw new InvalidOptionError('inboundLayer', [`wrap: ${typeof wrap} (expected: a function (next, target) => handler)`]);
  }
  return { role, wrap };
}

/**
 * The inbound steps, outermost first; a request enters at the first and reaches the
 * application through the last (`context`, terminal: it runs the handler in the
 * request's trace context and deadline). The default roles, each with why it sits there:
 *
 * | role | what |
 * | --- | --- |
 * | `health` | answers the health endpoints before anything else (not traced, never limited) |
 * | `drain` | counts requests in flight; during a drain, responses carry `Connection: close` |
 * | `telemetry` | trace context in, SERVER span, `http.server.request.duration`, access log: it sees every refusal below |
 * | `identity` | the caller's identity: the mTLS peer the mesh's server verified, then RequestAuthentication (401) |
 * | `authorization` | AuthorizationPolicy: CUSTOM, DENY, ALLOW (403 `RBAC: access denied`); one check when no policy applies |
 * | `deadline` | the caller's deadline; already expired: 504 at once (before it costs a rate-limit token) |
 * | `rate-limit` | local token buckets: 429 |
 * | `load-shedding` | adaptive concurrency limit: 503, innermost so it measures the handler's own latency |
 * | `context` | terminal: runs the application inside the trace context and deadline (AsyncLocalStorage) |
 */
export class InboundStack {
  readonly #list: RoleList<InboundLayer>;

  /** @param layers outermost first; the last one is terminal */
  constructor(layers: readonly InboundLayer[]) {
    this.#list = new RoleList({ owner: 'inbound stack', step: 'step', factory: 'inboundLayer(role, wrap)' }, layers);
  }

  /** Role names, outermost first. */
  roles(): string[] {
    return this.#list.roles();
  }

  /** Inserts `added` just outside (before) the step with `role`. */
  insertBefore(role: string, added: InboundLayer): this {
    this.#list.insertBefore(role, added);
    return this;
  }

  /** Inserts `added` just inside (after) the step with `role`. Not after the terminal step. */
  insertAfter(role: string, added: InboundLayer): this {
    this.#list.insertAfter(role, added);
    return this;
  }

  /** Replaces the step with `role` (the security layers replace `identity` and `authorization`). */
  replace(role: string, replacement: InboundLayer): this {
    this.#list.replace(role, replacement);
    return this;
  }

  /** Removes the step with `role`. The terminal step cannot be removed. */
  remove(role: string): this {
    this.#list.remove(role);
    return this;
  }

  /** Composes the steps into one handler. */
  build(target: InboundTarget): InboundHandler {
    const layers = this.#list.steps;
    let handler: InboundHandler = terminalNext;
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      handler = layer.wrap(handler, target);
      if (typeof handler !== 'function') {
        throw new TypeError(`inbound stack: step "${layer.role}" returned ${typeof handler} from wrap (expected: a function (exchange) => void)`);
      }
    }
    return handler;
  }
}

function terminalNext(): void {
  throw new Error('proxyless: the terminal step of the inbound stack called next(); it must call exchange.proceed() itself');
}
