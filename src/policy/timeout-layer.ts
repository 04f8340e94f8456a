import type { Dispatcher } from 'undici';
import { DeadlineExceededError, RouteTimeoutError } from '../core/errors.js';
import { failDispatch, ForwardingHandler } from '../core/forwarding-handler.js';
import { withHeader } from '../core/headers.js';
import { layer, type Layer } from '../core/layer.js';
import type { ServiceTarget } from '../mesh/types.js';
import { currentDeadline, DEADLINE_HEADER } from './deadline.js';
import { routePolicyOf } from './route-policy.js';

type Controller = Dispatcher.DispatchController;

/** Ends the call when its time is up, through the controller the caller holds. */
class TimeoutHandler extends ForwardingHandler {
  #controller: Controller | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timedOut: Error | undefined;
  #done = false;

  constructor(next: Dispatcher.DispatchHandler, ms: number, error: () => Error) {
    super(next);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timedOut = error();
      if (this.#controller) this.#controller.abort(this.#timedOut);
      else this.#fail(this.#timedOut); // not started yet (waiting for discovery or a retry)
    }, ms);
  }

  override onRequestStart(controller: Controller, context: unknown): void {
    this.#controller = controller;
    if (this.#done) {
      controller.abort(this.#timedOut!);
      return;
    }
    super.onRequestStart(controller, context);
  }

  override onResponseStart(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onResponseStart']>[2], statusMessage?: string): void {
    if (this.#done) return;
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  override onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#done) return;
    super.onResponseData(controller, chunk);
  }

  override onResponseEnd(controller: Controller, trailers: Parameters<ForwardingHandler['onResponseEnd']>[1]): void {
    if (this.#done) return;
    this.#done = true;
    this.#clear();
    super.onResponseEnd(controller, trailers);
  }

  override onResponseError(controller: Controller, error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#clear();
    // The call was aborted by our timer: the caller sees the timeout, not the abort.
    super.onResponseError(controller, this.#timedOut ?? error);
  }

  #fail(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    failDispatch(this.next, error);
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The service-stack layer with role `timeout`: the route's `timeout` covers every try
 * (Envoy's route timeout) and ends the call with {@link RouteTimeoutError} (504, never
 * retried); a deadline from {@link withDeadline} (a server request's own deadline) caps
 * it too, and a call with no time left fails at once with {@link DeadlineExceededError}.
 * The time left travels to the callee in `x-envoy-expected-rq-timeout-ms`.
 */
export function timeoutLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('timeout', (next, target) => (opts, handler) => {
    const policy = routePolicyOf(opts);
    const deadline = currentDeadline();
    if (policy.timeoutMs === undefined && deadline === undefined) return next(opts, handler);
    const left = deadline === undefined ? Infinity : deadline - Date.now();
    if (left <= 0) return failDispatch(handler, new DeadlineExceededError(target.name.host, -left));
    const ms = Math.min(policy.timeoutMs ?? Infinity, left);
    const byRoute = policy.timeoutMs !== undefined && policy.timeoutMs <= left;
    const withTime = { ...opts, headers: withHeader(opts.headers, DEADLINE_HEADER, String(Math.max(1, Math.floor(ms)))) };
    const timed = new TimeoutHandler(handler, ms, () =>
      byRoute ? new RouteTimeoutError(target.name.host, ms, policy.where) : new DeadlineExceededError(target.name.host, 0),
    );
    return next(withTime, timed);
  });
}
