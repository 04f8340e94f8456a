import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/core/errors/index.js';
import { DEFAULT_OUTLIER_SETTINGS, OutlierDetector, outlierResultOfStatus, type OutlierResult, type OutlierSettings } from '../../../src/policy/outlier/index.js';
import { outlierSettings } from '../../../src/config/settings/index.js';

class Host {
  ejected = false;
  constructor(readonly name: string) {}
}

/** A detector with `count` hosts added; `maxEjectionPercent` 100 unless given. */
function setup(count: number, settings: Partial<OutlierSettings> = {}): { detector: OutlierDetector<Host>; hosts: Host[] } {
  const detector = new OutlierDetector<Host>({ maxEjectionPercent: 100, ...settings });
  const hosts = Array.from({ length: count }, (_, i) => new Host(`h${i}`));
  for (const host of hosts) detector.add(host);
  return { detector, hosts };
}

/** Records `result` `times` times at `now`; returns the results of `record`. */
function repeat(detector: OutlierDetector<Host>, host: Host, result: OutlierResult, times: number, now = 0): boolean[] {
  return Array.from({ length: times }, () => detector.record(host, result, now));
}

describe('outlierSettings (Istio OutlierDetection → numbers)', () => {
  it('no outlierDetection means no detection', () => {
    expect(outlierSettings(undefined)).toBeUndefined();
  });

  it('an empty outlierDetection takes Istio and Envoy defaults', () => {
    expect(outlierSettings({})).toEqual({
      consecutive5xxErrors: 5,
      consecutiveGatewayErrors: 0,
      splitExternalLocalOriginErrors: false,
      consecutiveLocalOriginFailures: 5,
      intervalMs: 10_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionPercent: 10,
      alwaysEjectOneHost: false,
      minHealthPercent: 0,
    });
    expect(outlierSettings({})).toEqual(DEFAULT_OUTLIER_SETTINGS);
  });

  it('converts every field, durations to ms', () => {
    expect(
      outlierSettings({
        consecutive5xxErrors: 7,
        consecutiveGatewayErrors: 3,
        consecutiveLocalOriginFailures: 2,
        splitExternalLocalOriginErrors: true,
        interval: '1.5s',
        baseEjectionTime: '2m',
        maxEjectionPercent: 50,
        minHealthPercent: 30,
      }),
    ).toEqual({
      consecutive5xxErrors: 7,
      consecutiveGatewayErrors: 3,
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailures: 2,
      intervalMs: 1500,
      baseEjectionTimeMs: 120_000,
      maxEjectionTimeMs: 300_000,
      maxEjectionPercent: 50,
      alwaysEjectOneHost: false,
      minHealthPercent: 30,
    });
  });

  it('0 turns the 5xx and gateway detections off, but means the default for maxEjectionPercent and local-origin failures (as Istio)', () => {
    const settings = outlierSettings({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 0, maxEjectionPercent: 0, consecutiveLocalOriginFailures: 0 })!;
    expect(settings.consecutive5xxErrors).toBe(0);
    expect(settings.consecutiveGatewayErrors).toBe(0);
    expect(settings.maxEjectionPercent).toBe(10);
    expect(settings.consecutiveLocalOriginFailures).toBe(5);
  });

  it('a base ejection time above 300 s is also the longest ejection (Envoy)', () => {
    expect(outlierSettings({ baseEjectionTime: '10m' })).toMatchObject({ baseEjectionTimeMs: 600_000, maxEjectionTimeMs: 600_000 });
  });

  it('refuses an interval or base ejection time below 1 ms, naming the field', () => {
    expect(() => outlierSettings({ interval: '0s' })).toThrow(InvalidOptionError);
    expect(() => outlierSettings({ interval: '0s', baseEjectionTime: '500us' })).toThrow(
      /interval: "0s" \(expected: a duration of at least 1ms\)[\s\S]*baseEjectionTime: "500us"/,
    );
  });
});

