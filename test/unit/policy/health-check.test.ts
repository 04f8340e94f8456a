import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidConfigError, InvalidOptionError } from '../../../src/core/errors/index.js';
import { DEFAULT_HEALTH_CHECK_SETTINGS, HealthChecker, type HealthCheckerOptions, type HealthCheckResult, type HealthCheckTimers } from '../../../src/policy/health-check/index.js';
import { healthCheckSettings, type HealthCheckSpec } from '../../../src/config/settings/index.js';

const WHERE = 'DestinationRule/reviews (config[0])';
/** Where every problem line starts: the resource, then the annotation's key. */
const AT = `${WHERE}: metadata.annotations["proxyless.dev/health-check"]`;

function problems(spec: unknown): readonly string[] {
  try {
    healthCheckSettings(spec, WHERE);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).code).toBe('PROXYLESS_ERR_INVALID_CONFIG');
    return (error as InvalidConfigError).problems;
  }
  throw new Error(`accepted: ${JSON.stringify(spec)}`);
}

describe('healthCheckSettings', () => {
  it('fills every default for an empty spec', () => {
    expect(healthCheckSettings({}, WHERE)).toEqual({
      path: '/healthz',
      intervalMs: 10_000,
      jitter: 0.1,
      timeoutMs: 1000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
      expectedStatuses: [{ start: 200, end: 400 }],
      method: 'GET',
      host: undefined,
    });
    expect(DEFAULT_HEALTH_CHECK_SETTINGS).toEqual(healthCheckSettings({}, WHERE));
    expect(Object.isFrozen(DEFAULT_HEALTH_CHECK_SETTINGS)).toBe(true);
  });

  it('reads the annotation JSON string and every field, durations in ms and statuses as half-open ranges', () => {
    const annotation = JSON.stringify({
      path: '/ready?full=1',
      interval: '1.5s',
      jitter: 0,
      timeout: '250ms',
      healthyThreshold: 1,
      unhealthyThreshold: 5,
      expectedStatuses: [204, '300-302', ' 404 ', { start: 500, end: 501 }],
      method: 'HEAD',
      host: 'reviews.default.svc.cluster.local:9080',
    } satisfies HealthCheckSpec);
    expect(healthCheckSettings(annotation, WHERE)).toEqual({
      path: '/ready?full=1',
      intervalMs: 1500,
      jitter: 0,
      timeoutMs: 250,
      healthyThreshold: 1,
      unhealthyThreshold: 5,
      expectedStatuses: [
        { start: 204, end: 205 },
        { start: 300, end: 303 },
        { start: 404, end: 405 },
        { start: 500, end: 501 },
      ],
      method: 'HEAD',
      host: 'reviews.default.svc.cluster.local:9080',
    });
  });

  it.each<[string, unknown, string]>([
    ['path without a slash', { path: 'healthz' }, '.path: "healthz" (expected: a path starting with "/"'],
    ['path with a space', { path: '/a b' }, '.path: "/a b" (expected: a path starting with "/" without spaces'],
    ['zero interval', { interval: '0s' }, '.interval: "0s" (expected: a duration from 1ms to 24h such as "10s")'],
    ['interval without a unit', { interval: '10' }, '.interval: "10" (expected: a duration from 1ms to 24h'],
    ['interval as a number', { interval: 10 }, '.interval: 10 (expected: a duration from 1ms to 24h'],
    ['interval above 24h', { interval: '25h' }, '.interval: "25h" (expected: a duration from 1ms to 24h'],
    ['timeout below 1ms', { timeout: '10us' }, '.timeout: "10us" (expected: a duration from 1ms to 24h such as "1s")'],
    ['jitter above 1', { jitter: 1.5 }, '.jitter: 1.5 (expected: a fraction of interval from 0 to 1, such as 0.1)'],
    ['negative jitter', { jitter: -0.1 }, '.jitter: -0.1 (expected: a fraction of interval from 0 to 1'],
    ['jitter as a percent string', { jitter: '10%' }, '.jitter: "10%" (expected: a fraction of interval from 0 to 1'],
    ['healthyThreshold 0', { healthyThreshold: 0 }, '.healthyThreshold: 0 (expected: a whole number >= 1, such as 2)'],
    ['unhealthyThreshold fractional', { unhealthyThreshold: 2.5 }, '.unhealthyThreshold: 2.5 (expected: a whole number >= 1, such as 3)'],
    ['method POST', { method: 'POST' }, '.method: "POST" (expected: one of "GET", "HEAD")'],
    ['lower-case method', { method: 'get' }, '.method: "get" (expected: one of "GET", "HEAD")'],
    ['host with a space', { host: 'a b' }, '.host: "a b" (expected: a Host header value without spaces'],
    ['empty host', { host: '' }, '.host: "" (expected: a Host header value'],
    ['status below 100', { expectedStatuses: [99] }, '.expectedStatuses[0]: 99 (expected: a status code such as 204, an inclusive range such as "200-399", or a half-open range such as {"start": 200, "end": 400}, with codes from 100 to 599)'],
    ['status 600', { expectedStatuses: [200, 600] }, '.expectedStatuses[1]: 600 (expected: a status code'],
    ['reversed range', { expectedStatuses: ['400-300'] }, '.expectedStatuses[0]: "400-300" (expected: a status code'],
    ['empty half-open range', { expectedStatuses: [{ start: 400, end: 400 }] }, '.expectedStatuses[0]: {"start":400,"end":400} (expected:'],
    ['range past 600', { expectedStatuses: [{ start: 500, end: 601 }] }, '.expectedStatuses[0]: {"start":500,"end":601} (expected:'],
    ['range with an extra key', { expectedStatuses: [{ start: 200, end: 300, inclusive: true }] }, '.expectedStatuses[0]: {"start":200,"end":300,"inclusive":true}'],
    ['status as a word', { expectedStatuses: ['ok'] }, '.expectedStatuses[0]: "ok" (expected: a status code'],
    ['empty status list', { expectedStatuses: [] }, '.expectedStatuses: [] (expected: at least one status code or range, such as [200])'],
    ['status list not a list', { expectedStatuses: 200 }, '.expectedStatuses: 200 (expected: a list of status codes and ranges, such as [200, "300-399"])'],
    ['misspelt field', { intervall: '5s' }, '.intervall: unknown field (expected one of: path, interval, jitter, timeout, healthyThreshold, unhealthyThreshold, expectedStatuses, method, host)'],
    ['Envoy snake_case field', { healthy_threshold: 2 }, '.healthy_threshold: unknown field (expected one of: path, interval,'],
    ['a number', 5, ': 5 (expected: a JSON object of health check settings, such as {"path": "/healthz", "interval": "10s"})'],
    ['null', null, ': null (expected: a JSON object of health check settings'],
    ['an array', [], ': [] (expected: a JSON object of health check settings'],
    ['JSON that does not parse', '{interval: 5s}', ': "{interval: 5s}" (expected: a JSON object such as {"path": "/healthz", "interval": "10s"}; Expected property name'],
    ['an empty annotation', '', ': "" (expected: a JSON object such as'],
    ['JSON of a string', '"10s"', ': "10s" (expected: a JSON object of health check settings'],
  ])('%s is refused with a line naming where, field, value and expectation', (_name, spec, expected) => {
    const lines = problems(spec);
    expect(lines).toHaveLength(1);
    expect(lines[0], `got:\n${lines.join('\n')}`).toContain(`${AT}${expected}`);
  });

  it('reports every problem at once, one line each', () => {
    const lines = problems({ interval: '0s', timeout: 'soon', jitter: 2, method: 'PUT', expectedStatuses: [200, 'x'] });
    expect(lines.map((l) => l.slice(AT.length + 1).split(':')[0])).toEqual(['interval', 'jitter', 'timeout', 'expectedStatuses[1]', 'method']);
  });
});

