import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from 'cockatiel';
import { Cancellation, cancellationOf, kCancellation } from '../../core/cancellation.js';
import type { FailureKind } from '../../core/classify-failure.js';

// The error class lives with every other in src/core/errors/; re-exported where it was.
export { PerTryTimeoutError } from '../../core/errors/index.js';
import { RelayingController, reportProgressTo, type CallProgress } from '../../core/relaying-controller.js';
import { tryDeadlineHeaders } from '../deadline/try-deadline.js';
import { layer, type Dispatch, type Layer } from '../../core/layer.js';
import { isReplayable, replay } from '../../core/replayable-body.js';
import type { ServiceTarget } from '../../core/target.js';
import type { RetryBudget } from '../budget/retry-budget.js';
import { RETRY_STATE, ServiceRetryState, type RetryState } from './state.js';
import { TryHandler } from './try-handler.js';
import { failureVerdict, notIdempotentReason, retryAfterMs, statusVerdict, type RetryVerdict } from './retry-policy.js';
import type { RetryPolicy } from './settings.js';
import { kTriedEndpoints, routePolicyOf, type PolicyOptions, type TriedEndpoints } from '../route-policy.js';
import { callHooksOf as callTelemetryOf } from '../../core/call-hooks.js';

type Controller = Dispatcher.DispatchController;

/** Envoy's retry back-off: full jitter from the base interval (default 25 ms), capped at 10 times it; one per base. */
const BACKOFFS = new Map<number, ExponentialBackoff<unknown>>();
function backoffFor(baseMs: number): ExponentialBackoff<unknown> {
  let backoff = BACKOFFS.get(baseMs);
  if (backoff === undefined) {
    backoff = new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: baseMs, maxDelay: baseMs * 10 });
    // Bounded: base intervals come from config, a handful per mesh.
    if (BACKOFFS.size < 1000) BACKOFFS.set(baseMs, backoff);
  }
  return backoff;
}
/** A Retry-After longer than this is not waited for: the response goes to the caller. */
const RETRY_AFTER_CAP_MS = 10_000;

/** Why a failure was not retried when the policy does not cover it. */
const NOT_RETRIED = 'the policy does not retry this outcome';

/** Why the last outcome was not retried, attached to errors as `retry`. */
export interface RetryInfo {
  /** Tries made, the first included. */
  readonly tries: number;
  /** Why no (further) retry was made. */
  readonly stoppedBecause: string;
}

/**
 * One logical call: its tries, backoff and the caller's handler. It is also the
 * controller the caller holds for the whole call (it follows the current try, so
 * `abort()` cancels the try in flight, a try still waiting, and any retry to come), the
 * call's cancellation scope (it follows the one it was given), and the set of endpoints
 * tried so far (read by the balance layer): one object per call, not four.
 *
 * @internal exported for its {@link TryHandler} only
 */
export class RetryCall extends RelayingController implements TriedEndpoints {
  #tried0: unknown;
  #triedMore: unknown[] | undefined;
  readonly #next: Dispatch;
  readonly #opts: PolicyOptions;
  readonly #policy: RetryPolicy;
  readonly #service: ServiceTarget;
  readonly #state: RetryState;
  readonly #budget: RetryBudget;
  readonly #parent: Cancellation | undefined;

  #tries = 0;
  #backoff: IBackoff<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #responded = false;
  #current: TryHandler | undefined;

  constructor(next: Dispatch, opts: Dispatcher.DispatchOptions, caller: Dispatcher.DispatchHandler, policy: RetryPolicy, service: ServiceTarget, state: RetryState, budget: RetryBudget) {
    super(caller);
    this.#next = next;
    this.#policy = policy;
    this.#service = service;
    this.#state = state;
    this.#budget = budget;
    this.#parent = cancellationOf(opts);
    this.#opts = opts as PolicyOptions;
    reportProgressTo(opts, this);
  }

  /** See {@link TriedEndpoints.has}. */
  has(endpoint: unknown): boolean {
    return endpoint === this.#tried0 || (this.#triedMore !== undefined && this.#triedMore.includes(endpoint));
  }