describe('OutlierDetector options', () => {
  it('validates once, naming each field', () => {
    expect(() => new OutlierDetector({ maxEjectionPercent: 140 })).toThrow(/maxEjectionPercent: 140 \(expected: 0\.\.100\)/);
    expect(() => new OutlierDetector({ consecutive5xxErrors: -1, intervalMs: 0 })).toThrow(
      /consecutive5xxErrors: -1 \(expected: an integer >= 0; 0 turns it off\)[\s\S]*intervalMs: 0 \(expected: milliseconds > 0\)/,
    );
    expect(() => new OutlierDetector({ baseEjectionTimeMs: 60_000, maxEjectionTimeMs: 30_000 })).toThrow(/maxEjectionTimeMs: 30000 \(expected: >= baseEjectionTimeMs, 60000\)/);
    expect(() => new OutlierDetector({ colour: 'red' } as unknown as Partial<OutlierSettings>)).toThrow(/colour: unknown field/);
  });

  it('unset fields take the defaults; settings are frozen', () => {
    const detector = new OutlierDetector({ consecutive5xxErrors: 2 });
    expect(detector.settings).toEqual({ ...DEFAULT_OUTLIER_SETTINGS, consecutive5xxErrors: 2 });
    expect(Object.isFrozen(detector.settings)).toBe(true);
  });
});

describe('outlierResultOfStatus', () => {
  it('502, 503, 504 are gateway errors; other 5xx are 5xx; the rest succeed', () => {
    expect([200, 204, 301, 404, 429, 499, 500, 501, 502, 503, 504, 505, 599, 600].map(outlierResultOfStatus)).toEqual([
      'success',
      'success',
      'success',
      'success',
      'success',
      'success',
      'http-5xx',
      'http-5xx',
      'gateway-error',
      'gateway-error',
      'gateway-error',
      'http-5xx',
      'http-5xx',
      'success',
    ]);
  });
});

describe('consecutive 5xx', () => {
  it('ejects at exactly the threshold, at once', () => {
    const { detector, hosts } = setup(4);
    const [h] = hosts as [Host];
    expect(repeat(detector, h, 'http-5xx', 4)).toEqual([false, false, false, false]);
    expect(h.ejected).toBe(false);
    expect(detector.record(h, 'http-5xx', 0)).toBe(true);
    expect(h.ejected).toBe(true);
    expect(detector.ejectedCount).toBe(1);
    expect(detector.inspect(h)).toMatchObject({ ejected: true, timesEjected: 1, multiplier: 1, ejectedAt: 0, consecutive5xx: 0 });
  });

  it('a success resets the count', () => {
    const { detector, hosts } = setup(4);
    const [h] = hosts as [Host];
    repeat(detector, h, 'http-5xx', 4);
    detector.record(h, 'success', 0);
    expect(detector.inspect(h)!.consecutive5xx).toBe(0);
    expect(repeat(detector, h, 'http-5xx', 4)).toEqual([false, false, false, false]);
    expect(detector.record(h, 'http-5xx', 0)).toBe(true);
  });

  it('counts per host', () => {
    const { detector, hosts } = setup(4);
    const [a, b] = hosts as [Host, Host];
    for (let i = 0; i < 4; i++) {
      detector.record(a, 'http-5xx', 0);
      detector.record(b, 'http-5xx', 0);
    }
    expect(detector.ejectedCount).toBe(0);
    detector.record(a, 'http-5xx', 0);
    expect([a.ejected, b.ejected]).toEqual([true, false]);
  });

  it('0 turns it off', () => {
    const { detector, hosts } = setup(2, { consecutive5xxErrors: 0 });
    expect(repeat(detector, hosts[0]!, 'http-5xx', 50).some(Boolean)).toBe(false);
    expect(repeat(detector, hosts[0]!, 'gateway-error', 50).some(Boolean)).toBe(false);
  });

  it('ignores results for hosts it does not track', () => {
    const { detector } = setup(2);
    const stranger = new Host('x');
    expect(repeat(detector, stranger, 'http-5xx', 10).some(Boolean)).toBe(false);
    expect(stranger.ejected).toBe(false);
    expect(detector.inspect(stranger)).toBeUndefined();
  });
});