/** A test endpoint; the checker writes `healthy`. */
class Endpoint {
  healthy = true;
  constructor(
    readonly key: string,
    readonly address = key.split(':')[0]!,
    readonly port = Number(key.split(':')[1] ?? 80),
  ) {}
}

type Verdict = boolean | 'hang' | 'throw' | 'reject' | HealthCheckResult;

/**
 * A checker over a scripted check: `verdicts` holds each key's answer (default pass).
 * Interval 10 s, timeout 1 s, no jitter unless given; `random` 0.
 */
function harness(spec: HealthCheckSpec = {}, options: Partial<HealthCheckerOptions<Endpoint>> = {}) {
  const verdicts = new Map<string, Verdict>();
  const calls: Array<{ key: string; at: number; signal: AbortSignal }> = [];
  const changes: Array<[string, boolean]> = [];
  const checker = new HealthChecker<Endpoint>({
    settings: healthCheckSettings({ interval: '10s', timeout: '1s', jitter: 0, ...spec }, 'test'),
    service: 'reviews',
    onChange: (endpoint, healthy) => changes.push([endpoint.key, healthy]),
    random: () => 0,
    check: async (endpoint, signal) => {
      calls.push({ key: endpoint.key, at: Date.now(), signal });
      const verdict = verdicts.get(endpoint.key) ?? true;
      if (verdict === 'hang') return new Promise<never>(() => {});
      if (verdict === 'reject') throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:80'), { code: 'ECONNREFUSED' });
      return verdict as boolean | HealthCheckResult;
    },
    ...options,
  });
  const times = (key: string) => calls.filter((c) => c.key === key).map((c) => c.at);
  return { checker, verdicts, calls, changes, times };
}