  /** See {@link TriedEndpoints.add}. */
  add(endpoint: unknown): void {
    if (this.#tried0 === undefined) this.#tried0 = endpoint;
    else if (endpoint !== this.#tried0) (this.#triedMore ??= []).push(endpoint);
  }

  start(): boolean {
    this.#budget.deposit();
    this.follow(this.#parent);
    if (!this.cancelled) this.#try();
    return true;
  }

  #try(): void {
    this.#tries++;
    const attempt = new TryHandler(this, this.#policy.perTryTimeoutMs, this.#service.name.host);
    this.#current = attempt;
    // Each try has its own cancellation (a per-try timeout ends its waits), its own
    // x-envoy-expected-rq-timeout-ms (as Envoy's router writes it for each try) and, after
    // the first, its own reading of a streamed body. Every try records its endpoint on this
    // call, so a retry can avoid it (previous-hosts predicate).
    const base = this.#opts;
    const opts = {
      ...(this.#service.meshExternal === true ? base : tryDeadlineHeaders(base, this.#policy.perTryTimeoutMs, this.#tries === 1)),
      [kCancellation]: attempt,
      [kTriedEndpoints]: this.avoidHosts || this.remotePriorities ? this : base[kTriedEndpoints],
      body: this.#tries === 1 ? base.body : replay(base.body),
    } as PolicyOptions;
    try {
      this.#next(opts, attempt);
    } catch (error) {
      attempt.onResponseError(null as unknown as Controller, error as Error);
    }
  }

  /**
   * See {@link TriedEndpoints.avoidHosts}: retries avoid the endpoints tried (Envoy's
   * previous_hosts predicate): on by default, but not for a consistent-hash destination
   * unless the route asks (retry.go: DefaultConsistentHashPolicy).
   */
  get avoidHosts(): boolean {
    const policy = this.#policy;
    if (!policy.otherEndpoint) return false;
    return !(policy.keepHostWhenHashed && this.#service.balancerName.endsWith('ring-hash'));
  }

  /** See {@link TriedEndpoints.remotePriorities} (`retryRemoteLocalities`). */
  get remotePriorities(): boolean {
    return this.#policy.remoteLocalities;
  }

  /** See {@link TriedEndpoints.forEachTried}. */
  forEachTried(fn: (endpoint: unknown, index: number) => void): void {
    if (this.#tried0 === undefined) return;
    fn(this.#tried0, 0);
    this.#triedMore?.forEach((endpoint, i) => fn(endpoint, i + 1));
  }

  /** The try's request started on a connection (`false`: the call is over, the try was aborted). */
  tryStarted(attempt: TryHandler, controller: Controller, context: unknown): boolean {
    if (attempt !== this.#current || this.finished) {
      controller.abort(this.cancelReason ?? new Error('proxyless: a retried try started after the call moved on'));
      return false;
    }
    if (!this.adopt(controller)) return false;
    this.startCaller(context);
    return true;
  }

  /** See {@link RelayingController.progress}. */
  progress(): CallProgress {
    const phase = this.#timer !== undefined ? 'backoff' : this.#current?.inFlight === true ? 'try' : 'waiting';
    return { phase, attempt: this.#tries };
  }

  /** The caller is told of the current try's progress only. */
  protected override follows(attempt: unknown): boolean {
    return attempt === this.#current;
  }

  /** Decides on a response status: true to retry it (the try then drains its body). */
  retryStatus(status: number, headers: IncomingHttpHeaders): boolean {
    if (this.aborted || !this.#allowed(statusVerdict(this.#policy, status, headers, this.#opts.method))) return false;
    const after = retryAfterMs(status, headers, RETRY_AFTER_CAP_MS);
    if (after === Infinity) return false;
    return this.#mayRetry(after, status);
  }

  /** Decides on a failure without a response: true to retry it. */
  retryFailure(kind: FailureKind): boolean {
    if (this.aborted || this.#responded) return false;
    if (!this.#allowed(failureVerdict(this.#policy, kind, this.#opts.method))) return false;
    return this.#mayRetry(undefined, kind);
  }

  /** True for a `retry` verdict; a `not-idempotent` one is remembered as the reason given to the caller. */
  #allowed(verdict: RetryVerdict): boolean {
    if (verdict === 'not-idempotent') this.#stopReason = notIdempotentReason(this.#opts.method);
    if (verdict !== 'retry') callTelemetryOf(this.#opts)?.retryStopped('not_retryable');
    return verdict === 'retry';
  }

  #retryDelay = 0;
  /** True while this call holds one of the service's concurrent-retry slots. */
  #holdsRetrySlot = false;
  #stopReason = NOT_RETRIED;

  #mayRetry(retryAfter: number | undefined, reason: string | number): boolean {
    const telemetry = callTelemetryOf(this.#opts);
    if (this.#tries > this.#policy.retries) {
      this.#stopReason = `all ${this.#policy.retries} retries were used`;
      telemetry?.retryStopped('attempts');
      return false;
    }
    if (!isReplayable(this.#opts.body)) {
      this.#stopReason = 'the request body is a stream, and more of it was read than requestBufferLimit keeps, so it cannot be sent again';
      telemetry?.retryStopped('not_retryable');
      return false;
    }
    const maxRetries = this.#state.maxRetries;
    if (maxRetries !== undefined && !this.#holdsRetrySlot && this.#state.activeRetries >= maxRetries) {
      this.#stopReason = `service "${this.#service.name.host}" already has ${maxRetries} retries in flight (DestinationRule connectionPool.http.maxRetries)`;
      telemetry?.retryStopped('budget');
      return false;
    }
    if (!this.#budget.tryWithdraw()) {
      this.#stopReason = `the retry budget of service "${this.#service.name.host}" is spent (retries are capped at 20 % of requests + 10/s)`;
      telemetry?.retryStopped('budget');
      this.#service.events?.budgetExhausted(this.#service.name, 'retry');
      return false;
    }
    if (!this.#holdsRetrySlot) {
      this.#holdsRetrySlot = true;
      this.#state.activeRetries++;
    }
    this.#backoff = this.#backoff ? this.#backoff.next(undefined) : backoffFor(this.#policy.backoffBaseMs).next();
    this.#retryDelay = Math.max(this.#backoff.duration, retryAfter ?? 0);
    telemetry?.retryScheduled(this.#tries + 1, String(reason), this.#retryDelay);
    this.#service.events?.retry(this.#service.name, this.#tries + 1, String(reason), this.#retryDelay);
    return true;
  }

  /** The try ended in a way we retry: wait the backoff (cancellable), then try again. */
  retryLater(): void {
    if (this.aborted) return this.failCaller(this.reason!);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.aborted) return this.failCaller(this.reason!);
      this.#try();
    }, this.#retryDelay);
  }

  /** The response the caller gets (no retry of this call after it). */
  override responseStart(status: number, headers: IncomingHttpHeaders, message?: string): void {
    this.#responded = true;
    super.responseStart(status, headers, message);
  }

  /** The final error goes to the caller, with what the retries did. */
  fail(error: Error): void {
    // Said whenever retries happened or one was wanted but refused (budget, body, limits).
    if (this.#tries > 1 || this.#stopReason !== NOT_RETRIED) {
      Object.defineProperty(error, 'retry', { value: { tries: this.#tries, stoppedBecause: this.#stopReason } satisfies RetryInfo, enumerable: false, configurable: true });
    }
    this.failCaller(error);
  }

  /** The call is over: its retry slot, if it holds one, is free again. */
  protected override callEnded(): void {
    if (!this.#holdsRetrySlot) return;
    this.#holdsRetrySlot = false;
    this.#state.activeRetries--;
  }

  /** The call was aborted: stop the backoff, the try in flight or waiting, and answer the caller. */
  protected override cancelCall(reason: Error): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.failCaller(reason);
    this.#current?.cancel(reason);
  }
}

/**
 * The service-stack layer with role `retry` (Envoy's retry semantics, Istio's
 * `HTTPRetry`): retries a try that failed by the route's `retryOn` (default, Istio's: 2
 * retries on connect-failure, refused-stream, gRPC unavailable and cancelled; no status
 * code), with full-jitter backoff (the route's `backoff`, default 25 ms, capped at 10
 * times it), each on another endpoint when one exists (not under consistent hashing by
 * default), capped by the service's retry budget. Only when safe: what provably never
 * reached the server (connection failures, refused streams) for any method; response
 * statuses, resets and timeouts only for idempotent methods unless the route opts in
 * (`proxyless.dev/retry-non-idempotent`); a streamed body only while the part already
 * read is kept (`requestBufferLimit`). A try cancelled by its `perTryTimeout` while
 * still waiting (for an endpoint, in a pool's queue) is never sent afterwards.
 * `Retry-After` on 429 and 503 is honoured up to 10 s. The budget and the retries in
 * flight live in the target's {@link RETRY_STATE} slot (a target without one gets its
 * own state with the default budget).
 */
export function retryLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('retry', (next, target) => {
    // A target without retry state (not a mesh service) gets its own, with the default budget.
    const state = target.state?.(RETRY_STATE) ?? new ServiceRetryState();
    return (opts, handler) => {
      const policy = routePolicyOf(opts).retry;
      const budget = state.budget;
      if (policy.retries === 0) {
        budget.deposit();
        return next(opts, handler);
      }
      return new RetryCall(next, opts, handler, policy, target, state, budget).start();
    };
  });
}