describe('consecutive gateway errors vs 5xx', () => {
  it('gateway errors are off by default, but count as 5xx', () => {
    const { detector, hosts } = setup(2);
    const [h] = hosts as [Host];
    expect(repeat(detector, h, 'gateway-error', 5)).toEqual([false, false, false, false, true]);
  });

  it('ejects on the gateway threshold before the 5xx one', () => {
    const { detector, hosts } = setup(2, { consecutiveGatewayErrors: 3 });
    const [h] = hosts as [Host];
    expect(repeat(detector, h, 'gateway-error', 3)).toEqual([false, false, true]);
    // The 5xx count went on (3); only the gateway count restarted.
    expect(detector.inspect(h)).toMatchObject({ consecutiveGatewayErrors: 0, consecutive5xx: 3 });
  });

  it('another 5xx breaks a run of gateway errors but not the 5xx run', () => {
    const { detector, hosts } = setup(2, { consecutiveGatewayErrors: 3 });
    const [h] = hosts as [Host];
    const results: OutlierResult[] = ['gateway-error', 'gateway-error', 'http-5xx', 'gateway-error', 'gateway-error'];
    expect(results.map((r) => detector.record(h, r, 0))).toEqual([false, false, false, false, true]);
    // Ejected by the 5xx count (5 in a row), with only 2 gateway errors since the 500.
    expect(detector.inspect(h)).toMatchObject({ consecutive5xx: 0, consecutiveGatewayErrors: 2 });
  });

  it('with 5xx off, 500s never eject but gateway errors do', () => {
    const { detector, hosts } = setup(2, { consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 });
    const [a, b] = hosts as [Host, Host];
    expect(repeat(detector, a, 'http-5xx', 20).some(Boolean)).toBe(false);
    expect(repeat(detector, b, 'gateway-error', 2)).toEqual([false, true]);
  });

  it('a refused ejection restarts the count that reached its threshold', () => {
    const { detector, hosts } = setup(2, { maxEjectionPercent: 50 });
    const [a, b] = hosts as [Host, Host];
    repeat(detector, a, 'http-5xx', 5);
    expect(a.ejected).toBe(true);
    expect(repeat(detector, b, 'http-5xx', 5)).toEqual([false, false, false, false, false]);
    expect(detector.inspect(b)!.consecutive5xx).toBe(0);
  });
});

describe('local-origin failures', () => {
  it('count as gateway errors and 5xx when not split', () => {
    const { detector, hosts } = setup(2, { consecutiveGatewayErrors: 3 });
    const [a, b] = hosts as [Host, Host];
    expect(repeat(detector, a, 'local-origin-failure', 3)).toEqual([false, false, true]);
    const mixed: OutlierResult[] = ['local-origin-failure', 'http-5xx', 'local-origin-failure', 'http-5xx', 'local-origin-failure'];
    expect(mixed.map((r) => detector.record(b, r, 0))).toEqual([false, false, false, false, true]);
  });

  it('have their own count when split, which 5xx neither raise nor see', () => {
    const { detector, hosts } = setup(3, { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 3 });
    const [a, b, c] = hosts as [Host, Host, Host];
    expect(repeat(detector, a, 'local-origin-failure', 3)).toEqual([false, false, true]);
    expect(detector.inspect(a)).toMatchObject({ consecutive5xx: 0, consecutiveGatewayErrors: 0 });
    // 5xx in between local failures: each count runs on its own...
    const mixed: OutlierResult[] = ['http-5xx', 'local-origin-failure', 'http-5xx', 'local-origin-failure', 'http-5xx', 'http-5xx'];
    expect(mixed.map((r) => detector.record(b, r, 0))).toEqual([false, false, false, false, false, false]);
    // ...but any response means the connection worked: the local count restarted.
    expect(detector.inspect(b)).toMatchObject({ consecutive5xx: 4, consecutiveLocalOriginFailures: 0 });
    expect(detector.record(b, 'http-5xx', 0)).toBe(true);
    // A success resets the local count too.
    repeat(detector, c, 'local-origin-failure', 2);
    detector.record(c, 'success', 0);
    expect(repeat(detector, c, 'local-origin-failure', 2)).toEqual([false, false]);
  });

  it('split with the local-origin threshold at 0: local failures never eject', () => {
    const { detector, hosts } = setup(2, { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 0 });
    expect(repeat(detector, hosts[0]!, 'local-origin-failure', 30).some(Boolean)).toBe(false);
  });
});

