import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { ForwardingHandler } from '../core/forwarding-handler.js';

/** Istio header operations, compiled: names lower case. */
export interface HeaderOps {
  readonly set: ReadonlyArray<readonly [string, string]>;
  readonly add: ReadonlyArray<readonly [string, string]>;
  readonly remove: readonly string[];
}

/** Compiles `{ set, add, remove }`, or returns undefined when empty. */
export function compileHeaderOps(spec: { set?: Record<string, string> | undefined; add?: Record<string, string> | undefined; remove?: string[] | undefined } | undefined): HeaderOps | undefined {
  if (!spec) return undefined;
  const lower = (r?: Record<string, string>): Array<[string, string]> => Object.entries(r ?? {}).map(([k, v]) => [k.toLowerCase(), v]);
  const ops = { set: lower(spec.set), add: lower(spec.add), remove: (spec.remove ?? []).map((h) => h.toLowerCase()) };
  return ops.set.length + ops.add.length + ops.remove.length > 0 ? ops : undefined;
}

/** Headers as a list of [name, value] pairs (undici accepts this shape). */
type Pairs = Array<[string, string]>;

/** Request headers of any undici shape as lower-case pairs (a new list). */
export function headerPairs(headers: Dispatcher.DispatchOptions['headers'] | null | undefined): Pairs {
  const pairs: Pairs = [];
  if (headers == null) return pairs;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([String(headers[i]).toLowerCase(), String(headers[i + 1])]);
    return pairs;
  }
  const iterable = typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function'
    ? (headers as Iterable<[string, string | string[]]>)
    : Object.entries(headers as Record<string, string | string[] | undefined>);
  for (const [name, value] of iterable) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) pairs.push([name.toLowerCase(), String(v)]);
  }
  return pairs;
}

/** Applies remove, then set (replacing), then add (appending), as Envoy does. */
export function applyHeaderOps(pairs: Pairs, ops: HeaderOps): Pairs {
  let out = ops.remove.length > 0 ? pairs.filter(([k]) => !ops.remove.includes(k)) : pairs;
  for (const [name, value] of ops.set) {
    out = out.filter(([k]) => k !== name);
    out.push([name, value]);
  }
  for (const [name, value] of ops.add) out.push([name, value]);
  return out;
}

/** Flattens pairs for undici (`[name, value, name, value, ...]`). */
export function flattenPairs(pairs: Pairs): string[] {
  const flat: string[] = [];
  for (const [k, v] of pairs) flat.push(k, v);
  return flat;
}

/** Applies response header operations to the response on its way back to the caller. */
export class ResponseHeadersHandler extends ForwardingHandler {
  readonly #ops: readonly HeaderOps[];

  constructor(next: Dispatcher.DispatchHandler, ops: readonly HeaderOps[]) {
    super(next);
    this.#ops = ops;
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    const out: IncomingHttpHeaders = { ...headers };
    for (const ops of this.#ops) {
      for (const name of ops.remove) delete out[name];
      for (const [name, value] of ops.set) out[name] = value;
      for (const [name, value] of ops.add) {
        const existing = out[name];
        out[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
      }
    }
    // undici's consumers (fetch, request) read `controller.rawHeaders`: give them the
    // edited headers in that form too.
    super.onResponseStart(withRawHeaders(controller, rawHeadersOf(out)), statusCode, out, statusMessage);
  }
}

/** Headers as undici's raw form: `[name, value, name, value, ...]` as Buffers. */
export function rawHeadersOf(headers: IncomingHttpHeaders): Buffer[] {
  const raw: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) raw.push(Buffer.from(name, 'latin1'), Buffer.from(String(v), 'latin1'));
  }
  return raw;
}

function withRawHeaders(controller: Dispatcher.DispatchController, rawHeaders: Buffer[]): Dispatcher.DispatchController {
  return {
    get aborted() {
      return controller.aborted;
    },
    get paused() {
      return controller.paused;
    },
    get reason() {
      return controller.reason;
    },
    rawHeaders,
    get rawTrailers() {
      return controller.rawTrailers;
    },
    abort: (reason: Error) => controller.abort(reason),
    pause: () => controller.pause(),
    resume: () => controller.resume(),
  };
}
