import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Dispatcher } from 'undici';
import { InvalidConfigError, InvalidOptionError } from '../../../src/core/errors/index.js';
import { layer, Stack } from '../../../src/core/layer.js';
import type { ServiceTarget } from '../../../src/mesh/types.js';
import { breakerLayer, breakerPermit, CircuitOpenError, DEFAULT_BREAKER_SETTINGS, ServiceBreaker, type BreakerOutcome, type BreakerSnapshot } from '../../../src/policy/breaker/index.js';
import { breakerSettings } from '../../../src/config/settings/index.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** Lets opossum's promise callbacks (where it counts outcomes and opens) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const breakers: ServiceBreaker[] = [];
function breaker(spec: Record<string, unknown> = {}, service = 'reviews'): ServiceBreaker {
  const b = new ServiceBreaker(service, breakerSettings(spec, 'test'));
  breakers.push(b);
  return b;
}

/** Sends requests with these outcomes one after the other; returns how many were refused. */
async function send(b: ServiceBreaker, ...outcomes: BreakerOutcome[]): Promise<number> {
  let refused = 0;
  for (const outcome of outcomes) {
    const permit = breakerPermit();
    if (b.tryPass(permit)) b.record(permit, outcome);
    else refused++;
    await flush();
  }
  return refused;
}

function times<T>(n: number, value: T): T[] {
  return Array.from({ length: n }, () => value);
}

/** Records every event of a breaker as `name` strings. */
function recordEvents(b: ServiceBreaker): string[] {
  const seen: string[] = [];
  b.events.on('open', () => seen.push('open'));
  b.events.on('halfOpen', () => seen.push('halfOpen'));
  b.events.on('close', () => seen.push('close'));
  return seen;
}

