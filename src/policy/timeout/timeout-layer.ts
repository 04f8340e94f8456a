import type { Dispatcher } from 'undici';
import { Cancellation, cancellationOf, kCancellation, type CancelListener } from '../../core/cancellation.js';
import { DeadlineExceededError, RouteTimeoutError } from '../../core/errors/index.js';
import { failDispatch, ForwardingHandler } from '../../core/forwarding-handler.js';
import { layer, type Layer } from '../../core/layer.js';
import { kCallProgress, RelayingController, type CallProgressSlot } from '../../core/relaying-controller.js';
import type { ServiceTarget } from '../../core/target.js';
import { currentDeadline } from '../deadline/deadline.js';
import { kCallEnds, withDeadlineHeader } from '../deadline/try-deadline.js';
import { routePolicyOf } from '../route-policy.js';

type Controller = Dispatcher.DispatchController;

/**
 * Ends the call when its time is up. It holds the cancellation scope of everything
 * below (retries, hedges, waits for an endpoint or in a pool's queue), linked to the one
 * above (the caller's): when the time is up the caller gets the timeout error at once,
 * every wait below ends, and the request in flight is aborted, or aborted when it starts.
 */
class TimeoutHandler extends ForwardingHandler implements CancelListener, CallProgressSlot {
  /** What the layers below see as their cancellation. */
  readonly scope = new Cancellation();
  /** The call of several tries below, once it registers (it says where it stands even before a try connects). */
  source: RelayingController | undefined = undefined;
  readonly #parent: Cancellation | undefined;
  #controller: Controller | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timedOut: Error | undefined;
  #done = false;

  constructor(next: Dispatcher.DispatchHandler, ms: number, error: (below: Controller | undefined) => Error, parent: Cancellation | undefined) {
    super(next);
    this.#parent = parent;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timedOut = error(this.source ?? this.#controller);
      this.#fail(this.#timedOut);
      this.scope.cancel(this.#timedOut);
      this.#controller?.abort(this.#timedOut);
    }, ms);
    parent?.listen(this);
  }

  /** The caller's scope was cancelled (an abort, the mesh closing): so is everything below. */
  onCancel(reason: Error): void {
    this.#clear();
    this.scope.cancel(reason);
  }

  override onRequestStart(controller: Controller, context: unknown): void {
    this.#controller = controller;
    if (this.#done || this.scope.cancelled) {
      controller.abort(this.#timedOut ?? this.scope.cancelReason ?? new Error('proxyless: the call ended before it was sent'));
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
    this.#end();
    super.onResponseEnd(controller, trailers);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onRequestUpgrade']>[2], socket: Parameters<ForwardingHandler['onRequestUpgrade']>[3]): void {
    if (this.#done) {
      socket.destroy();
      return;
    }
    this.#end();
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  override onResponseError(controller: Controller, error: Error): void {
    if (this.#done) return;
    this.#end();
    // The call was aborted by our timer: the caller sees the timeout, not the abort.
    super.onResponseError(controller, this.#timedOut ?? error);
  }

  override onRequestSent(): void {
    if (!this.#done) super.onRequestSent();
  }

  override onBodySent(chunk: Buffer): void {
    if (!this.#done) super.onBodySent(chunk);
  }

  /** Answers the caller now (before the layers below have wound down). */
  #fail(error: Error): void {
    if (this.#done) return;
    this.#end();
    failDispatch(this.next, error);
  }

  #end(): void {
    this.#done = true;
    this.#clear();
    this.#parent?.unlisten(this);
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The deadline ran out during the call: where it was, from the call of several tries
 * below (registered in the options' progress slot, so known before any try connects), or
 * else from the controller the layers below gave (none: nothing started yet; any other:
 * the one try, in flight).
 */
function deadlineRanOut(service: string, budgetMs: number, below: Controller | undefined): DeadlineExceededError {
  if (below === undefined) return new DeadlineExceededError(service, 'waiting', budgetMs);
  if (!(below instanceof RelayingController)) return new DeadlineExceededError(service, 'try', budgetMs);
  const { phase, attempt } = below.progress();
  return new DeadlineExceededError(service, phase, budgetMs, attempt);
}

/**
 * The service-stack layer with role `timeout`: the route's `timeout` covers every try
 * (Envoy's route timeout) and ends the call with {@link RouteTimeoutError} (504, never
 * retried); a deadline from {@link withDeadline} (a server request's own deadline) caps
 * it too, and a call with no time left fails at once with {@link DeadlineExceededError}.
 * The time left travels to the callee in `x-envoy-expected-rq-timeout-ms` (the retry layer
 * writes each try's own, as Envoy's router does), except to a
 * MESH_EXTERNAL service (a ServiceEntry outside the mesh): mesh headers stay in the mesh.
 * A mirrored copy has the route's timeout of its own and ignores the deadline of the
 * request being served.
 */
export function timeoutLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('timeout', (next, target) => (opts, handler) => {
    const policy = routePolicyOf(opts);
    const deadline = policy.mirror === true ? undefined : currentDeadline();
    if (policy.timeoutMs === undefined && deadline === undefined) return next(opts, handler);
    const left = deadline === undefined ? Infinity : deadline - Date.now();
    if (left <= 0) return failDispatch(handler, new DeadlineExceededError(target.name.host, 'before', -left));
    const ms = Math.min(policy.timeoutMs ?? Infinity, left);
    const byRoute = policy.timeoutMs !== undefined && policy.timeoutMs <= left;
    const timed = new TimeoutHandler(
      handler,
      ms,
      (below) => (byRoute ? new RouteTimeoutError(target.name.host, ms, policy.where) : deadlineRanOut(target.name.host, ms, below)),
      cancellationOf(opts),
    );
    // Set, not added: a header the caller wrote is replaced (one value on the wire, as Envoy's).
    const sent = target.meshExternal === true ? opts : withDeadlineHeader(opts, ms);
    return next({ ...sent, [kCancellation]: timed.scope, [kCallEnds]: performance.now() + ms, [kCallProgress]: timed } as Dispatcher.DispatchOptions, timed);
  });
}
