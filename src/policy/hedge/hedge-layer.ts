import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { Cancellation, cancellationOf, kCancellation } from '../../core/cancellation.js';
import { RelayingController, reportProgressTo, type CallProgress } from '../../core/relaying-controller.js';
import { layer, type Dispatch, type Layer } from '../../core/layer.js';
import { isReplayable, replay } from '../../core/replayable-body.js';
import type { ServiceTarget } from '../../core/target.js';
import type { HedgingSettings } from './settings.js';
import { LatencyTracker } from './latency-tracker.js';
import { RetryBudget } from '../budget/retry-budget.js';
import { isIdempotent } from '../retry/retry-policy.js';
import { kTriedEndpoints, routePolicyOf, type PolicyOptions, type TriedEndpoints } from '../route-policy.js';
import { callHooksOf as callTelemetryOf } from '../../core/call-hooks.js';
import { deadlineHeadersNow } from '../deadline/try-deadline.js';

type Controller = Dispatcher.DispatchController;

/** Why a try that lost to a faster one was cancelled (one shared object: it is only compared). */
const LOST = new Error('proxyless: hedged try lost to a faster one');

/**
 * One hedged call: the primary try, maybe a backup, the first answer wins. It is also
 * the controller the caller holds, following the winning try, and the call's
 * cancellation scope: an abort (the caller's, a route timeout, the mesh closing) answers
 * the caller at once, stops the hedge timer, and cancels every try, sent or waiting.
 */
class HedgedCall extends RelayingController {
  readonly #next: Dispatch;
  readonly #opts: PolicyOptions;
  readonly #tries: HedgeTry[] = [];
  readonly #tracker: LatencyTracker;
  readonly #parent: Cancellation | undefined;
  readonly #tried: TriedEndpoints;
  readonly #started = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #winner: HedgeTry | undefined;

  constructor(next: Dispatch, opts: Dispatcher.DispatchOptions, caller: Dispatcher.DispatchHandler, tracker: LatencyTracker) {
    super(caller);
    this.#next = next;
    this.#tracker = tracker;
    this.#parent = cancellationOf(opts);
    this.#opts = opts as PolicyOptions;
    reportProgressTo(opts, this);
    // The backup must go to another endpoint: both tries share the tried set.
    this.#tried = this.#opts[kTriedEndpoints] ?? new Set<unknown>();
  }

