import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from 'cockatiel';
import { ProxylessError } from '../core/errors.js';
import { failDispatch } from '../core/forwarding-handler.js';
import { FollowingController } from '../core/following-controller.js';
import { layer, type Dispatch, type Layer } from '../core/layer.js';
import type { MeshService } from '../mesh/mesh-service.js';
import type { ServiceTarget } from '../mesh/types.js';
import type { RetryBudget } from './retry-budget.js';
import { failureKind, isReplayable, retriableFailure, retriableStatus, retryAfterMs, type RetryPolicy } from './retry-policy.js';
import { kTriedEndpoints, routePolicyOf, type PolicyOptions, type TriedEndpoints } from './route-policy.js';

type Controller = Dispatcher.DispatchController;

/** Envoy's retry backoff: full jitter, base 25 ms, capped at 250 ms. */
const BACKOFF = new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: 25, maxDelay: 250 });
/** A Retry-After longer than this is not waited for: the response goes to the caller. */
const RETRY_AFTER_CAP_MS = 10_000;
/** A discarded response body (before a retry) is read up to this size, then the try is dropped. */
const DRAIN_LIMIT = 1024 * 1024;

/** One try exceeded the route's `perTryTimeout`. */
export class PerTryTimeoutError extends ProxylessError {
  constructor(service: string, ms: number) {
    super('PROXYLESS_ERR_PER_TRY_TIMEOUT', `a try to service "${service}" got no response within perTryTimeout ${ms} ms`);
  }
}

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
 * `abort()` cancels the try in flight and any retry to come), and the set of endpoints
 * tried so far (read by the balance layer): one object per call, not three.
 */
class RetryCall extends FollowingController implements TriedEndpoints {
  #tried0: unknown;
  #triedMore: unknown[] | undefined;
  readonly #next: Dispatch;
  readonly #opts: PolicyOptions;
  readonly #caller: Dispatcher.DispatchHandler;
  readonly #policy: RetryPolicy;
  readonly #service: MeshService;
  readonly #budget: RetryBudget;

  #tries = 0;
  #backoff: IBackoff<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #responded = false;
  #finished = false;
  #current: TryHandler | undefined;

  constructor(next: Dispatch, opts: Dispatcher.DispatchOptions, caller: Dispatcher.DispatchHandler, policy: RetryPolicy, service: MeshService, budget: RetryBudget) {
    super();
    this.#next = next;
    this.#caller = caller;
    this.#policy = policy;
    this.#service = service;
    this.#budget = budget;
    // Every try records its endpoint here, so a retry can avoid it (previous-hosts predicate).
    this.#opts = policy.otherEndpoint ? { ...(opts as PolicyOptions), [kTriedEndpoints]: this } : (opts as PolicyOptions);
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
    this.#try();
    return true;
  }

  #try(): void {
    this.#tries++;
    const handler = new TryHandler(this, this.#policy.perTryTimeoutMs, this.#service.name.host);
    this.#current = handler;
    try {
      this.#next(this.#opts, handler);
    } catch (error) {
      handler.onResponseError(null as unknown as Controller, error as Error);
    }
  }

  /** The try's request started on a connection. */
  tryStarted(controller: Controller, context: unknown): void {
    this.current = controller;
    if (this.aborted) {
      controller.abort(this.reason!);
      return;
    }
    if (this.paused) controller.pause();
    if (!this.#started) {
      this.#started = true;
      this.#caller.onRequestStart?.(this, context);
    }
  }