function errorWithCode(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe('breakerSettings', () => {
  it('fills in the documented defaults (undefined, {} or "{}")', () => {
    expect(breakerSettings(undefined, 'x')).toBe(DEFAULT_BREAKER_SETTINGS);
    const expected = {
      errorThresholdPercentage: 50,
      volumeThreshold: 20,
      rollingWindowMs: 10_000,
      rollingBuckets: 10,
      resetTimeoutMs: 30_000,
      halfOpenSuccesses: 1,
      failOn: ['5xx', 'connect-failure', 'reset'],
    };
    expect(DEFAULT_BREAKER_SETTINGS).toEqual(expected);
    expect(breakerSettings({}, 'x')).toEqual(expected);
    expect(breakerSettings('{}', 'x')).toEqual(expected);
  });

  it('reads the annotation JSON, durations as Istio durations, failOn deduplicated', () => {
    const s = breakerSettings(
      '{"errorThresholdPercentage": 25.5, "volumeThreshold": 5, "rollingWindow": "1m", "rollingBuckets": 60, ' +
        '"resetTimeout": "1500ms", "halfOpenSuccesses": 3, "failOn": ["gateway-error", 500, "timeout", 500]}',
      'x',
    );
    expect(s).toEqual({
      errorThresholdPercentage: 25.5,
      volumeThreshold: 5,
      rollingWindowMs: 60_000,
      rollingBuckets: 60,
      resetTimeoutMs: 1500,
      halfOpenSuccesses: 3,
      failOn: ['gateway-error', 500, 'timeout'],
    });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('reports every problem at once, naming where, the field, the value and what was expected', () => {
    const where = 'DestinationRule/reviews (config[0])';
    const at = `${where}: metadata.annotations["proxyless.dev/circuit-breaker"]`;
    let error: InvalidConfigError | undefined;
    try {
      breakerSettings(
        {
          errorThresholdPercentage: 100,
          volumeThreshold: -1,
          rollingWindow: '10 s',
          resetTimeout: 30,
          halfOpenSuccesses: 0,
          failOn: ['5xx', 404, 'bogus'],
          treshold: 1,
        },
        where,
      );
    } catch (e) {
      error = e as InvalidConfigError;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(error!.code).toBe('PROXYLESS_ERR_INVALID_CONFIG');
    expect(error!.problems).toEqual([
      `${at}.errorThresholdPercentage: 100 (expected: a number from 0 up to, not including, 100 (the breaker opens when the failure percentage exceeds it))`,
      `${at}.volumeThreshold: -1 (expected: an integer >= 0 (requests in the window before the breaker may open))`,
      `${at}.rollingWindow: "10 s" (expected: a duration such as "10s" or "100ms")`,
      `${at}.resetTimeout: 30 (expected: a duration such as "10s" or "100ms")`,
      `${at}.halfOpenSuccesses: 0 (expected: an integer from 1 to 1000 (probe successes in a row that close the breaker))`,
      `${at}.failOn[1]: 404 (expected: one of "5xx", "gateway-error", "connect-failure", "reset", "timeout", "error" or a status code 500..599; 4xx responses never count as failures (they are the caller's mistakes))`,
      `${at}.failOn[2]: "bogus" (expected: one of "5xx", "gateway-error", "connect-failure", "reset", "timeout", "error" or a status code 500..599)`,
      `${at}.treshold: unknown field (expected one of: errorThresholdPercentage, volumeThreshold, rollingWindow, rollingBuckets, resetTimeout, halfOpenSuccesses, failOn)`,
    ]);
  });

  it('checks the window divides into whole-millisecond buckets, failOn is not empty, and the JSON parses', () => {
    const w = 'w: metadata.annotations["proxyless.dev/circuit-breaker"]';
    expect(() => breakerSettings({ rollingWindow: '1s', rollingBuckets: 7 }, 'w')).toThrow(
      `${w}.rollingBuckets: 7 (expected: a count that divides rollingWindow "1s" (1000 ms) into buckets of whole milliseconds)`,
    );
    expect(() => breakerSettings({ failOn: [] }, 'w')).toThrow(`${w}.failOn: [] (expected: at least one condition (to turn the breaker off, remove the annotation))`);
    expect(() => breakerSettings({ resetTimeout: '0s' }, 'w')).toThrow(`${w}.resetTimeout: "0s" (expected: a duration of at least 1ms)`);
    expect(() => breakerSettings({ rollingWindow: '600h' }, 'w')).toThrow(`${w}.rollingWindow: "600h" (expected: a duration of at most 596h31m23.647s (2^31-1 ms`);
    expect(() => breakerSettings('{"volumeThreshold": 5,}', 'w')).toThrow(
      /^invalid mesh config:\n {2}w: metadata\.annotations\["proxyless\.dev\/circuit-breaker"\]: "\{\\"volumeThreshold\\": 5,\}" \(expected: a JSON object such as \{"volumeThreshold": 20, "resetTimeout": "30s"\}; .*JSON/,
    );
    expect(() => breakerSettings('[1]', 'w')).toThrow(`${w}: [1] (expected: an object)`);
  });

  it('ServiceBreaker checks settings built in code', () => {
    expect(() => new ServiceBreaker('reviews', { ...DEFAULT_BREAKER_SETTINGS, rollingBuckets: 0 })).toThrow(InvalidOptionError);
    expect(() => new ServiceBreaker('', DEFAULT_BREAKER_SETTINGS)).toThrow(/ServiceBreaker: invalid option:\n {2}service: "" \(expected: the service's name\)/);
  });
});

describe('ServiceBreaker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    for (const b of breakers.splice(0)) b.close();
    vi.useRealTimers();
  });

  it('stays closed below volumeThreshold however many fail, and opens on the request that reaches it', async () => {
    const b = breaker({ volumeThreshold: 20 });
    const opened = vi.fn();
    b.events.on('open', opened);
    await send(b, ...times(19, 'failure' as const));
    expect(b.state()).toBe('closed');
    expect(b.stats()).toEqual({ fires: 19, successes: 0, failures: 19, rejects: 0 });
    await send(b, 'failure');
    expect(b.state()).toBe('open');
    expect(opened).toHaveBeenCalledTimes(1);
    expect(opened).toHaveBeenCalledWith({
      service: 'reviews',
      openedAt: T0,
      retryAt: T0 + 30_000,
      stats: { fires: 20, successes: 0, failures: 20, rejects: 0 },
    });
  });

  it('opens only when the failure percentage exceeds errorThresholdPercentage', async () => {
    const b = breaker({ volumeThreshold: 10, errorThresholdPercentage: 50 });
    await send(b, ...times(5, 'success' as const), ...times(5, 'failure' as const));
    expect(b.state()).toBe('closed'); // 50 % is not more than 50 %
    await send(b, 'failure'); // 6 of 11
    expect(b.state()).toBe('open');
  });

  it('forgets outcomes older than the rolling window', async () => {
    const b = breaker({ volumeThreshold: 10, rollingWindow: '10s', rollingBuckets: 10 });
    await send(b, ...times(9, 'failure' as const));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(b.stats().fires).toBe(0);
    await send(b, 'failure');
    expect(b.state()).toBe('closed');
  });

  it('refuses while open, with an error naming the service, the times and the knobs; half-open after resetTimeout', async () => {
    const b = breaker({ volumeThreshold: 2, resetTimeout: '30s' });
    const seen = recordEvents(b);
    await send(b, 'failure', 'failure');
    expect(b.state()).toBe('open');
    expect(b.openedAt).toBe(T0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await send(b, 'success', 'success')).toBe(2);
    expect(b.stats().rejects).toBe(2);

    const error = b.openError();
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.code).toBe('PROXYLESS_ERR_CIRCUIT_OPEN');
    expect(error.statusCode).toBe(503);
    expect(error.service).toBe('reviews');
    expect(error.openedAt).toBe(T0);
    expect(error.retryAt).toBe(T0 + 30_000);
    expect(error.message).toBe(
      'the circuit breaker of service "reviews" is open since 2026-03-01T12:00:00.000Z; it opens when more than 50 % of at ' +
        'least 2 requests within 10 s fail (failOn: 5xx, connect-failure, reset); it lets a probe request through at ' +
        '2026-03-01T12:00:30.000Z (resetTimeout 30 s). The request was refused at once (503) without being sent. Fix or ' +
        'scale the service, or tune the DestinationRule annotation "proxyless.dev/circuit-breaker" (errorThresholdPercentage, ' +
        'volumeThreshold, rollingWindow, resetTimeout, halfOpenSuccesses, failOn).',
    );

    await vi.advanceTimersByTimeAsync(28_999);
    expect(b.state()).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(b.state()).toBe('half-open');
    expect(seen).toEqual(['open', 'halfOpen']);
  });

  it('half-open lets one probe through at a time; its success closes (halfOpenSuccesses 1)', async () => {
    const b = breaker({ volumeThreshold: 2, resetTimeout: '5s' });
    const seen = recordEvents(b);
    await send(b, 'failure', 'failure');
    await vi.advanceTimersByTimeAsync(5000);
    const probe = breakerPermit();
    expect(b.tryPass(probe)).toBe(true);
    expect(b.tryPass(breakerPermit())).toBe(false); // the probe is in flight
    expect(b.openError().message).toContain('is half-open since 2026-03-01T12:00:00.000Z');
    expect(b.openError().message).toContain('one is in flight now, and it closes after 1 more probe success');
    b.record(probe, 'success');
    await flush();
    expect(b.state()).toBe('closed');
    expect(b.openedAt).toBeUndefined();
    expect(seen).toEqual(['open', 'halfOpen', 'close']);
    expect(await send(b, 'success', 'success', 'success')).toBe(0);
  });

  it('needs halfOpenSuccesses probe successes in a row to close, still one probe at a time', async () => {
    const b = breaker({ volumeThreshold: 2, resetTimeout: '5s', halfOpenSuccesses: 3 });
    const seen = recordEvents(b);
    await send(b, 'failure', 'failure');
    await vi.advanceTimersByTimeAsync(5000);
    for (let i = 1; i <= 3; i++) {
      expect(b.state()).toBe('half-open');
      const probe = breakerPermit();
      expect(b.tryPass(probe)).toBe(true);
      expect(b.tryPass(breakerPermit())).toBe(false);
      b.record(probe, 'success');
      await flush();
    }
    expect(b.state()).toBe('closed');
    expect(seen).toEqual(['open', 'halfOpen', 'close']);
  });

  it('a failed probe reopens and restarts resetTimeout: in opossum half-open and after some successes', async () => {
    const b = breaker({ volumeThreshold: 2, resetTimeout: '5s', halfOpenSuccesses: 3 });
    const seen = recordEvents(b);
    await send(b, 'failure', 'failure');
    await vi.advanceTimersByTimeAsync(5000);
    await send(b, 'failure'); // the first probe fails
    expect(b.state()).toBe('open');
    expect(b.openedAt).toBe(T0 + 5000);
    await vi.advanceTimersByTimeAsync(4999);
    expect(b.state()).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(b.state()).toBe('half-open');
    await send(b, 'success', 'failure'); // one success, then a failure
    expect(b.state()).toBe('open');
    expect(b.openedAt).toBe(T0 + 10_000);
    await vi.advanceTimersByTimeAsync(5000);
    expect(await send(b, 'success', 'success', 'success')).toBe(0);
    expect(b.state()).toBe('closed');
    expect(seen).toEqual(['open', 'halfOpen', 'open', 'halfOpen', 'open', 'halfOpen', 'close']);
  });

  it('a probe counted as neither (caller abort) frees the probe slot and counts nothing', async () => {
    const b = breaker({ volumeThreshold: 2, resetTimeout: '5s', halfOpenSuccesses: 2 });
    const seen = recordEvents(b);
    await send(b, 'failure', 'failure');
    await vi.advanceTimersByTimeAsync(5000);
    await send(b, 'neither'); // opossum's own half-open probe
    expect(b.state()).toBe('half-open');
    await send(b, 'success', 'neither'); // our half-open after opossum closed
    expect(b.state()).toBe('half-open');
    expect(seen).toEqual(['open', 'halfOpen']);
    await send(b, 'success');
    expect(b.state()).toBe('closed');
    expect(seen).toEqual(['open', 'halfOpen', 'close']);
  });

  it('requests counted as neither are neither successes nor failures while closed', async () => {
    const b = breaker({ volumeThreshold: 1, errorThresholdPercentage: 0 });
    await send(b, ...times(10, 'neither' as const));
    expect(b.state()).toBe('closed');
    expect(b.stats()).toEqual({ fires: 10, successes: 0, failures: 0, rejects: 0 });
  });

  it('only the first report of a request counts; reports for refused requests do nothing', async () => {
    const b = breaker({ volumeThreshold: 1 });
    const permit = breakerPermit();
    b.tryPass(permit);
    b.record(permit, 'success');
    b.record(permit, 'failure');
    b.record(breakerPermit(), 'failure');
    await flush();
    expect(b.stats()).toEqual({ fires: 1, successes: 1, failures: 0, rejects: 0 });
  });

  it('classifies statuses and errors by failOn', () => {
    const byDefault = breaker();
    expect([200, 301, 404, 429, 499].map((s) => byDefault.outcomeOf(s))).toEqual(times(5, 'success'));
    expect([500, 502, 503, 504, 599].map((s) => byDefault.outcomeOf(s))).toEqual(times(5, 'failure'));
    expect(byDefault.outcomeOf(errorWithCode('ECONNREFUSED'))).toBe('failure');
    expect(byDefault.outcomeOf(errorWithCode('UND_ERR_CONNECT_TIMEOUT'))).toBe('failure');
    expect(byDefault.outcomeOf(errorWithCode('ECONNRESET'))).toBe('failure');
    expect(byDefault.outcomeOf(errorWithCode('UND_ERR_SOCKET', 'other side closed'))).toBe('failure');
    expect(byDefault.outcomeOf(errorWithCode('UND_ERR_HEADERS_TIMEOUT'))).toBe('neither');
    expect(byDefault.outcomeOf(new Error('something else'))).toBe('neither');
    expect(byDefault.outcomeOf(errorWithCode('ECONNRESET'), true)).toBe('neither'); // the caller aborted
    expect(byDefault.outcomeOf(new DOMException('aborted', 'AbortError'))).toBe('neither');
    expect(byDefault.outcomeOf(errorWithCode('UND_ERR_ABORTED'))).toBe('neither');
    expect(byDefault.outcomeOf(new DOMException('timed out', 'TimeoutError'))).toBe('neither'); // the caller's AbortSignal.timeout()

    const gateway = breaker({ failOn: ['gateway-error', 'timeout'] });
    expect([500, 501, 502, 503, 504, 505].map((s) => gateway.outcomeOf(s))).toEqual(['success', 'success', 'failure', 'failure', 'failure', 'success']);
    expect(gateway.outcomeOf(errorWithCode('ECONNREFUSED'))).toBe('neither');
    expect(gateway.outcomeOf(errorWithCode('UND_ERR_HEADERS_TIMEOUT'))).toBe('failure');
    expect(gateway.outcomeOf(errorWithCode('PROXYLESS_ERR_TIMEOUT'), true)).toBe('failure'); // a route timeout aborts through the controller

    const any = breaker({ failOn: [503, 'error'] });
    expect([500, 503].map((s) => any.outcomeOf(s))).toEqual(['success', 'failure']);
    expect(any.outcomeOf(new Error('something else'))).toBe('failure');
    expect(any.outcomeOf(new Error('something else'), true)).toBe('neither');
    expect(any.outcomeOf(errorWithCode('PROXYLESS_ERR_OVERLOADED'))).toBe('neither'); // never sent
    expect(any.outcomeOf(errorWithCode('PROXYLESS_ERR_DEADLINE_EXCEEDED'))).toBe('neither');
  });

  it('close() stops every timer opossum started (window rotation and reset timer)', async () => {
    expect(vi.getTimerCount()).toBe(0);
    const b = breaker({ volumeThreshold: 1 });
    expect(vi.getTimerCount()).toBe(1); // the window's bucket rotation (snapshots are off)
    await send(b, 'failure');
    expect(b.state()).toBe('open');
    expect(vi.getTimerCount()).toBe(2); // + the reset timer
    b.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(b.state()).toBe('closed');
    const permit = breakerPermit();
    expect(b.tryPass(permit)).toBe(true); // a closed breaker no longer guards
    b.record(permit, 'failure');
  });

  describe('exportState / importState', () => {
    it('an open breaker restarts open and goes half-open on its original schedule', async () => {
      const before = breaker({ volumeThreshold: 2, resetTimeout: '30s' });
      await send(before, 'failure', 'failure');
      await vi.advanceTimersByTimeAsync(5000);
      const snapshot = JSON.parse(JSON.stringify(before.exportState())) as BreakerSnapshot;
      expect(snapshot).toEqual({
        version: 1,
        service: 'reviews',
        state: 'open',
        openedAt: T0,
        successesNeeded: 0,
        takenAt: T0 + 5000,
        windowMs: 10_000,
        stats: { fires: 2, successes: 0, failures: 2, rejects: 0 },
      });
      before.close();

      await vi.advanceTimersByTimeAsync(2000); // the restart
      const after = breaker({ volumeThreshold: 2, resetTimeout: '30s' });
      const seen = recordEvents(after);
      after.importState(snapshot);
      expect(after.state()).toBe('open');
      expect(after.openedAt).toBe(T0);
      expect(after.openError().retryAt).toBe(T0 + 30_000);
      expect(after.tryPass(breakerPermit())).toBe(false);
      expect(vi.getTimerCount()).toBe(2); // the replaced opossum breaker's timers are gone
      expect(after.stats()).toEqual({ fires: 3, successes: 0, failures: 2, rejects: 1 }); // opossum counts refusals as fires
      await vi.advanceTimersByTimeAsync(30_000 - 7000 - 1);
      expect(after.state()).toBe('open');
      await vi.advanceTimersByTimeAsync(1);
      expect(after.state()).toBe('half-open');
      expect(seen).toEqual(['halfOpen']);
      // Later openings use the full resetTimeout again.
      await send(after, 'failure');
      await vi.advanceTimersByTimeAsync(29_999);
      expect(after.state()).toBe('open');
      await vi.advanceTimersByTimeAsync(1);
      expect(after.state()).toBe('half-open');
    });

    it('an open snapshot older than resetTimeout restarts half-open', async () => {
      const before = breaker({ volumeThreshold: 2, resetTimeout: '5s', halfOpenSuccesses: 2 });
      await send(before, 'failure', 'failure');
      const snapshot = before.exportState();
      await vi.advanceTimersByTimeAsync(60_000);
      const after = breaker({ volumeThreshold: 2, resetTimeout: '5s', halfOpenSuccesses: 2 });
      after.importState(snapshot);
      expect(after.state()).toBe('half-open');
      expect(await send(after, 'success', 'success')).toBe(0);
      expect(after.state()).toBe('closed');
    });

    it('a half-open breaker restarts half-open needing the successes it still needed', async () => {
      const before = breaker({ volumeThreshold: 2, resetTimeout: '5s', halfOpenSuccesses: 3 });
      await send(before, 'failure', 'failure');
      await vi.advanceTimersByTimeAsync(5000);
      await send(before, 'success');
      const snapshot = before.exportState();
      expect(snapshot).toMatchObject({ state: 'half-open', successesNeeded: 2, openedAt: T0 });
      const after = breaker({ volumeThreshold: 2, resetTimeout: '5s', halfOpenSuccesses: 3 });
      const seen = recordEvents(after);
      after.importState(snapshot);
      expect(after.exportState()).toMatchObject({ state: 'half-open', successesNeeded: 2, openedAt: T0 });
      await send(after, 'success');
      expect(after.state()).toBe('half-open');
      await send(after, 'success');
      expect(after.state()).toBe('closed');
      expect(seen).toEqual(['close']);
    });

    it("a closed breaker's window counts carry over while younger than one window", async () => {
      const before = breaker({ volumeThreshold: 10 });
      await send(before, ...times(9, 'failure' as const));
      const snapshot = before.exportState();
      expect(snapshot).toMatchObject({ state: 'closed', openedAt: null, stats: { fires: 9, failures: 9 } });

      const after = breaker({ volumeThreshold: 10 });
      after.importState(snapshot);
      expect(after.stats()).toEqual({ fires: 9, successes: 0, failures: 9, rejects: 0 });
      await send(after, 'failure'); // the tenth in the window
      expect(after.state()).toBe('open');

      await vi.advanceTimersByTimeAsync(10_000);
      const late = breaker({ volumeThreshold: 10 });
      late.importState(snapshot);
      expect(late.stats().fires).toBe(0);
    });

    it('refuses a malformed snapshot or another service’s, naming the fields', () => {
      const b = breaker();
      expect(() => b.importState({ ...b.exportState(), service: 'ratings' })).toThrow(
        'ServiceBreaker.importState: invalid option:\n  snapshot.service: "ratings" (expected: "reviews", the service this breaker guards)',
      );
      expect(() => b.importState({ ...b.exportState(), state: 'open', openedAt: null })).toThrow(
        /snapshot\.openedAt: null \(expected: a time in ms since the epoch when state is "open" or "half-open"\)/,
      );
      expect(() => b.importState({ version: 2 })).toThrow(InvalidOptionError);
      expect(() => b.importState('{}')).toThrow(/snapshot: "\{\}" \(expected: an object\)/);
    });
  });
});

describe('breakerLayer', () => {
  const target: ServiceTarget = {
    name: { host: 'reviews', fqdn: 'reviews.default.svc.cluster.local', names: ['reviews'], port: 80 },
    balancerName: 'round-robin',
  };

  /** A terminal that answers with the next status in `script` (or an error), synchronously. */
  function stackAnswering(breakerFor: () => ServiceBreaker | undefined, script: Array<number | Error | 'abort'>): { dispatch: ReturnType<Stack<ServiceTarget>['build']>; sent: () => number } {
    let sent = 0;
    const terminal = layer<ServiceTarget>('fake', () => (_opts, handler) => {
      const step = script[sent++];
      const controller = { aborted: step === 'abort', paused: false, reason: null, abort() {}, pause() {}, resume() {} } as unknown as Dispatcher.DispatchController;
      handler.onRequestStart?.(controller, {});
      if (typeof step === 'number') {
        handler.onResponseStart?.(controller, step, {}, '');
        handler.onResponseEnd?.(controller, {});
      } else {
        handler.onResponseError?.(controller, step === 'abort' ? new DOMException('aborted', 'AbortError') : step!);
      }
      return true;
    });
    const dispatch = new Stack<ServiceTarget>('service', [breakerLayer(breakerFor), terminal]).build(target);
    return { dispatch, sent: () => sent };
  }

  function collect(): { handler: Dispatcher.DispatchHandler; results: Array<number | Error> } {
    const results: Array<number | Error> = [];
    return {
      results,
      handler: {
        onResponseStart: (_c, status) => void results.push(status),
        onResponseError: (_c, error) => void results.push(error),
      },
    };
  }

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    for (const b of breakers.splice(0)) b.close();
    vi.useRealTimers();
  });

  it('reports statuses and errors, fails fast when open without calling the layer below', async () => {
    const b = breaker({ volumeThreshold: 5 });
    const { dispatch, sent } = stackAnswering(() => b, [404, 500, errorWithCode('ECONNREFUSED'), 'abort', 503]);
    const { handler, results } = collect();
    for (let i = 0; i < 5; i++) {
      dispatch({ path: '/', method: 'GET' }, handler);
      await flush();
    }
    expect(sent()).toBe(5);
    expect(b.stats()).toEqual({ fires: 5, successes: 1, failures: 3, rejects: 0 });
    expect(b.state()).toBe('open');
    // Refused and answered: `true` (undici's `false` would mean "busy, wait for drain").
    expect(dispatch({ path: '/', method: 'GET' }, handler)).toBe(true);
    expect(sent()).toBe(5);
    const refused = results.at(-1) as CircuitOpenError;
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(refused.message).toMatch(/^the circuit breaker of service "reviews" is open/);
  });

  it('adds nothing for a service without a breaker, and is named "breaker"', () => {
    const built = breakerLayer(() => undefined);
    expect(built.role).toBe('breaker');
    const { dispatch, sent } = stackAnswering(() => undefined, [500]);
    const { handler, results } = collect();
    dispatch({ path: '/', method: 'GET' }, handler);
    expect(sent()).toBe(1);
    expect(results).toEqual([500]);
    expect(() => breakerLayer('nope' as never)).toThrow(/breakerLayer: invalid option:\n {2}breakerFor: "nope" \(expected: a function/);
  });

  it('a layer below that throws counts as neither and the error reaches the caller', async () => {
    const b = breaker({ volumeThreshold: 1 });
    const thrower = layer<ServiceTarget>('thrower', () => () => {
      throw new TypeError('bad request options');
    });
    const dispatch = new Stack<ServiceTarget>('service', [breakerLayer(() => b), thrower]).build(target);
    expect(() => dispatch({ path: '/', method: 'GET' }, {})).toThrow('bad request options');
    await flush();
    expect(b.state()).toBe('closed');
    expect(b.stats().failures).toBe(0);
  });
});
