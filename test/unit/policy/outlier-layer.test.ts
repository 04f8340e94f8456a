import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { EndpointLoad } from '../../../src/balance/endpoint-load.js';
import { InvalidOptionError, MeshClosingError } from '../../../src/core/errors/index.js';
import { layer, Stack, type Dispatch } from '../../../src/core/layer.js';
import type { EndpointTarget } from '../../../src/mesh/types.js';
import { OutlierDetector, type OutlierSettings } from '../../../src/policy/outlier/index.js';
import { outlierLayer, type OutlierEndpoint } from '../../../src/policy/outlier/index.js';

type Controller = Dispatcher.DispatchController;

class TestEndpoint implements OutlierEndpoint {
  ejected = false;
  readonly service = 'reviews.default.svc.cluster.local';
  readonly address: string;
  readonly port = 8080;
  readonly weight = 1;
  readonly labels = {};
  readonly load = new EndpointLoad({ nowMs: 0 });
  constructor(readonly key: string) {
    this.address = key.split(':')[0]!;
  }
}

class FakeController implements Controller {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

/** Records every callback the caller's handler receives. */
class RecordingHandler implements Dispatcher.DispatchHandler {
  readonly calls: string[] = [];
  onRequestStart(_c: Controller, context: unknown): void {
    this.calls.push(`start:${String(context)}`);
  }
  onRequestUpgrade(_c: Controller, statusCode: number): void {
    this.calls.push(`upgrade:${statusCode}`);
  }
  onResponseStart(_c: Controller, statusCode: number, headers: Record<string, unknown>, statusMessage?: string): void {
    this.calls.push(`headers:${statusCode}:${String(headers['x'])}:${statusMessage}`);
  }
  onResponseData(_c: Controller, chunk: Buffer): void {
    this.calls.push(`data:${chunk.toString()}`);
  }
  onResponseEnd(_c: Controller, trailers: Record<string, unknown>): void {
    this.calls.push(`end:${String(trailers['t'])}`);
  }
  onResponseError(_c: Controller, error: Error): void {
    this.calls.push(`error:${error.message}`);
  }
  onRequestSent(): void {
    this.calls.push('sent');
  }
  onBodySent(chunk: Buffer): void {
    this.calls.push(`body:${chunk.toString()}`);
  }
  onResponseStarted(): void {
    this.calls.push('started');
  }
}

/** An error with a Node/undici-style code. */
function coded(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

/** What the fake endpoint does with a request. */
type Script = (handler: Dispatcher.DispatchHandler, controller: FakeController) => void;

const respond = (status: number): Script => (h, c) => {
  h.onRequestStart?.(c, 'ctx');
  h.onResponseStart?.(c, status, {}, '');
  h.onResponseEnd?.(c, {});
};
const failBeforeConnect = (error: Error): Script => (h) => h.onResponseError?.(undefined as unknown as Controller, error);

const request: Dispatcher.DispatchOptions = { origin: 'http://10.0.0.1:8080', path: '/', method: 'GET' };

function setup(settings: Partial<OutlierSettings> = {}, clock = { t: 0 }) {
  const endpoint = new TestEndpoint('10.0.0.1:8080');
  const detector = new OutlierDetector<TestEndpoint>({ maxEjectionPercent: 100, ...settings });
  detector.add(endpoint);
  detector.add(new TestEndpoint('10.0.0.2:8080'));
  let script: Script = respond(200);
  const handlers: Dispatcher.DispatchHandler[] = [];
  const next: Dispatch = (_opts, handler) => {
    handlers.push(handler);
    script(handler, new FakeController());
    return true;
  };
  const dispatch = outlierLayer<TestEndpoint>(() => detector, { now: () => clock.t }).wrap(next, endpoint);
  const send = (s: Script, handler: Dispatcher.DispatchHandler = new RecordingHandler()) => {
    script = s;
    return dispatch(request, handler);
  };
  return { endpoint, detector, send, handlers, clock };
}

describe('outlierLayer', () => {
  it('has role "outlier" and validates its arguments once', () => {
    expect(outlierLayer(() => undefined).role).toBe('outlier');
    expect(() => outlierLayer('nope' as unknown as () => undefined)).toThrow(InvalidOptionError);
    expect(() => outlierLayer(() => undefined, { now: 5 as unknown as () => number })).toThrow(/now: number \(expected: a function/);
  });

  it('counts 5xx responses and ejects at the threshold, stamped with its clock', () => {
    const { endpoint, detector, send, clock } = setup();
    clock.t = 1234;
    for (let i = 0; i < 4; i++) send(respond(500));
    expect(detector.inspect(endpoint)!.consecutive5xx).toBe(4);
    send(respond(503));
    expect(endpoint.ejected).toBe(true);
    expect(detector.inspect(endpoint)!.ejectedAt).toBe(1234);
  });

  it('a non-5xx response resets the count; 404 and 429 are successes', () => {
    const { endpoint, detector, send } = setup();
    for (let i = 0; i < 4; i++) send(respond(500));
    send(respond(404));
    expect(detector.inspect(endpoint)!.consecutive5xx).toBe(0);
    send(respond(429));
    expect(detector.inspect(endpoint)!.consecutive5xx).toBe(0);
  });

  it('502/503/504 count as gateway errors, 500 does not', () => {
    const { endpoint, detector, send } = setup({ consecutiveGatewayErrors: 3 });
    send(respond(502));
    send(respond(504));
    expect(detector.inspect(endpoint)!.consecutiveGatewayErrors).toBe(2);
    send(respond(500));
    expect(detector.inspect(endpoint)).toMatchObject({ consecutiveGatewayErrors: 0, consecutive5xx: 3 });
    send(respond(503));
    send(respond(503));
    send(respond(503));
    expect(endpoint.ejected).toBe(true);
  });

  it('connection failures before any response are local-origin failures', () => {
    const { endpoint, detector, send } = setup({ splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 10 });
    send(failBeforeConnect(coded('connect ECONNREFUSED 10.0.0.1:8080', 'ECONNREFUSED')));
    send(failBeforeConnect(coded('Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT')));
    send(failBeforeConnect(coded('other side closed', 'UND_ERR_SOCKET')));
    send(failBeforeConnect(coded('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT')));
    send(failBeforeConnect(coded('Response does not match the HTTP/1.1 protocol', 'HPE_INVALID_CONSTANT')));
    send(failBeforeConnect(coded('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT')));
    send(failBeforeConnect(coded('fetch failed', 'SOMETHING_ELSE', coded('read ECONNRESET', 'ECONNRESET'))));
    expect(detector.inspect(endpoint)!.consecutiveLocalOriginFailures).toBe(7);
  });

  it('unsplit, local-origin failures count as gateway errors and 5xx', () => {
    const { endpoint, detector, send } = setup({ consecutiveGatewayErrors: 2 });
    send(failBeforeConnect(coded('read ECONNRESET', 'ECONNRESET')));
    expect(detector.inspect(endpoint)).toMatchObject({ consecutive5xx: 1, consecutiveGatewayErrors: 1 });
    send(failBeforeConnect(coded('Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT')));
    expect(endpoint.ejected).toBe(true);
  });

  it('does not count a request the caller aborted', () => {
    const { endpoint, detector, send } = setup({ consecutiveGatewayErrors: 2 });
    const aborted: Script = (h, c) => {
      h.onRequestStart?.(c, 'ctx');
      c.abort(new Error('aborted'));
      h.onResponseError?.(c, coded('Request aborted', 'UND_ERR_ABORTED'));
    };
    const abortedMidBody: Script = (h, c) => {
      h.onRequestStart?.(c, 'ctx');
      h.onResponseStart?.(c, 200, {}, 'OK');
      c.abort(new Error('stop'));
      // Even with a transport-looking code, an abort by the caller is not the endpoint's fault.
      h.onResponseError?.(c, coded('socket closed', 'UND_ERR_SOCKET'));
    };
    for (let i = 0; i < 5; i++) send(aborted);
    send(abortedMidBody);
    expect(detector.inspect(endpoint)).toMatchObject({ consecutive5xx: 0, consecutiveGatewayErrors: 0 });
    expect(endpoint.ejected).toBe(false);
  });

  it('does not count errors that are not about the endpoint', () => {
    const { endpoint, detector, send } = setup({ consecutive5xxErrors: 1 });
    send(failBeforeConnect(new MeshClosingError(10_000)));
    send(failBeforeConnect(coded('invalid request path', 'UND_ERR_INVALID_ARG')));
    send(failBeforeConnect(coded('The client is destroyed', 'UND_ERR_DESTROYED')));
    send(failBeforeConnect(new TypeError('handler bug')));
    expect(detector.inspect(endpoint)!.consecutive5xx).toBe(0);
    expect(endpoint.ejected).toBe(false);
  });

  it('a consumer that throws after the headers does not count against the endpoint', () => {
    const { endpoint, detector, send } = setup();
    send(respond(500));
    const consumerBug: Script = (h, c) => {
      h.onRequestStart?.(c, 'ctx');
      h.onResponseStart?.(c, 200, {}, 'OK');
      h.onResponseError?.(c, new Error('JSON parse error in the caller'));
    };
    send(consumerBug);
    expect(detector.inspect(endpoint)).toMatchObject({ consecutive5xx: 0, consecutiveGatewayErrors: 0, consecutiveLocalOriginFailures: 0 });
  });

  it('a connection failure after the headers is counted after the status', () => {
    const { endpoint, detector, send } = setup({ splitExternalLocalOriginErrors: true });
    const brokenBody: Script = (h, c) => {
      h.onRequestStart?.(c, 'ctx');
      h.onResponseStart?.(c, 200, {}, 'OK');
      h.onResponseData?.(c, Buffer.from('par'));
      h.onResponseError?.(c, coded('other side closed', 'UND_ERR_SOCKET'));
    };
    send(brokenBody);
    send(brokenBody);
    // Each 200 reset the local count, then the reset raised it: 1, as in Envoy.
    expect(detector.inspect(endpoint)!.consecutiveLocalOriginFailures).toBe(1);
    const bodyTimeout: Script = (h, c) => {
      h.onRequestStart?.(c, 'ctx');
      h.onResponseStart?.(c, 500, {}, '');
      h.onResponseError?.(c, coded('Body Timeout Error', 'UND_ERR_BODY_TIMEOUT'));
    };
    send(bodyTimeout);
    expect(detector.inspect(endpoint)).toMatchObject({ consecutive5xx: 1, consecutiveLocalOriginFailures: 1 });
  });

  it('an upgrade is a success; 1xx headers are not a result', () => {
    const { endpoint, detector, send } = setup();
    for (let i = 0; i < 4; i++) send(respond(500));
    send((h, c) => {
      h.onRequestStart?.(c, 'ctx');
      h.onResponseStart?.(c, 100, {}, 'Continue');
      expect(detector.inspect(endpoint)!.consecutive5xx).toBe(4);
      h.onRequestUpgrade?.(c, 101, {}, undefined as never);
    });
    expect(detector.inspect(endpoint)!.consecutive5xx).toBe(0);
  });

  it('records each response once, even if headers were delivered twice by a buggy layer below', () => {
    const { endpoint, detector, send } = setup();
    send((h, c) => {
      h.onResponseStart?.(c, 500, {}, '');
      h.onResponseStart?.(c, 500, {}, '');
    });
    expect(detector.inspect(endpoint)!.consecutive5xx).toBe(1);
  });

  it('forwards every callback, with its arguments, to the caller handler', () => {
    const { send } = setup();
    const caller = new RecordingHandler();
    send((h, c) => {
      h.onRequestStart?.(c, 'ctx');
      h.onBodySent?.(Buffer.from('b'));
      h.onRequestSent?.();
      h.onResponseStarted?.();
      h.onResponseStart?.(c, 200, { x: 'y' }, 'OK');
      h.onResponseData?.(c, Buffer.from('d'));
      h.onResponseEnd?.(c, { t: 'v' });
      h.onRequestUpgrade?.(c, 101, {}, undefined as never);
      h.onResponseError?.(c, new Error('e'));
    }, caller);
    expect(caller.calls).toEqual(['start:ctx', 'body:b', 'sent', 'started', 'headers:200:y:OK', 'data:d', 'end:v', 'upgrade:101', 'error:e']);
  });

  it('passes the caller handler through untouched when the service has no detector', () => {
    const endpoint = new TestEndpoint('10.0.0.9:80');
    const seen: Dispatcher.DispatchHandler[] = [];
    const dispatch = outlierLayer<TestEndpoint>(() => undefined).wrap((_o, h) => (seen.push(h), true), endpoint);
    const caller = new RecordingHandler();
    dispatch(request, caller);
    expect(seen[0]).toBe(caller);
  });

  it('asks for the detector on every request, so a config reload takes effect at once', () => {
    const endpoint = new TestEndpoint('10.0.0.1:8080');
    let detector: OutlierDetector<TestEndpoint> | undefined;
    const next: Dispatch = (_o, h) => (respond(500)(h, new FakeController()), true);
    const dispatch = outlierLayer<TestEndpoint>(() => detector).wrap(next, endpoint);
    dispatch(request, new RecordingHandler());
    detector = new OutlierDetector<TestEndpoint>({ maxEjectionPercent: 100 });
    detector.add(endpoint);
    dispatch(request, new RecordingHandler());
    expect(detector.inspect(endpoint)!.consecutive5xx).toBe(1);
  });

  it('lets an error thrown by the layer below propagate, counting nothing', () => {
    const endpoint = new TestEndpoint('10.0.0.1:8080');
    const detector = new OutlierDetector<TestEndpoint>({ maxEjectionPercent: 100 });
    detector.add(endpoint);
    const dispatch = outlierLayer<TestEndpoint>(() => detector).wrap(() => {
      throw new Error('below');
    }, endpoint);
    expect(() => dispatch(request, new RecordingHandler())).toThrow('below');
    expect(detector.inspect(endpoint)!.consecutive5xx).toBe(0);
  });

  it('fits the mesh endpoint stack', () => {
    const detector = new OutlierDetector<TestEndpoint>({ maxEjectionPercent: 100 });
    const terminal = layer<EndpointTarget>('pool', () => (_o, h) => (respond(502)(h, new FakeController()), true));
    const stack = new Stack<EndpointTarget>('endpoint', [terminal]);
    stack.insertBefore('pool', outlierLayer<TestEndpoint>((endpoint) => (endpoint.service.startsWith('reviews') ? detector : undefined)));
    expect(stack.roles()).toEqual(['outlier', 'pool']);
    const endpoint = new TestEndpoint('10.0.0.1:8080');
    detector.add(endpoint);
    stack.build(endpoint)(request, new RecordingHandler());
    expect(detector.inspect(endpoint)!.consecutive5xx).toBe(1);
  });
});
