import type { Dispatcher } from 'undici';
import { InvalidOptionError } from '../../core/errors/index.js';
import { ForwardingHandler } from '../../core/forwarding-handler.js';
import { layer, type Layer } from '../../core/layer.js';
import type { EndpointTarget } from '../../core/target.js';
import { isLocalOriginFailure, isTimeoutOfTry } from './internal-outlier-errors.js';
import { outlierResultOfStatus, type OutlierDetector, type OutlierHost } from './outlier-detection.js';

type Controller = Dispatcher.DispatchController;

/** An endpoint that outlier detection can eject: an endpoint-stack target with the `ejected` flag. */
export type OutlierEndpoint = EndpointTarget & OutlierHost;

/** Options of {@link outlierLayer}. */
export interface OutlierLayerOptions {
  /**
   * The clock the results are stamped with, monotonic ms. It must be the clock the
   * caller passes to {@link OutlierDetector.sweep}. Default `performance.now()`.
   */
  now?: () => number;
}

/**
 * Reports one request's result to its endpoint's detector, once the result is known:
 *
 * - final response headers (`onResponseStart`, status >= 200): the status decides
 *   (502–504 gateway error, other 5xx, anything else success); an upgrade is a success;
 * - an error: a connection-level failure (connect error or timeout, TLS failure, reset,
 *   response timeout, malformed response) is a local-origin failure; an error that is not
 *   about the connection (see `internal-outlier-errors.ts`) is not counted;
 * - a try cancelled by its `perTryTimeout` or the route `timeout` while still awaiting
 *   headers, after it was written, is a local-origin failure too (Envoy's `LocalOriginTimeout`, a 504 gateway
 *   error unless local-origin errors are split); any other cancellation (the caller's
 *   abort, a hedge that lost, an inherited deadline) is not counted: it says nothing of
 *   the endpoint's health.
 *
 * A connection failure after the headers (the body broke off) is counted too, after the
 * status: Envoy also reports an upstream reset whenever it happens.
 */
class OutlierHandler<E extends OutlierEndpoint> extends ForwardingHandler {
  readonly #detector: OutlierDetector<E>;
  readonly #endpoint: E;
  readonly #now: () => number;
  #responded = false;
  /** Handed to a connection and not aborted right there (a try cancelled while queued is aborted as it starts: nothing is written). */
  #written = false;

  constructor(next: Dispatcher.DispatchHandler, detector: OutlierDetector<E>, endpoint: E, now: () => number) {
    super(next);
    this.#detector = detector;
    this.#endpoint = endpoint;
    this.#now = now;
  }

  override onRequestStart(controller: Controller, context: unknown): void {
    super.onRequestStart(controller, context);
    this.#written = !controller.aborted;
  }

  override onResponseStart(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onResponseStart']>[2], statusMessage?: string): void {
    if (statusCode >= 200 && !this.#responded) {
      this.#responded = true;
      this.#detector.record(this.#endpoint, outlierResultOfStatus(statusCode), this.#now());
    }
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<ForwardingHandler['onRequestUpgrade']>[2], socket: Parameters<ForwardingHandler['onRequestUpgrade']>[3]): void {
    if (!this.#responded) {
      this.#responded = true;
      this.#detector.record(this.#endpoint, 'success', this.#now());
    }
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  override onResponseError(controller: Controller, error: Error): void {
    // `controller` is missing when the request failed before it had one (connect errors).
    if (controller?.aborted ? this.#written && !this.#responded && isTimeoutOfTry(error) : isLocalOriginFailure(error)) {
      this.#detector.record(this.#endpoint, 'local-origin-failure', this.#now());
    }
    super.onResponseError(controller, error);
  }
}

/**
 * The endpoint-stack layer with role `outlier`: feeds each request's result (status or
 * connection failure) to the endpoint's {@link OutlierDetector}, which ejects endpoints
 * per Envoy's consecutive-error rules. Ejecting, restoring (`sweep`) and telling the
 * balancers are the caller's side; this layer only counts.
 *
 * `detectorFor` is called on every request, so a detector replaced by a config reload
 * takes effect at once; it must be cheap (a field or map lookup) and not allocate. When
 * it returns `undefined` (the service has no `outlierDetection`), the request passes
 * through untouched: no handler is wrapped. Otherwise the only allocation per request
 * is the forwarding handler.
 *
 * Meant to sit after `load` and before the connection pool limits and the pool. Errors
 * that are not about the endpoint, such as an overload error from the pool limits, are
 * not counted wherever the layer sits.
 *
 * @param detectorFor the detector of the endpoint's service, or `undefined` for none.
 * @typeParam E the endpoint type the stack is built for (the mesh's endpoint state).
 */
export function outlierLayer<E extends OutlierEndpoint = OutlierEndpoint>(
  detectorFor: (endpoint: E) => OutlierDetector<E> | undefined,
  options: OutlierLayerOptions = {},
): Layer<E> {
  const problems: string[] = [];
  if (typeof detectorFor !== 'function') {
    problems.push(`detectorFor: ${typeof detectorFor} (expected: a function (endpoint) => OutlierDetector | undefined)`);
  }
  if (options === null || typeof options !== 'object') {
    problems.push(`options: ${String(options)} (expected: an object)`);
  } else if (options.now !== undefined && typeof options.now !== 'function') {
    problems.push(`now: ${typeof options.now} (expected: a function returning monotonic milliseconds)`);
  }
  if (problems.length > 0) throw new InvalidOptionError('outlierLayer', problems);
  const now = options.now ?? (() => performance.now());
  return layer<E>('outlier', (next, endpoint) => (opts, handler) => {
    const detector = detectorFor(endpoint);
    if (detector === undefined) return next(opts, handler);
    return next(opts, new OutlierHandler(handler, detector, endpoint, now));
  });
}