  /** Sends the primary try; with a delay, a backup may follow (budget allowing). */
  start(delayMs: number | undefined, budget: RetryBudget, target: ServiceTarget): boolean {
    budget.deposit();
    this.follow(this.#parent);
    if (this.cancelled) return true;
    this.#send(false);
    if (delayMs === undefined || this.finished) return true;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#winner !== undefined || this.finished || this.aborted) return;
      // A streamed body is hedged only while the part already sent is kept.
      if (!isReplayable(this.#opts.body)) return;
      if (!budget.tryWithdraw()) return target.events?.budgetExhausted(target.name, 'hedge');
      callTelemetryOf(this.#opts)?.hedgeFired(performance.now() - this.#started);
      target.events?.hedge(target.name, performance.now() - this.#started);
      this.#send(true);
    }, delayMs);
    return true;
  }

  #send(backup: boolean): void {
    const attempt = new HedgeTry(this);
    this.#tries.push(attempt);
    // A backup leaves later: the deadline header the mesh wrote says the time left now.
    const base = backup ? deadlineHeadersNow(this.#opts) : this.#opts;
    const opts = { ...base, [kCancellation]: attempt, [kTriedEndpoints]: this.#tried, body: backup ? replay(this.#opts.body) : this.#opts.body } as PolicyOptions;
    try {
      this.#next(opts, attempt);
    } catch (error) {
      attempt.onResponseError(null as unknown as Controller, error as Error);
    }
  }

  /** A try has a connection: followed when it is the first, aborted when the call is over or another won. */
  started(attempt: HedgeTry, controller: Controller, context: unknown): void {
    if (this.finished || this.aborted || (this.#winner !== undefined && this.#winner !== attempt)) {
      controller.abort(this.cancelReason ?? LOST);
      return;
    }
    if (this.current === undefined && !this.adopt(controller)) return;
    this.startCaller(context);
  }

  /** A try has response headers: the first one wins; the others are cancelled. */
  claim(attempt: HedgeTry): boolean {
    if (this.finished) return false;
    if (this.#winner !== undefined) return this.#winner === attempt;
    this.#winner = attempt;
    if (attempt !== this.#tries[0]) callTelemetryOf(this.#opts)?.hedgeWon();
    this.current = attempt.controller;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#tracker.record(performance.now() - this.#started);
    for (const other of this.#tries) if (other !== attempt) other.cancel(LOST);
    return true;
  }

  /** See {@link RelayingController.progress}: a try is in flight while one has a connection and has not ended. */
  progress(): CallProgress {
    const inFlight = this.#tries.some((t) => t.controller !== undefined && !t.done);
    return { phase: inFlight ? 'try' : 'waiting', attempt: this.#tries.length };
  }

  /** Progress of the request is reported from the try the caller follows. */
  protected override follows(attempt: HedgeTry): boolean {
    return attempt.controller !== undefined && attempt.controller === this.current;
  }

  /** A try failed: the caller hears of it only when no other try can still answer. */
  failed(attempt: HedgeTry, error: Error): void {
    if (this.#winner === attempt) return this.failCaller(error);
    if (this.#winner !== undefined) return;
    const pending = this.#tries.some((t) => t !== attempt && !t.done);
    if (pending && !this.aborted) return;
    // The primary failed before the backup was sent: report now rather than hedge an
    // error (retries, if any, are the retry layer's job).
    this.failCaller(error);
  }

  protected override callEnded(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Aborted: the caller hears the reason now; every try, sent or still waiting, is cancelled. */
  protected override cancelCall(reason: Error): void {
    this.failCaller(reason);
    for (const attempt of this.#tries) attempt.cancel(reason);
  }
}

/** One try of a hedged call, and its cancellation scope (what it waits for below ends with it). */
class HedgeTry extends Cancellation implements Dispatcher.DispatchHandler {
  readonly #call: HedgedCall;
  controller: Controller | undefined;
  done = false;

  constructor(call: HedgedCall) {
    super();
    this.#call = call;
  }

  /** Lost, or the call was aborted: stop the request (it is failed up the chain by whoever ends it). */
  protected override whenCancelled(reason: Error): void {
    this.controller?.abort(reason);
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.controller = controller;
    if (this.cancelled) {
      controller.abort(this.cancelReason!);
      return;
    }
    this.#call.started(this, controller, context);
  }
  onRequestSent(): void {
    this.#call.requestSent(this);
  }
  onBodySent(chunk: Buffer): void {
    this.#call.bodySent(this, chunk);
  }
  onResponseStarted(): void {
    this.#call.responseStarted(this);
  }
  onRequestUpgrade(_c: Controller, status: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    if (this.cancelled || !this.#call.claim(this)) {
      socket.destroy();
      return;
    }
    this.done = true;
    this.#call.upgrade(status, headers, socket);
  }
  onResponseStart(_c: Controller, status: number, headers: IncomingHttpHeaders, message?: string): void {
    if (status < 200 || this.cancelled) return;
    if (!this.#call.claim(this)) {
      this.cancel(LOST);
      return;
    }
    this.#call.responseStart(status, headers, message);
  }
  onResponseData(_c: Controller, chunk: Buffer): void {
    if (!this.cancelled) this.#call.responseData(chunk);
  }
  onResponseEnd(_c: Controller, trailers: IncomingHttpHeaders): void {
    this.done = true;
    if (!this.cancelled) this.#call.responseEnd(trailers);
  }
  onResponseError(_c: Controller, error: Error): void {
    if (this.done) return;
    this.done = true;
    this.#call.failed(this, error);
  }
}

/**
 * The service-stack layer with role `hedge` (our extension, opt-in per VirtualService
 * with the `proxyless.dev/hedging` annotation): when a try has no response after a fixed
 * delay, or after the service's recent latency percentile, a backup try goes to another
 * endpoint; the first response wins and the other try is cancelled. Backups are bounded
 * by their own budget (`maxExtraPercent` of requests, default 5 %, plus 1/s). Only
 * idempotent requests with a replayable body are hedged (the server may see both). The
 * caller's abort, the route timeout and the mesh closing reach the caller at once and
 * cancel both tries and the pending backup.
 */
export function hedgeLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('hedge', (next, target) => {
    // Made on the first hedged call: most services are never hedged, and the tracker
    // holds 8 KB of samples (a mesh may hold a thousand services).
    let tracker: LatencyTracker | undefined;
    const budgets = new Map<number, RetryBudget>();
    return (opts, handler) => {
      const hedge: HedgingSettings | undefined = routePolicyOf(opts).hedge;
      if (hedge === undefined || !isIdempotent(opts.method) || !isReplayable(opts.body)) return next(opts, handler);
      tracker ??= new LatencyTracker();
      const delay = hedge.delayMs ?? tracker.percentile(hedge.percentile!);
      let budget = budgets.get(hedge.maxExtraPercent);
      if (budget === undefined) budgets.set(hedge.maxExtraPercent, (budget = new RetryBudget({ percent: hedge.maxExtraPercent, minPerSecond: 1 })));
      // Without enough samples for the percentile yet, the call is measured, not hedged.
      return new HedgedCall(next, opts, handler, tracker).start(delay, budget, target);
    };
  });
}