  /** Decides on a response status: true to retry it (the try then drains its body). */
  retryStatus(status: number, headers: IncomingHttpHeaders): boolean {
    if (this.aborted || !retriableStatus(this.#policy, status, this.#opts.method)) return false;
    const after = retryAfterMs(status, headers, RETRY_AFTER_CAP_MS);
    if (after === Infinity) return false;
    return this.#mayRetry(after);
  }

  /** Decides on a failure without a response: true to retry it. */
  retryFailure(error: Error): boolean {
    if (this.aborted || this.#responded) return false;
    if (!retriableFailure(this.#policy, failureKind(error), this.#opts.method)) return false;
    return this.#mayRetry(undefined);
  }

  #retryDelay = 0;
  /** True while this call holds one of the service's concurrent-retry slots. */
  #holdsRetrySlot = false;
  #stopReason = 'the policy does not retry this outcome';

  #mayRetry(retryAfter: number | undefined): boolean {
    if (this.#tries > this.#policy.retries) {
      this.#stopReason = `all ${this.#policy.retries} retries were used`;
      return false;
    }
    if (!isReplayable(this.#opts.body)) {
      this.#stopReason = 'the request body is a stream, which cannot be sent again';
      return false;
    }
    const maxRetries = this.#service.limits?.maxRetries;
    if (maxRetries !== undefined && !this.#holdsRetrySlot && this.#service.activeRetries >= maxRetries) {
      this.#stopReason = `service "${this.#service.name.host}" already has ${maxRetries} retries in flight (DestinationRule connectionPool.http.maxRetries)`;
      return false;
    }
    if (!this.#budget.tryWithdraw()) {
      this.#stopReason = `the retry budget of service "${this.#service.name.host}" is spent (retries are capped at 20 % of requests + 10/s)`;
      return false;
    }
    if (!this.#holdsRetrySlot) {
      this.#holdsRetrySlot = true;
      this.#service.activeRetries++;
    }
    this.#backoff = this.#backoff ? this.#backoff.next(undefined) : BACKOFF.next();
    this.#retryDelay = Math.max(this.#backoff.duration, retryAfter ?? 0);
    return true;
  }

  /** The try ended in a way we retry: wait the backoff, then try again. */
  retryLater(): void {
    if (this.aborted) return this.#failCaller(this.reason!);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.aborted) return this.#failCaller(this.reason!);
      this.#try();
    }, this.#retryDelay);
  }

  responseStart(status: number, headers: IncomingHttpHeaders, message?: string): void {
    this.#responded = true;
    this.#caller.onResponseStart?.(this, status, headers, message);
  }

  responseData(chunk: Buffer): void {
    this.#caller.onResponseData?.(this, chunk);
  }

  responseEnd(trailers: IncomingHttpHeaders): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#releaseRetrySlot();
    this.#caller.onResponseEnd?.(this, trailers);
  }

  upgrade(statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#finished = true;
    this.#releaseRetrySlot();
    this.#caller.onRequestUpgrade?.(this, statusCode, headers, socket);
  }

  /** The final error goes to the caller, with what the retries did. */
  fail(error: Error): void {
    if (this.#tries > 1 || this.#stopReason.startsWith('the retry budget')) {
      Object.defineProperty(error, 'retry', { value: { tries: this.#tries, stoppedBecause: this.#stopReason } satisfies RetryInfo, enumerable: false, configurable: true });
    }
    this.#failCaller(error);
  }

  #releaseRetrySlot(): void {
    if (!this.#holdsRetrySlot) return;
    this.#holdsRetrySlot = false;
    this.#service.activeRetries--;
  }

  #failCaller(error: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#releaseRetrySlot();
    if (this.#started) this.#caller.onResponseError?.(this, error);
    else failDispatch(this.#caller, error);
  }

  /** The caller aborted: stop the try in flight and any retry to come. */
  protected override cancelCall(reason: Error): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#failCaller(reason);
      return;
    }
    this.current?.abort(reason);
    if (!this.#started) this.#current?.cancelBeforeStart(reason);
  }
}

/** The handler of one try. */
class TryHandler implements Dispatcher.DispatchHandler {
  readonly #call: RetryCall;
  #draining = false;
  #drained = 0;
  #done = false;
  #timer: NodeJS.Timeout | undefined;
  #controller: Controller | undefined;

  constructor(call: RetryCall, perTryTimeoutMs: number | undefined, service: string) {
    this.#call = call;
    if (perTryTimeoutMs !== undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        const error = new PerTryTimeoutError(service, perTryTimeoutMs);
        if (this.#controller) this.#controller.abort(error);
        else this.onResponseError(null as unknown as Controller, error);
      }, perTryTimeoutMs);
    }
  }

  cancelBeforeStart(reason: Error): void {
    this.onResponseError(null as unknown as Controller, reason);
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#controller = controller;
    this.#call.tryStarted(controller, context);
  }

  onRequestUpgrade(_controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#clear();
    this.#call.upgrade(statusCode, headers, socket);
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (this.#done) return;
    if (statusCode < 200) return; // interim responses (100, 103) are not passed on
    this.#clear();
    if (this.#call.retryStatus(statusCode, headers)) {
      this.#draining = true;
      return;
    }
    this.#call.responseStart(statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#done) return;
    if (this.#draining) {
      this.#drained += chunk.length;
      if (this.#drained > DRAIN_LIMIT) controller.abort(new Error('proxyless: dropping a large response body before a retry'));
      return;
    }
    this.#call.responseData(chunk);
  }

  onResponseEnd(_controller: Controller, trailers: IncomingHttpHeaders): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#draining) this.#call.retryLater();
    else this.#call.responseEnd(trailers);
  }

  onResponseError(_controller: Controller, error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#clear();
    if (this.#draining || this.#call.retryFailure(error)) this.#call.retryLater();
    else this.#call.fail(error);
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The service-stack layer with role `retry` (Envoy's retry semantics, Istio's
 * `HTTPRetry`): retries a try that failed by the route's `retryOn` (default: 2 retries on
 * connect-failure, refused-stream and reset; never on 503), with full-jitter backoff
 * (25 ms base, 250 ms cap), each on another endpoint when one exists, capped by the
 * service's retry budget. Only when safe: response statuses and resets only for
 * idempotent methods; a body is sent again only when it is a string or bytes.
 * `Retry-After` on 429 and 503 is honoured up to 10 s.
 */
export function retryLayer(): Layer<ServiceTarget> {
  return layer<ServiceTarget>('retry', (next, target) => {
    const service = target as MeshService;
    return (opts, handler) => {
      const policy = routePolicyOf(opts).retry;
      const budget = service.retryBudget;
      if (policy.retries === 0) {
        budget.deposit();
        return next(opts, handler);
      }
      return new RetryCall(next, opts, handler, policy, service, budget).start();
    };
  });
}
