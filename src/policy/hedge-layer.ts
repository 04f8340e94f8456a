import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { failDispatch } from '../core/forwarding-handler.js';
import { FollowingController } from '../core/following-controller.js';
import { layer, type Dispatch, type Layer } from '../core/layer.js';
import type { ServiceTarget } from '../mesh/types.js';
import type { HedgingSettings } from '../config/extensions.js';
import { LatencyTracker } from './latency-tracker.js';
import { RetryBudget } from './retry-budget.js';
import { isIdempotent, isReplayable } from './retry-policy.js';
import { kTriedEndpoints, routePolicyOf, type PolicyOptions } from './route-policy.js';

type Controller = Dispatcher.DispatchController;

/**
 * One hedged call: the primary try, maybe a backup, the first answer wins. It is also
 * the controller the caller holds, following the winning try.
 */
class HedgedCall extends FollowingController {
  readonly #caller: Dispatcher.DispatchHandler;
  readonly #next: Dispatch;
  readonly #opts: PolicyOptions;
  readonly #tries: HedgeTry[] = [];
  readonly #tracker: LatencyTracker;
  readonly #started = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #winner: HedgeTry | undefined;
  #callerStarted = false;
  #finished = false;

  constructor(next: Dispatch, opts: Dispatcher.DispatchOptions, caller: Dispatcher.DispatchHandler, tracker: LatencyTracker) {
    super();
    this.#next = next;
    this.#caller = caller;
    this.#tracker = tracker;
    const tried = (opts as PolicyOptions)[kTriedEndpoints] ?? new Set<unknown>();
    // The backup must go to another endpoint: both tries share the tried set.
    this.#opts = { ...(opts as PolicyOptions), [kTriedEndpoints]: tried };
  }

  /** Sends the primary try; with a delay, a backup may follow (budget allowing). */
  start(delayMs: number | undefined, budget: RetryBudget): boolean {
    budget.deposit();
    this.#send();
    if (delayMs === undefined) return true;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#winner === undefined && !this.#finished && !this.aborted && budget.tryWithdraw()) this.#send();
    }, delayMs);
    return true;
  }

  #send(): void {
    const attempt = new HedgeTry(this);
    this.#tries.push(attempt);
    try {
      this.#next(this.#opts, attempt);
    } catch (error) {
      attempt.onResponseError(null as unknown as Controller, error as Error);
    }
  }

  started(attempt: HedgeTry, controller: Controller, context: unknown): void {
    if (this.aborted || (this.#winner !== undefined && this.#winner !== attempt)) {
      controller.abort(this.reason ?? new Error('proxyless: hedged try lost'));
      return;
    }
    if (this.current === undefined) this.current = controller;
    if (!this.#callerStarted) {
      this.#callerStarted = true;
      this.#caller.onRequestStart?.(this, context);
    }
  }

  /** A try has response headers: the first one wins; the others are cancelled. */
  claim(attempt: HedgeTry): boolean {
    if (this.#winner !== undefined) return this.#winner === attempt;
    this.#winner = attempt;
    this.current = attempt.controller;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#tracker.record(performance.now() - this.#started);
    for (const other of this.#tries) if (other !== attempt) other.cancel();
    return true;
  }

  responseStart(status: number, headers: IncomingHttpHeaders, message?: string): void {
    this.#caller.onResponseStart?.(this, status, headers, message);
  }
  responseData(chunk: Buffer): void {
    this.#caller.onResponseData?.(this, chunk);
  }
  responseEnd(trailers: IncomingHttpHeaders): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#caller.onResponseEnd?.(this, trailers);
  }
  upgrade(status: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#finished = true;
    this.#caller.onRequestUpgrade?.(this, status, headers, socket);
  }

  /** A try failed: the caller hears of it only when no other try can still answer. */
  failed(attempt: HedgeTry, error: Error): void {
    if (this.#winner === attempt) return this.#fail(error);
    if (this.#winner !== undefined) return;
    const pending = this.#tries.some((t) => t !== attempt && !t.done);
    if (pending && !this.aborted) return;
    if (this.#timer !== undefined && !this.aborted) {
      // The primary failed before the backup was sent: report now rather than hedge an error
      // (retries, if any, are the retry layer's job).
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#fail(error);
  }

  #fail(error: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#callerStarted) this.#caller.onResponseError?.(this, error);
    else failDispatch(this.#caller, error);
  }

  protected override cancelCall(reason: Error): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const attempt of this.#tries) attempt.cancel(reason);
  }
}

/** One try of a hedged call. */
class HedgeTry implements Dispatcher.DispatchHandler {
  readonly #call: HedgedCall;
  controller: Controller | undefined;
  done = false;
  #lost = false;
  #cancelReason: Error | undefined;

  constructor(call: HedgedCall) {
    this.#call = call;
  }

  /** Stops this try (it lost, or the caller gave up). */
  cancel(reason: Error = new Error('proxyless: hedged try lost to a faster one')): void {
    this.#lost = true;
    this.#cancelReason = reason;
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.controller = controller;
    if (this.#lost) {
      controller.abort(this.#cancelReason!);
      return;
    }
    this.#call.started(this, controller, context);
  }
  onRequestUpgrade(_c: Controller, status: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    if (this.#lost || !this.#call.claim(this)) return;
    this.done = true;
    this.#call.upgrade(status, headers, socket);
  }
  onResponseStart(_c: Controller, status: number, headers: IncomingHttpHeaders, message?: string): void {
    if (status < 200 || this.#lost) return;
    if (!this.#call.claim(this)) {
      this.#lost = true;
      return;
    }
    this.#call.responseStart(status, headers, message);
  }
  onResponseData(_c: Controller, chunk: Buffer): void {
    if (!this.#lost) this.#call.responseData(chunk);
  }
  onResponseEnd(_c: Controller, trailers: IncomingHttpHeaders): void {
    this.done = true;
    if (!this.#lost) this.#call.responseEnd(trailers);
  }
  onResponseError(_c: Controller, error: Error): void {
    this.done = true;
    if (this.#lost && this.#cancelReason !== undefined && error === this.#cancelReason) return;
    this.#call.failed(this, error);
  }
}

/**
 * The service-stack layer with role `hedge` (our extension, opt-in per VirtualService
 * with the `proxyless.dev/hedging` annotation): when a try has no response after a fixed
 * delay, or after the service's recent latency percentile, a backup try goes to another
 * endpoint; the first response wins and the other try is cancelled. Backups are bounded
 * by their own budget (`maxExtraPercent` of requests, default 5 %, plus 1/s). Only
 * idempotent requests with a replayable body are hedged (the server may see both).
 */
export function hedgeLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('hedge', (next) => {
    const tracker = new LatencyTracker();
    const budgets = new Map<number, RetryBudget>();
    return (opts, handler) => {
      const hedge: HedgingSettings | undefined = routePolicyOf(opts).hedge;
      if (hedge === undefined || !isIdempotent(opts.method) || !isReplayable(opts.body)) return next(opts, handler);
      const delay = hedge.delayMs ?? tracker.percentile(hedge.percentile!);
      let budget = budgets.get(hedge.maxExtraPercent);
      if (budget === undefined) budgets.set(hedge.maxExtraPercent, (budget = new RetryBudget({ percent: hedge.maxExtraPercent, minPerSecond: 1 })));
      // Without enough samples for the percentile yet, the call is measured, not hedged.
      return new HedgedCall(next, opts, handler, tracker).start(delay, budget);
    };
  });
}