describe('ejection time', () => {
  const base = 30_000;

  it('returns the host at the first sweep once base × multiplier has passed, with fresh counts', () => {
    const { detector, hosts } = setup(2, { consecutive5xxErrors: 2 });
    const [h] = hosts as [Host];
    repeat(detector, h, 'http-5xx', 2, 1_000);
    expect(detector.sweep(30_999)).toEqual([]);
    expect(h.ejected).toBe(true);
    expect(detector.sweep(31_000)).toEqual([h]);
    expect(h.ejected).toBe(false);
    expect(detector.ejectedCount).toBe(0);
    expect(detector.inspect(h)).toMatchObject({ consecutive5xx: 0, multiplier: 1, timesEjected: 1 });
  });

  it('failures while ejected do not re-eject or extend the ejection; the counts restart on return', () => {
    const { detector, hosts } = setup(2, { consecutive5xxErrors: 2 });
    const [h] = hosts as [Host];
    repeat(detector, h, 'http-5xx', 2, 0);
    expect(repeat(detector, h, 'http-5xx', 5, 10_000).some(Boolean)).toBe(false);
    expect(detector.inspect(h)).toMatchObject({ timesEjected: 1, ejectedAt: 0 });
    expect(detector.sweep(base)).toEqual([h]);
    expect(detector.record(h, 'http-5xx', base)).toBe(false);
    expect(detector.record(h, 'http-5xx', base)).toBe(true);
  });

  it('multiplies by the times ejected in a row, capped at 300 s', () => {
    const { detector, hosts } = setup(2, { consecutive5xxErrors: 1 });
    const [h] = hosts as [Host];
    let now = 0;
    const durations: number[] = [];
    for (let i = 0; i < 13; i++) {
      expect(detector.record(h, 'http-5xx', now)).toBe(true);
      const ejectedAt = now;
      // Sweep every second until it returns (no decay: it is never in service for an interval).
      do now += 1_000;
      while (detector.sweep(now).length === 0);
      durations.push((now - ejectedAt) / 1000);
    }
    expect(durations).toEqual([30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300, 300]);
    // Envoy stops the multiplier once base × multiplier reaches max + base: 11.
    expect(detector.inspect(h)!.multiplier).toBe(11);
  });

  it('the cap is the base ejection time when that is longer than 300 s', () => {
    const settings = outlierSettings({ consecutive5xxErrors: 1, maxEjectionPercent: 100, baseEjectionTime: '400s' })!;
    const detector = new OutlierDetector<Host>(settings);
    const h = new Host('a');
    detector.add(h);
    detector.add(new Host('b'));
    detector.record(h, 'http-5xx', 0);
    expect(detector.sweep(400_000)).toEqual([h]);
    detector.record(h, 'http-5xx', 400_000);
    expect(detector.sweep(799_999)).toEqual([]);
    expect(detector.sweep(800_000)).toEqual([h]);
  });

  it('a host that stays healthy loses one from its multiplier per interval in service', () => {
    const { detector, hosts } = setup(2, { consecutive5xxErrors: 1, intervalMs: 10_000 });
    const [h] = hosts as [Host];
    // Three ejections in a row: 30 s, 60 s, 90 s.
    let now = 0;
    for (let i = 1; i <= 3; i++) {
      detector.record(h, 'http-5xx', now);
      now += i * base;
      expect(detector.sweep(now)).toEqual([h]);
    }
    expect(detector.inspect(h)!.multiplier).toBe(3);
    const restoredAt = now;
    // Not yet a full interval in service: no decay.
    expect(detector.sweep(restoredAt + 9_999)).toEqual([]);
    expect(detector.inspect(h)!.multiplier).toBe(3);
    // One decrement per sweep once an interval has passed, down to 0.
    expect([1, 2, 3, 4].map((k) => (detector.sweep(restoredAt + k * 10_000), detector.inspect(h)!.multiplier))).toEqual([2, 1, 0, 0]);
    // Ejected again: the base time once more.
    now = restoredAt + 40_000;
    detector.record(h, 'http-5xx', now);
    expect(detector.sweep(now + base - 1)).toEqual([]);
    expect(detector.sweep(now + base)).toEqual([h]);
  });

  it('partial decay shortens the next ejection accordingly', () => {
    const { detector, hosts } = setup(2, { consecutive5xxErrors: 1, intervalMs: 10_000 });
    const [h] = hosts as [Host];
    detector.record(h, 'http-5xx', 0);
    detector.sweep(30_000);
    detector.record(h, 'http-5xx', 30_000);
    detector.sweep(90_000); // multiplier 2, back at 90 s
    detector.sweep(100_000); // one interval in service: 1
    detector.record(h, 'http-5xx', 100_000); // 2 again: 60 s
    expect(detector.inspect(h)!.multiplier).toBe(2);
    expect(detector.sweep(159_999)).toEqual([]);
    expect(detector.sweep(160_000)).toEqual([h]);
  });
});

