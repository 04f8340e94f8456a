// The circuit-breaker example (examples/circuit-breaker): 500s open the circuit, a call
// while open is refused without reaching the replica, and after the replica recovers the
// breaker goes half-open and closes on its probes. Events, not timing, are checked.
import { afterEach, describe, expect, it } from 'vitest';
import { startExample, type RunningExample } from './run-example.js';

describe('examples/circuit-breaker', () => {
  let run: RunningExample | undefined;
  afterEach(() => run?.kill());

  it('opens after the 500s, refuses at once while open, goes half-open and closes once the replica is back', async () => {
    run = startExample('examples/circuit-breaker/main.ts');
    const exit = await run.exit(60_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');

    // Each line without its "+1.23 s" time.
    const lines = stdout.split('\n').map((l) => l.replace(/^\+\d+\.\d\d s /, ''));
    const index = (pattern: RegExp): number => lines.findIndex((l) => pattern.test(l));
    const opened = index(/^circuitOpen payments\.default\.svc\.cluster\.local:80: refusing until /);
    const refused = index(/^while open: CircuitOpenError PROXYLESS_ERR_CIRCUIT_OPEN statusCode=503 \(not sent\)$/);
    const recovered = index(/^the replica is healthy again$/);
    const halfOpen = index(/^circuitHalfOpen /);
    const closed = index(/^circuitClose /);
    expect(opened, stdout).toBeGreaterThan(0);
    expect([opened < refused, refused < recovered, recovered < halfOpen, halfOpen < closed], stdout).toEqual([true, true, true, true]);

    // Before opening: at least volumeThreshold (5) answers, all 500 (a 500 is an answer).
    const failures = lines.filter((l) => /^call \d+: /.test(l));
    expect(failures.length).toBeGreaterThanOrEqual(5);
    for (const l of failures) expect(l).toMatch(/^call \d+: 500 database down$/);
    expect(lines).toContain('the replica received 0 request(s) while the circuit was open');
    // The probes succeed and so does the call after the close.
    expect(lines.filter((l) => /^(probe \d|after close): /.test(l))).toEqual(['probe 1: 200 paid', 'probe 2: 200 paid', 'after close: 200 paid']);
    expect(lines).toContain('payments.default.svc.cluster.local:80: closed');
  }, 90_000);
});
