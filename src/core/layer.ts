import { Dispatcher1Wrapper, type Dispatcher } from 'undici';
import { InvalidOptionError } from './errors/index.js';
import { RoleList } from './role-list.js';

/** undici's dispatch function: takes the request options and a handler. */
export type Dispatch = (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => boolean;

/**
 * One named step of a stack. `wrap` receives the next dispatch function (inner) and the
 * stack's target (the service or endpoint the stack serves) and returns the dispatch
 * function for this step; this is undici's interceptor shape plus the target.
 *
 * @typeParam T what the stack is built for: {@link ServiceTarget} or {@link EndpointTarget}.
 */
export interface Layer<T> {
  /** The role name, unique in a stack, e.g. `balance`, `load`, `pool`. */
  readonly role: string;
  /** Builds this step around `next`. Called once per service or endpoint, not per request. */
  wrap(next: Dispatch, target: T): Dispatch;
}

/** Creates a {@link Layer}, checking the role name. */
export function layer<T>(role: string, wrap: (next: Dispatch, target: T) => Dispatch): Layer<T> {
  if (typeof role !== 'string' || !/^[a-z][a-z0-9-]*$/.test(role)) {
    throw new InvalidOptionError('layer', [`role: ${JSON.stringify(role)} (expected: a kebab-case name such as "audit-log")`]);
  }
  if (typeof wrap !== 'function') {
    throw new InvalidOptionError('layer', [`wrap: ${typeof wrap} (expected: a function (next, target) => dispatch)`]);
  }
  return { role, wrap };
}

/**
 * An ordered list of layers, outermost first, as Finagle's Stack: a request enters at
 * the first layer and leaves through the last one, which is the terminal (it does not
 * call `next`). Users edit the mesh's default stacks by role name, without forking them.
 */
export class Stack<T> {
  readonly #list: RoleList<Layer<T>>;
  readonly #name: string;

  /** @param name `service` or `endpoint`, used in error messages; @param layers outermost first */
  constructor(name: string, layers: readonly Layer<T>[]) {
    this.#name = name;
    this.#list = new RoleList({ owner: `${name} stack`, step: 'layer', factory: 'layer(role, wrap)' }, layers);
  }

  /** Role names, outermost first. */
  roles(): string[] {
    return this.#list.roles();
  }

  /** Inserts `added` just outside (before) the layer with `role`. */
  insertBefore(role: string, added: Layer<T>): this {
    this.#list.insertBefore(role, added);
    return this;
  }

  /** Inserts `added` just inside (after) the layer with `role`. Not after the terminal. */
  insertAfter(role: string, added: Layer<T>): this {
    this.#list.insertAfter(role, added);
    return this;
  }

  /** Replaces the layer with `role` by `replacement` (which may have another role). */
  replace(role: string, replacement: Layer<T>): this {
    this.#list.replace(role, replacement);
    return this;
  }

  /** Removes the layer with `role`. The terminal layer cannot be removed. */
  remove(role: string): this {
    this.#list.remove(role);
    return this;
  }

  /**
   * Composes the layers for one target into a single dispatch function. The terminal
   * (last) layer gets a `next` that fails loudly, since nothing sits below it.
   */
  build(target: T): Dispatch {
    const layers = this.#list.steps;
    let dispatch: Dispatch = terminalNext;
    for (let i = layers.length - 1; i >= 0; i--) {
      const role = layers[i]!.role;
      dispatch = layers[i]!.wrap(i === layers.length - 1 ? dispatch : checkedNext(dispatch, this.#name, role), target);
      if (typeof dispatch !== 'function') {
        throw new TypeError(`${this.#name} stack: layer "${role}" returned ${typeof dispatch} from wrap (expected: a dispatch function)`);
      }
    }
    return dispatch;
  }
}

/** undici ships `Dispatcher1Wrapper.wrapHandler` without a type declaration. */
interface LegacyWrapper {
  wrapHandler(handler: object): Dispatcher.DispatchHandler;
}

const CURRENT_API = ['onRequestStart', 'onResponseStart', 'onResponseData', 'onResponseEnd', 'onResponseError', 'onRequestUpgrade'] as const;
const PREVIOUS_API = ['onConnect', 'onHeaders', 'onData', 'onComplete', 'onError', 'onUpgrade'] as const;

function hasAny(handler: object, names: readonly string[]): boolean {
  for (const name of names) if (typeof (handler as Record<string, unknown>)[name] === 'function') return true;
  return false;
}

/** True for a handler of undici's previous API only (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`). */
export function isLegacyHandler(handler: object): boolean {
  return !hasAny(handler, CURRENT_API) && hasAny(handler, PREVIOUS_API);
}

/**
 * The `next` a layer calls, checking the handler it passes down: every layer below
 * speaks undici's current handler API (`onRequestStart`, `onResponseStart`, ...). A
 * handler of the previous API (`onConnect`, `onHeaders`, ...), which a user's layer may
 * build, is adapted with undici's own `Dispatcher1Wrapper` instead of being ignored
 * (its request would never end); anything else is refused loudly, naming the layer.
 */
function checkedNext(next: Dispatch, stack: string, role: string): Dispatch {
  return (opts, handler) => {
    if (typeof handler?.onRequestStart === 'function') return next(opts, handler);
    if (handler !== null && typeof handler === 'object') {
      if (isLegacyHandler(handler)) return next(opts, (Dispatcher1Wrapper as unknown as LegacyWrapper).wrapHandler(handler));
      if (hasAny(handler, CURRENT_API)) return next(opts, handler);
    }
    throw new InvalidOptionError(`${stack} stack`, [
      `layer "${role}" passed down ${handler === null || typeof handler !== 'object' ? String(handler) : 'a handler with no callbacks'} ` +
        `(expected: an undici dispatch handler with onRequestStart, onResponseStart, ...; subclass ForwardingHandler to wrap one)`,
    ]);
  };
}

function terminalNext(): boolean {
  throw new Error('proxyless: the terminal layer of a stack called next(); a terminal layer must send the request itself');
}
