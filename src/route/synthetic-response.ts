import type { Dispatcher } from 'undici';
import { rawHeadersOf } from './header-ops.js';

/** A controller for a response the mesh makes itself (no socket behind it). */
class SyntheticController implements Dispatcher.DispatchController {
  /** undici's consumers read response headers from here. */
  rawHeaders: Buffer[] = [];
  #aborted = false;
  #reason: Error | null = null;
  get aborted(): boolean {
    return this.#aborted;
  }
  get paused(): boolean {
    return false;
  }
  get reason(): Error | null {
    return this.#reason;
  }
  abort(reason: Error): void {
    this.#aborted = true;
    this.#reason = reason;
  }
  pause(): void {}
  resume(): void {}
}

/**
 * Answers a request without sending it anywhere: VirtualService `directResponse`,
 * `redirect`, fault `abort`, and "no route matched". The handler sees a normal response.
 * A string body is sent as UTF-8, bytes as they are.
 */
export function respond(
  handler: Dispatcher.DispatchHandler,
  status: number,
  headers: Record<string, string>,
  body: string | Uint8Array,
): boolean {
  const controller = new SyntheticController();
  // Text is sent as UTF-8; bytes exactly as given (a binary directResponse body), copied
  // so a handler that edits its chunk cannot change the next response.
  const bytes = Buffer.from(body);
  const all: Record<string, string> = { ...headers, 'content-length': String(bytes.length) };
  if (bytes.length > 0 && all['content-type'] === undefined) all['content-type'] = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'text/plain';
  controller.rawHeaders = rawHeadersOf(all);
  queueMicrotask(() => {
    try {
      handler.onRequestStart?.(controller, undefined);
      if (controller.aborted) return handler.onResponseError?.(controller, controller.reason!);
      handler.onResponseStart?.(controller, status, all, STATUS_TEXT[status] ?? '');
      if (controller.aborted) return handler.onResponseError?.(controller, controller.reason!);
      if (bytes.length > 0) handler.onResponseData?.(controller, bytes);
      handler.onResponseEnd?.(controller, {});
    } catch (error) {
      handler.onResponseError?.(controller, error as Error);
    }
  });
  return true;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
