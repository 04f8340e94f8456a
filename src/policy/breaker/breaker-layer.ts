import type { IncomingHttpHeaders } from 'node:http';
import { callHooksOf } from '../../core/call-hooks.js';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { InvalidOptionError } from '../../core/errors/index.js';
import { failDispatch, ForwardingHandler } from '../../core/forwarding-handler.js';
import { layer, type Layer } from '../../core/layer.js';
import type { ServiceTarget } from '../../core/target.js';
import { formatValue } from '../../core/validate.js';
import type { BreakerPermit, ServiceBreaker } from './circuit-breaker.js';

type Controller = Dispatcher.DispatchController;

/** Reports a request's outcome to its breaker when the response starts or the request fails. */
class BreakerHandler extends ForwardingHandler implements BreakerPermit {
  breakerResolve: ((value?: unknown) => void) | undefined = undefined;
  breakerReject: ((reason?: unknown) => void) | undefined = undefined;
  readonly #breaker: ServiceBreaker;

  constructor(next: Dispatcher.DispatchHandler, breaker: ServiceBreaker) {
    super(next);
    this.#breaker = breaker;
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#breaker.record(this, 'success');
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  #started = false;

  override onRequestStart(controller: Controller, context: unknown): void {
    this.#started = true;
    super.onRequestStart(controller, context);
  }

  override onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    // An interim response (100 Continue, 103 Early Hints) is not the response: the final one decides.
    if (statusCode >= 200) this.#breaker.record(this, this.#breaker.outcomeOf(statusCode));
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  override onResponseError(controller: Controller, error: Error): void {
    // A request ended through its controller was aborted by the caller or a layer above.
    this.#breaker.record(this, this.#breaker.outcomeOf(error, controller?.aborted === true, this.#started));
    super.onResponseError(controller, error);
  }
}

/**
 * The service-stack layer with role `breaker`: while the service's breaker is open (or
 * half-open with its probe in flight) a request fails at once with
 * `CircuitOpenError` (503, code `PROXYLESS_ERR_CIRCUIT_OPEN`), never sent;
 * otherwise it goes on, and its outcome is reported to the breaker when the response
 * starts (the status) or the request fails (the error); see {@link ServiceBreaker}. One
 * handler object per request, nothing else.
 *
 * @param breakerFor the breaker of a service, or `undefined` for none (the layer then
 *   adds nothing). Called per request, so a reload that swaps breakers applies at once:
 *   keep it a lookup.
 */
export function breakerLayer(breakerFor: (service: ServiceTarget) => ServiceBreaker | undefined): Layer<ServiceTarget> {
  if (typeof breakerFor !== 'function') {
    throw new InvalidOptionError('breakerLayer', [`breakerFor: ${formatValue(breakerFor)} (expected: a function (service) => ServiceBreaker | undefined)`]);
  }
  return layer<ServiceTarget>('breaker', (next, target) => (opts, handler) => {
    const breaker = breakerFor(target);
    if (breaker === undefined) return next(opts, handler);
    const counted = new BreakerHandler(handler, breaker);
    if (!breaker.tryPass(counted)) {
      callHooksOf(opts)?.breakerRefused();
      return failDispatch(handler, breaker.openError());
    }
    try {
      return next(opts, counted);
    } catch (error) {
      breaker.record(counted, 'neither');
      throw error;
    }
  });
}