describe('max ejection percent (Envoy ≥ 1.31)', () => {
  it('10 % of 10 hosts: one ejection, not two', () => {
    const { detector, hosts } = setup(10, { maxEjectionPercent: 10 });
    expect(repeat(detector, hosts[0]!, 'http-5xx', 5).at(-1)).toBe(true);
    expect(repeat(detector, hosts[1]!, 'http-5xx', 5).some(Boolean)).toBe(false);
    expect(detector.ejectedCount).toBe(1);
  });

  it('the default 10 % ejects nothing below 10 hosts (no implicit "at least one" any more)', () => {
    const { detector, hosts } = setup(9, { maxEjectionPercent: 10 });
    for (const host of hosts) repeat(detector, host, 'http-5xx', 5);
    expect(detector.ejectedCount).toBe(0);
  });

  it('alwaysEjectOneHost allows one ejection whatever the percentage, and only one', () => {
    const { detector, hosts } = setup(3, { maxEjectionPercent: 10, alwaysEjectOneHost: true });
    expect(repeat(detector, hosts[0]!, 'http-5xx', 5).at(-1)).toBe(true);
    expect(repeat(detector, hosts[1]!, 'http-5xx', 5).some(Boolean)).toBe(false);
    // Once the first is back, another one may go.
    detector.sweep(30_000);
    expect(repeat(detector, hosts[1]!, 'http-5xx', 5, 30_000).at(-1)).toBe(true);
  });

  it('alwaysEjectOneHost with 0 %: exactly one host at a time', () => {
    const { detector, hosts } = setup(4, { maxEjectionPercent: 0, alwaysEjectOneHost: true });
    for (const host of hosts) repeat(detector, host, 'http-5xx', 5);
    expect(detector.ejectedCount).toBe(1);
  });

  it('50 % of 4 hosts: two; 100 %: all of them', () => {
    const half = setup(4, { maxEjectionPercent: 50 });
    for (const host of half.hosts) repeat(half.detector, host, 'http-5xx', 5);
    expect(half.hosts.map((h) => h.ejected)).toEqual([true, true, false, false]);
    const all = setup(4, { maxEjectionPercent: 100 });
    for (const host of all.hosts) repeat(all.detector, host, 'http-5xx', 5);
    expect(all.detector.ejectedCount).toBe(4);
  });

  it('the percentage counts the ejection being decided: 33 % of 3 hosts allows none', () => {
    const { detector, hosts } = setup(3, { maxEjectionPercent: 33 });
    repeat(detector, hosts[0]!, 'http-5xx', 5);
    expect(detector.ejectedCount).toBe(0);
    const { detector: d34, hosts: h34 } = setup(3, { maxEjectionPercent: 34 });
    repeat(d34, h34[0]!, 'http-5xx', 5);
    expect(d34.ejectedCount).toBe(1);
  });
});

