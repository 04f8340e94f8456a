// The custom-layer example (examples/custom-layer): the user's layers sit where they were
// inserted, the header added by the service-stack layer reaches the backend, and the
// endpoint-stack layer counts every request against the endpoint that served it.
import { afterEach, describe, expect, it } from 'vitest';
import { startExample, type RunningExample } from './run-example.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('examples/custom-layer', () => {
  let run: RunningExample | undefined;
  afterEach(() => run?.kill());

  it('inserts request-id before balance and request-count after load; the backend sees x-request-id', async () => {
    run = startExample('examples/custom-layer/main.ts');
    const exit = await run.exit(60_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');

    expect(stdout).toContain('service stack:  request-id → timeout → retry → hedge → breaker → limits → balance\n');
    expect(stdout).toContain('endpoint stack: telemetry → load → request-count → outlier → pool\n');

    // What the backends printed they received: one line per request, in order.
    const seen = [...stdout.matchAll(/^ {2}(replica-[ab]) {2}(\S+) +x-request-id: (.+)$/gm)].map((m) => ({
      replica: m[1]!,
      path: m[2]!,
      requestId: m[3]!,
    }));
    expect(seen.map((s) => s.path)).toEqual(['/reviews/1', '/reviews/2', '/reviews/3', '/missing', '/reviews/5']);
    const generated = seen.slice(0, 4).map((s) => s.requestId);
    for (const id of generated) expect(id).toMatch(UUID);
    expect(new Set(generated).size).toBe(4); // a new id per request
    expect(seen[4]!.requestId).toBe('chosen-by-the-caller'); // the caller's own id is kept

    // The endpoint layer's counts agree with what the backends saw.
    const counted = [...stdout.matchAll(/^ {2}127\.0\.0\.1:\d+ \((replica-[ab])\) {2}requests: (\d+) {2}statuses: (.+)$/gm)];
    expect(counted).toHaveLength(2);
    for (const [, replica, requests] of counted) {
      expect(Number(requests), replica).toBe(seen.filter((s) => s.replica === replica).length);
    }
    const statuses = counted.map((m) => m[3]).join(', ');
    expect(statuses).toContain('404 ×1');
    expect(counted.reduce((sum, m) => sum + Number(m[2]), 0)).toBe(5);
  }, 90_000);
});