describe('HealthChecker (fake timers, scripted checks)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('new endpoints start healthy and are checked at once (no jitter), then every interval', async () => {
    const { checker, changes, times } = harness();
    const a = new Endpoint('10.0.0.1:80');
    checker.setEndpoints([a]);
    expect(a.healthy).toBe(true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(times(a.key)).toEqual([0, 10_000, 20_000, 30_000]);
    expect(changes).toEqual([]);
    expect(checker.status()).toEqual([
      { key: a.key, healthy: true, checks: 4, consecutivePasses: 4, consecutiveFailures: 0, lastCheckedAt: 30_000, lastResult: 'passed' },
    ]);
    await checker.close();
  });

  it('an endpoint given as unhealthy is set healthy when adopted, and onChange says so', async () => {
    const { checker, changes } = harness();
    const a = new Endpoint('10.0.0.1:80');
    a.healthy = false;
    checker.setEndpoints([a]);
    expect(a.healthy).toBe(true);
    expect(changes).toEqual([[a.key, true]]);
    await checker.close();
  });

  it('marks a healthy endpoint unhealthy after unhealthyThreshold consecutive failures, once', async () => {
    const { checker, verdicts, changes } = harness({ unhealthyThreshold: 3 });
    const a = new Endpoint('10.0.0.1:80');
    checker.setEndpoints([a]);
    await vi.advanceTimersByTimeAsync(0); // first check passes
    verdicts.set(a.key, false);
    await vi.advanceTimersByTimeAsync(20_000); // failures 1 and 2
    expect(a.healthy).toBe(true);
    expect(checker.status()[0]!.consecutiveFailures).toBe(2);
    await vi.advanceTimersByTimeAsync(10_000); // failure 3
    expect(a.healthy).toBe(false);
    expect(changes).toEqual([[a.key, false]]);
    await vi.advanceTimersByTimeAsync(30_000); // still failing: no further change
    expect(changes).toEqual([[a.key, false]]);
    expect(checker.status()[0]!.consecutiveFailures).toBe(6);
    await checker.close();
  });

  it('a pass between failures resets the failure count', async () => {
    const { checker, verdicts } = harness({ unhealthyThreshold: 3 });
    const a = new Endpoint('10.0.0.1:80');
    checker.setEndpoints([a]);
    await vi.advanceTimersByTimeAsync(0);
    for (const verdict of [false, false, true, false, false]) {
      verdicts.set(a.key, verdict);
      await vi.advanceTimersByTimeAsync(10_000);
    }
    expect(a.healthy).toBe(true);
    expect(checker.status()[0]!.consecutiveFailures).toBe(2);
    await checker.close();
  });

  it('marks an unhealthy endpoint healthy again after healthyThreshold consecutive passes; a failure restarts the count', async () => {
    const { checker, verdicts, changes } = harness({ unhealthyThreshold: 1, healthyThreshold: 3 });
    const a = new Endpoint('10.0.0.1:80');
    verdicts.set(a.key, false);
    checker.setEndpoints([a]);
    await vi.advanceTimersByTimeAsync(0);
    expect(a.healthy).toBe(false);
    for (const verdict of [true, true, false, true, true]) {
      verdicts.set(a.key, verdict);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(a.healthy).toBe(false);
    }
    verdicts.set(a.key, true);
    await vi.advanceTimersByTimeAsync(10_000); // third pass in a row
    expect(a.healthy).toBe(true);
    expect(changes).toEqual([
      [a.key, false],
      [a.key, true],
    ]);
    await checker.close();
  });

  it('the first check decides: a new endpoint failing it is unhealthy at once (Envoy marks new hosts failed until a first pass)', async () => {
    const { checker, verdicts, changes } = harness({ unhealthyThreshold: 3, healthyThreshold: 2 });
    const dead = new Endpoint('10.0.0.2:80');
    verdicts.set(dead.key, false);
    checker.setEndpoints([dead]);
    expect(dead.healthy).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(dead.healthy).toBe(false);
    expect(changes).toEqual([[dead.key, false]]);
    // ...and recovering then takes healthyThreshold passes.
    verdicts.set(dead.key, true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(dead.healthy).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(dead.healthy).toBe(true);
    await checker.close();
  });

  it('a check still pending at the timeout is aborted and fails; the next check follows one interval later', async () => {
    const { checker, verdicts, calls, times } = harness({ timeout: '1s' });
    const a = new Endpoint('10.0.0.1:80');
    verdicts.set(a.key, 'hang');
    checker.setEndpoints([a]);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls[0]!.signal.aborted).toBe(false);
    expect(a.healthy).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls[0]!.signal.aborted).toBe(true);
    expect(String((calls[0]!.signal.reason as Error).message)).toContain('health check of 10.0.0.1:80 (reviews) timed out after 1000 ms');
    expect(a.healthy).toBe(false);
    expect(checker.status()[0]!.lastResult).toBe('timed out after 1000 ms');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(times(a.key)).toEqual([0, 11_000]);
    await checker.close();
  });

  it('a check that ignores its signal and answers after the timeout has its late answer dropped', async () => {
    let answer!: (v: boolean) => void;
    const { checker } = harness({}, { check: () => new Promise<boolean>((resolve) => (answer = resolve)) });
    const a = new Endpoint('10.0.0.1:80');
    checker.setEndpoints([a]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(checker.status()[0]).toMatchObject({ checks: 1, consecutiveFailures: 1, healthy: false });
    answer(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(checker.status()[0]).toMatchObject({ checks: 1, consecutivePasses: 0, healthy: false });
    await checker.close();
  });

  it('rejections, synchronous throws and { healthy: false } results are failures, described in status()', async () => {
    const { checker, verdicts } = harness({ unhealthyThreshold: 5 });
    const a = new Endpoint('10.0.0.1:80');
    checker.setEndpoints([a]);
    await vi.advanceTimersByTimeAsync(0);
    verdicts.set(a.key, 'reject');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(checker.status()[0]!.lastResult).toBe('connect ECONNREFUSED 10.0.0.1:80');
    verdicts.set(a.key, { healthy: false, detail: 'status 500 (expected 200-399)' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(checker.status()[0]).toMatchObject({ consecutiveFailures: 2, lastResult: 'status 500 (expected 200-399)' });
    await checker.close();

    const sync = harness(
      {},
      {
        check: () => {
          throw new TypeError('bad check');
        },
      },
    );
    sync.checker.setEndpoints([a]);
    await vi.advanceTimersByTimeAsync(0);
    expect(sync.checker.status()[0]).toMatchObject({ checks: 1, healthy: false, lastResult: 'bad check' });
    await sync.checker.close();
  });

  it('a check answering neither a boolean nor a result (undefined, null, a string) fails at once, naming what it answered; nothing is left unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const answer of [undefined, null, 'ok']) {
        const { checker } = harness({}, { check: async () => answer as unknown as boolean });
        const a = new Endpoint('10.0.0.1:80');
        checker.setEndpoints([a]);
        await vi.advanceTimersByTimeAsync(0);
        expect(checker.status()[0]).toMatchObject({ checks: 1, healthy: false, consecutiveFailures: 1 });
        expect(checker.status()[0]!.lastResult).toContain(`answered ${JSON.stringify(answer) ?? 'undefined'}`);
        await checker.close();
      }
      // An unhandled rejection is reported before the next turn of the (real) event loop: let one pass.
      vi.useRealTimers();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it("a check's detail is kept to 1024 characters (it goes to events, channels and the admin pages)", async () => {
    const { checker } = harness({}, { check: async () => ({ healthy: false, detail: 'x'.repeat(100_000) }) });
    checker.setEndpoints([new Endpoint('10.0.0.1:80')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(checker.status()[0]!.lastResult).toBe('x'.repeat(1024));
    await checker.close();
  });

  it('one endpoint never has two checks in flight: a slow check delays the next', async () => {
    const record: Array<{ key: string; at: number }> = [];
    const { checker } = harness(
      { timeout: '20s' },
      {
        check: async function slow(endpoint) {
          record.push({ key: endpoint.key, at: Date.now() });
          await new Promise((r) => setTimeout(r, 15_000));
          return true;
        },
      },
    );
    checker.setEndpoints([new Endpoint('10.0.0.1:80')]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(record.map((r) => r.at)).toEqual([0, 25_000, 50_000]);
    await checker.close();
  });

  it('each endpoint runs on its own jittered timer: first check in [0, interval × jitter), then gaps in [interval, interval × (1 + jitter))', async () => {
    const { checker, times } = harness({ interval: '10s', jitter: 0.5 }, { random: Math.random });
    const endpoints = Array.from({ length: 40 }, (_, i) => new Endpoint(`10.0.1.${i}:80`));
    checker.setEndpoints(endpoints);
    await vi.advanceTimersByTimeAsync(100_000);
    const firsts = new Set<number>();
    for (const endpoint of endpoints) {
      const at = times(endpoint.key);
      expect(at[0]).toBeGreaterThanOrEqual(0);
      expect(at[0]).toBeLessThan(5000);
      firsts.add(at[0]!);
      for (let i = 1; i < at.length; i++) {
        const gap = at[i]! - at[i - 1]!;
        expect(gap).toBeGreaterThanOrEqual(10_000 - 1); // fake timers round to whole ms
        expect(gap).toBeLessThan(15_000 + 1);
      }
    }
    expect(firsts.size).toBeGreaterThan(20); // spread out, not one burst
    await checker.close();
  });

  it('random 0 gives exactly the interval; random just below 1 stays below interval × (1 + jitter)', async () => {
    for (const [random, first, gap] of [
      [0, 0, 10_000],
      [0.999_999, 2000, 12_000],
    ] as const) {
      const start = Date.now();
      const { checker, times } = harness({ interval: '10s', jitter: 0.2 }, { random: () => random });
      checker.setEndpoints([new Endpoint('10.0.0.1:80')]);
      await vi.advanceTimersByTimeAsync(20_000);
      const [a, b] = times('10.0.0.1:80');
      // Fake timers fire at whole milliseconds: 1999.998 ms runs at 1999.
      expect(a! - start).toBeGreaterThanOrEqual(Math.max(0, first - 1));
      expect(a! - start).toBeLessThanOrEqual(first);
      expect(b! - a!).toBeGreaterThanOrEqual(gap - 1);
      expect(b! - a!).toBeLessThanOrEqual(gap);
      await checker.close();
    }
  });

  it('removing an endpoint clears its timer, aborts its check and drops the late result; adding it back starts afresh', async () => {
    let answer!: (v: boolean) => void;
    const signals: AbortSignal[] = [];
    const changes: Array<[string, boolean]> = [];
    const checker = new HealthChecker<Endpoint>({
      settings: healthCheckSettings({ interval: '10s', jitter: 0, timeout: '5s', unhealthyThreshold: 1 }, 'test'),
      service: 'reviews',
      onChange: (e, h) => changes.push([e.key, h]),
      check: (_e, signal) => {
        signals.push(signal);
        return new Promise<boolean>((resolve) => (answer = resolve));
      },
    });
    const a = new Endpoint('10.0.0.1:80');
    const b = new Endpoint('10.0.0.2:80');
    checker.setEndpoints([a, b]);
    await vi.advanceTimersByTimeAsync(0);
    expect(signals).toHaveLength(2);
    checker.setEndpoints([b]);
    expect(signals[0]!.aborted).toBe(true);
    expect(String((signals[0]!.reason as Error).message)).toContain('endpoint removed or checker closed');
    answer(false); // b's check: b fails
    await vi.advanceTimersByTimeAsync(0);
    expect(checker.status().map((s) => s.key)).toEqual([b.key]);
    expect(changes).toEqual([[b.key, false]]);
    expect(a.healthy).toBe(true);
    const before = signals.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(signals.length).toBe(before + 1); // only b is checked
    a.healthy = false;
    checker.setEndpoints([a, b]);
    expect(a.healthy).toBe(true);
    expect(checker.status().find((s) => s.key === a.key)).toMatchObject({ checks: 0, healthy: true });
    await checker.close();
  });

  it('a new object with a known key takes over the state; later changes are written to it', async () => {
    const { checker, verdicts, changes } = harness({ unhealthyThreshold: 1 });
    const old = new Endpoint('10.0.0.1:80');
    verdicts.set(old.key, false);
    checker.setEndpoints([old]);
    await vi.advanceTimersByTimeAsync(0);
    expect(old.healthy).toBe(false);
    const replacement = new Endpoint('10.0.0.1:80');
    checker.setEndpoints([replacement]);
    expect(replacement.healthy).toBe(false);
    expect(changes).toEqual([
      [old.key, false],
      [old.key, false],
    ]);
    verdicts.set(old.key, true);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(replacement.healthy).toBe(true);
    expect(old.healthy).toBe(false);
    await checker.close();
  });

  it('close() stops every timer, aborts checks in flight, is idempotent, and later setEndpoints does nothing', async () => {
    const { checker, verdicts, calls } = harness();
    verdicts.set('10.0.0.2:80', 'hang');
    checker.setEndpoints([new Endpoint('10.0.0.1:80'), new Endpoint('10.0.0.2:80')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(2); // a's next check, b's timeout
    const closing = checker.close();
    expect(checker.close()).toBe(closing);
    await closing;
    expect(checker.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(calls.find((c) => c.key === '10.0.0.2:80')!.signal.aborted).toBe(true);
    expect(checker.status()).toEqual([]);
    checker.setEndpoints([new Endpoint('10.0.0.3:80')]);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(2);
  });

  it('an onChange that closes the checker leaves no timer behind', async () => {
    const verdicts = new Map<string, boolean>([['10.0.0.1:80', false]]);
    const checker: HealthChecker<Endpoint> = new HealthChecker<Endpoint>({
      settings: healthCheckSettings({ jitter: 0 }, 'test'),
      service: 'reviews',
      onChange: () => void checker.close(),
      check: async (e) => verdicts.get(e.key) ?? true,
    });
    checker.setEndpoints([new Endpoint('10.0.0.1:80')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(checker.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an onChange that throws is reported as a warning and checks go on', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { checker, verdicts, calls } = harness(
      { unhealthyThreshold: 1 },
      {
        onChange: () => {
          throw new Error('boom');
        },
      },
    );
    const a = new Endpoint('10.0.0.1:80');
    verdicts.set(a.key, false);
    checker.setEndpoints([a]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(a.healthy).toBe(false);
    expect(calls).toHaveLength(2);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('health checker for "reviews": onChange threw for 10.0.0.1:80 (healthy: false); checks go on: boom'), {
      code: 'PROXYLESS_W_HEALTH_CHECK_CALLBACK',
    });
    await checker.close();
  });

  it('uses the injected clock for lastCheckedAt', async () => {
    const { checker } = harness({}, { now: () => 42 });
    checker.setEndpoints([new Endpoint('10.0.0.1:80')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(checker.status()[0]!.lastCheckedAt).toBe(42);
    await checker.close();
  });
});

/** Timers run by hand: each handle records its delay and whether it was unref'd. */
class ManualTimers implements HealthCheckTimers {
  readonly pending = new Map<number, { callback: () => void; ms: number; unref: ReturnType<typeof vi.fn> }>();
  readonly all: Array<{ id: number; ms: number; unref: ReturnType<typeof vi.fn> }> = [];
  #id = 0;
  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#id;
    const unref = vi.fn();
    this.pending.set(id, { callback, ms, unref });
    this.all.push({ id, ms, unref });
    return { id, unref };
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete((handle as { id: number }).id);
  }
  /** Runs the pending timer with the smallest id. */
  runNext(): number {
    const [id, timer] = this.pending.entries().next().value!;
    this.pending.delete(id);
    timer.callback();
    return timer.ms;
  }
}

describe('HealthChecker (manual timers)', () => {
  it('unrefs every timer it sets', async () => {
    const timers = new ManualTimers();
    let answer!: () => void;
    const checker = new HealthChecker<Endpoint>({
      settings: DEFAULT_HEALTH_CHECK_SETTINGS,
      service: 'reviews',
      timers,
      check: () => new Promise<boolean>((resolve) => (answer = () => resolve(true))),
    });
    checker.setEndpoints([new Endpoint('10.0.0.1:80')]);
    timers.runNext(); // first check starts: its timeout timer is set
    answer();
    await new Promise((r) => setImmediate(r)); // next check scheduled
    expect(timers.all.length).toBe(3);
    for (const timer of timers.all) expect(timer.unref).toHaveBeenCalledOnce();
    await checker.close();
    expect(timers.pending.size).toBe(0);
  });

  it('property: for any interval, jitter and random draw, delays stay within Envoy-style bounds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (intervalMs, jitter, draw) => {
          const timers = new ManualTimers();
          const checker = new HealthChecker<Endpoint>({
            settings: { ...DEFAULT_HEALTH_CHECK_SETTINGS, intervalMs, jitter },
            service: 'reviews',
            timers,
            random: () => draw,
            check: async () => true,
          });
          checker.setEndpoints([new Endpoint('10.0.0.1:80')]);
          const first = timers.runNext();
          expect(first).toBeGreaterThanOrEqual(0);
          expect(first).toBeLessThanOrEqual(intervalMs * jitter);
          await new Promise((r) => setImmediate(r)); // the check answers; the next one is scheduled
          expect(timers.pending.size).toBe(1);
          const next = [...timers.pending.values()][0]!;
          expect(next.ms).toBeGreaterThanOrEqual(intervalMs);
          expect(next.ms).toBeLessThanOrEqual(intervalMs * (1 + jitter));
          await checker.close();
          expect(timers.pending.size).toBe(0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('refuses options that are not as documented', () => {
    expect(() => new HealthChecker<Endpoint>({ settings: DEFAULT_HEALTH_CHECK_SETTINGS, service: '' })).toThrow(InvalidOptionError);
    try {
      new HealthChecker<Endpoint>({ settings: { ...DEFAULT_HEALTH_CHECK_SETTINGS, intervalMs: 0 }, service: 'reviews', onChange: 'x' as never });
      expect.unreachable();
    } catch (error) {
      expect((error as InvalidOptionError).code).toBe('PROXYLESS_ERR_INVALID_OPTION');
      expect((error as InvalidOptionError).problems).toEqual([
        'settings.intervalMs: 0 (expected: >= 1)',
        'onChange: "x" (expected: a function)',
      ]);
    }
  });
});