describe('panic threshold (minHealthPercent)', () => {
  it('is never reached with the default 0', () => {
    const { detector, hosts } = setup(2);
    for (const host of hosts) repeat(detector, host, 'http-5xx', 5);
    expect(detector.ejectedCount).toBe(2);
    expect(detector.panic).toBe(false);
  });

  it('is true while the healthy share is below the threshold, false again as hosts return or join', () => {
    const { detector, hosts } = setup(4, { minHealthPercent: 50 });
    const [a, b, c] = hosts as [Host, Host, Host];
    repeat(detector, a, 'http-5xx', 5, 0);
    repeat(detector, b, 'http-5xx', 5, 0);
    expect(detector.panic).toBe(false); // 50 % healthy is not below 50 %
    repeat(detector, c, 'http-5xx', 5, 1_000);
    expect(detector.panic).toBe(true); // 25 %
    detector.add(new Host('d2'));
    detector.add(new Host('d3'));
    expect(detector.panic).toBe(false); // 3 of 6
    detector.remove(c);
    expect(detector.panic).toBe(false);
    expect(detector.sweep(30_000)).toEqual([a, b]);
    expect(detector.panic).toBe(false);
  });

  it('is false with no hosts', () => {
    expect(new OutlierDetector({ minHealthPercent: 100 }).panic).toBe(false);
  });
});

describe('add and remove', () => {
  it('removing an ejected host frees its ejection slot and clears its flag', () => {
    const { detector, hosts } = setup(10, { maxEjectionPercent: 10 });
    const [a, b] = hosts as [Host, Host];
    repeat(detector, a, 'http-5xx', 5);
    expect(detector.remove(a)).toBe(true);
    expect(a.ejected).toBe(false);
    expect(detector.ejectedCount).toBe(0);
    expect(detector.size).toBe(9);
    expect(detector.sweep(1_000_000)).toEqual([]);
    expect(detector.record(a, 'http-5xx', 0)).toBe(false);
    // 9 hosts at 10 %: no ejection possible now.
    repeat(detector, b, 'http-5xx', 5);
    expect(b.ejected).toBe(false);
    detector.add(new Host('new'));
    repeat(detector, b, 'http-5xx', 5);
    expect(b.ejected).toBe(true);
  });

  it('removing a healthy or unknown host changes nothing that needs a refresh', () => {
    const { detector, hosts } = setup(2);
    expect(detector.remove(hosts[0]!)).toBe(false);
    expect(detector.remove(new Host('x'))).toBe(false);
    expect(detector.size).toBe(1);
  });

  it('adding twice is a no-op; a re-added host starts fresh', () => {
    const { detector, hosts } = setup(2, { consecutive5xxErrors: 1 });
    const [h] = hosts as [Host];
    expect(detector.add(h)).toBe(false);
    detector.record(h, 'http-5xx', 0);
    detector.remove(h);
    expect(detector.add(h)).toBe(true);
    expect(detector.inspect(h)).toMatchObject({ ejected: false, timesEjected: 0, multiplier: 0 });
  });
});

