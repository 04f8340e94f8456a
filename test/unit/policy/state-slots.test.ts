import { describe, expect, it } from 'vitest';
import type { Dispatcher } from 'undici';
import { balanceLayer, ENDPOINT_PICKER, type EndpointPicker } from '../../../src/balance/balance-layer.js';
import { InvalidOptionError, OverloadError } from '../../../src/core/errors/index.js';
import { layer, Stack } from '../../../src/core/layer.js';
import type { ServiceTarget, StateKey } from '../../../src/core/target.js';
import { LIMITS_STATE, limitsLayer, type LimitsState } from '../../../src/policy/limits/index.js';
import { RETRY_STATE, retryLayer, ServiceRetryState } from '../../../src/policy/retry/index.js';

// Layers get their per-service state through the target's typed slots (ServiceTarget.state),
// never by downcasting the target to the mesh's own service class: these targets are plain
// objects, as a custom stack's would be.

const name = { host: 'reviews', fqdn: 'reviews.default.svc.cluster.local', names: ['reviews'], port: 80 };

function targetWith(slots: ReadonlyArray<readonly [object, unknown]> = []): ServiceTarget {
  const map = new Map<object, unknown>(slots);
  return { name, balancerName: 'round-robin', state: <T>(key: StateKey<T>) => map.get(key) as T | undefined };
}

const controller = { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} } as unknown as Dispatcher.DispatchController;

/** A terminal answering each request with the next step: a status, an error, or 'hold' (never ends). */
function scripted(steps: Array<number | Error | 'hold'>) {
  let sent = 0;
  const terminal = layer<ServiceTarget>('terminal', () => (_opts, handler) => {
    const step = steps[sent++];
    handler.onRequestStart?.(controller, {});
    if (step === 'hold') return true;
    if (typeof step === 'number') {
      handler.onResponseStart?.(controller, step, {}, '');
      handler.onResponseEnd?.(controller, {});
    } else {
      handler.onResponseError?.(controller, step!);
    }
    return true;
  });
  return { terminal, sent: () => sent };
}

function outcome(): { handler: Dispatcher.DispatchHandler; result: Promise<number | Error> } {
  let settle!: (value: number | Error) => void;
  const result = new Promise<number | Error>((resolve) => (settle = resolve));
  let status = 0;
  return {
    handler: {
      onRequestStart() {},
      onResponseStart(_c, code) {
        status = code;
      },
      onResponseData() {},
      onResponseEnd() {
        settle(status);
      },
      onResponseError(_c, error) {
        settle(error);
      },
    },
    result,
  };
}

const GET: Dispatcher.DispatchOptions = { origin: 'http://reviews', method: 'GET', path: '/' };
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

describe('per-policy state slots on the target', () => {
  it('limits: reads the limits and counts requests in flight in its slot; refuses beyond maxRequests', async () => {
    const state: LimitsState = {
      limits: { maxConnectionsPerEndpoint: undefined, maxPendingRequests: undefined, maxRequests: 1, maxRequestsPerConnection: undefined, maxRetries: undefined, connectTimeoutMs: undefined, idleTimeoutMs: undefined },
      activeRequests: 0,
      connectionCapacity: () => 1,
    };
    const { terminal, sent } = scripted(['hold', 200]);
    const dispatch = new Stack<ServiceTarget>('service', [limitsLayer(), terminal]).build(targetWith([[LIMITS_STATE, state]]));
    dispatch(GET, outcome().handler);
    expect(state.activeRequests).toBe(1);
    const second = outcome();
    dispatch(GET, second.handler);
    const error = await second.result;
    expect(error).toBeInstanceOf(OverloadError);
    expect((error as Error).message).toContain('reviews');
    expect(sent()).toBe(1);
  });

  it('limits: a target without the slot has no limits (requests pass through)', async () => {
    const { terminal, sent } = scripted(['hold', 200]);
    const dispatch = new Stack<ServiceTarget>('service', [limitsLayer(), terminal]).build(targetWith());
    dispatch(GET, outcome().handler);
    const second = outcome();
    dispatch(GET, second.handler);
    expect(await second.result).toBe(200);
    expect(sent()).toBe(2);
  });

  it('retry: a target without the slot gets its own state and retries a connect failure', async () => {
    const { terminal, sent } = scripted([refused(), 200]);
    const dispatch = new Stack<ServiceTarget>('service', [retryLayer(), terminal]).build(targetWith());
    const call = outcome();
    dispatch(GET, call.handler);
    expect(await call.result).toBe(200);
    expect(sent()).toBe(2);
  });

  it("retry: follows the slot's maxRetries (0 retries in flight allowed: the failure reaches the caller)", async () => {
    const state = new ServiceRetryState(undefined, 0);
    const { terminal, sent } = scripted([refused(), 200]);
    const dispatch = new Stack<ServiceTarget>('service', [retryLayer(), terminal]).build(targetWith([[RETRY_STATE, state]]));
    const call = outcome();
    dispatch(GET, call.handler);
    expect(await call.result).toMatchObject({ code: 'ECONNREFUSED' });
    expect(sent()).toBe(1);
    expect(state.activeRetries).toBe(0);
  });

  it('balance: sends through the slot\'s endpoint picker; a target without one fails the build, naming the service', () => {
    const picked: Dispatcher.DispatchOptions[] = [];
    const picker: EndpointPicker = { dispatchToEndpoint: (opts) => (picked.push(opts), true) };
    new Stack<ServiceTarget>('service', [balanceLayer()]).build(targetWith([[ENDPOINT_PICKER, picker]]))(GET, outcome().handler);
    expect(picked).toEqual([GET]);
    expect(() => new Stack<ServiceTarget>('service', [balanceLayer()]).build(targetWith())).toThrow(InvalidOptionError);
    expect(() => new Stack<ServiceTarget>('service', [balanceLayer()]).build(targetWith())).toThrow(/service "reviews" has no endpoint picker/);
  });
});