describe('properties', () => {
  const results: OutlierResult[] = ['success', 'http-5xx', 'gateway-error', 'local-origin-failure'];
  const op = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('record' as const), host: fc.nat(15), result: fc.constantFrom(...results), times: fc.integer({ min: 1, max: 6 }) }), weight: 8 },
    { arbitrary: fc.record({ kind: fc.constant('sweep' as const), advance: fc.integer({ min: 0, max: 120_000 }) }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('add' as const) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('remove' as const), host: fc.nat(15) }), weight: 1 },
  );
  const settingsArb = fc.record({
    consecutive5xxErrors: fc.integer({ min: 0, max: 4 }),
    consecutiveGatewayErrors: fc.integer({ min: 0, max: 4 }),
    splitExternalLocalOriginErrors: fc.boolean(),
    consecutiveLocalOriginFailures: fc.integer({ min: 0, max: 4 }),
    maxEjectionPercent: fc.integer({ min: 0, max: 100 }),
    alwaysEjectOneHost: fc.boolean(),
    minHealthPercent: fc.integer({ min: 0, max: 100 }),
    baseEjectionTimeMs: fc.integer({ min: 1, max: 60_000 }),
  });

  /** Ejections allowed among `hosts` hosts: the largest k with 100·k ≤ p·hosts, or 1 with alwaysEjectOneHost. */
  const allowed = (s: { maxEjectionPercent: number; alwaysEjectOneHost: boolean }, hosts: number) =>
    Math.max(Math.floor((s.maxEjectionPercent * hosts) / 100), s.alwaysEjectOneHost && hosts > 0 ? 1 : 0);

  it('never ejects more hosts than the max-ejection rule allows, and keeps its flags and counts consistent', () => {
    fc.assert(
      fc.property(settingsArb, fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 120 }), (settings, initial, ops) => {
        const detector = new OutlierDetector<Host>(settings);
        const tracked: Host[] = [];
        let made = 0;
        const addHost = () => {
          const host = new Host(`h${made++}`);
          detector.add(host);
          tracked.push(host);
        };
        for (let i = 0; i < initial; i++) addHost();
        let now = 0;
        let removedEjected = false;
        for (const o of ops) {
          if (o.kind === 'record') {
            const host = tracked[o.host % Math.max(tracked.length, 1)];
            if (host === undefined) continue;
            for (let i = 0; i < o.times; i++) {
              const before = detector.ejectedCount;
              const ejected = detector.record(host, o.result, now);
              if (ejected) {
                // The rule holds at every ejection, counting it.
                expect(detector.ejectedCount).toBe(before + 1);
                expect(detector.ejectedCount).toBeLessThanOrEqual(allowed(settings, tracked.length));
                expect(host.ejected).toBe(true);
              } else {
                expect(detector.ejectedCount).toBe(before);
              }
            }
          } else if (o.kind === 'sweep') {
            now += o.advance;
            for (const host of detector.sweep(now)) expect(host.ejected).toBe(false);
          } else if (o.kind === 'add') {
            addHost();
          } else if (tracked.length > 0) {
            const [host] = tracked.splice(o.host % tracked.length, 1) as [Host];
            if (detector.remove(host)) removedEjected = true;
            expect(host.ejected).toBe(false);
          }
          // Flags and counters agree.
          expect(detector.ejectedCount).toBe(tracked.filter((h) => h.ejected).length);
          expect(detector.size).toBe(tracked.length);
          // Without removals (which can only raise the share), the rule holds at all times.
          if (!removedEjected && ops.every((x) => x.kind !== 'remove')) {
            expect(detector.ejectedCount).toBeLessThanOrEqual(allowed(settings, tracked.length));
          }
          const healthy = tracked.length - detector.ejectedCount;
          expect(detector.panic).toBe(tracked.length > 0 && settings.minHealthPercent > 0 && (100 * healthy) / tracked.length < settings.minHealthPercent);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('returns every ejected host by the cap at the latest, and never before the base ejection time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400_000 }), fc.array(fc.integer({ min: 1, max: 50_000 }), { minLength: 1, maxLength: 40 }), (baseEjectionTimeMs, gaps) => {
        const detector = new OutlierDetector<Host>({ consecutive5xxErrors: 1, maxEjectionPercent: 100, baseEjectionTimeMs, maxEjectionTimeMs: Math.max(300_000, baseEjectionTimeMs) });
        const h = new Host('a');
        detector.add(h);
        let now = 0;
        let ejectedAt = Number.NaN;
        for (const gap of gaps) {
          if (!h.ejected && detector.record(h, 'http-5xx', now)) ejectedAt = now;
          now += gap;
          const restored = detector.sweep(now).length > 0;
          if (restored) expect(now - ejectedAt).toBeGreaterThanOrEqual(baseEjectionTimeMs);
          if (h.ejected) expect(now - ejectedAt).toBeLessThan(Math.max(300_000, baseEjectionTimeMs));
        }
      }),
    );
  });
});
