// The retries-and-timeouts example (examples/retries-and-timeouts): retries and per-try
// timeouts hide a failing and a hanging replica; the route timeout and withDeadline end
// calls to a slow service with the mesh's errors.
import { afterEach, describe, expect, it } from 'vitest';
import { startExample, type RunningExample } from './run-example.js';

describe('examples/retries-and-timeouts', () => {
  let run: RunningExample | undefined;
  afterEach(() => run?.kill());

  it('answers every ratings request from the healthy replica; reports ends with RouteTimeoutError then DeadlineExceededError', async () => {
    run = startExample('examples/retries-and-timeouts/main.ts');
    const exit = await run.exit(60_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');

    const answers = [...stdout.matchAll(/^ {2}request (\d): (\d{3}) "([^"]*)"/gm)];
    expect(answers.map((m) => m[1])).toEqual(['1', '2', '3', '4', '5', '6']);
    for (const m of answers) expect(`${m[2]} ${m[3]}`).toBe('200 ratings-ok: 4 stars');

    // The failing and the hanging replica were tried (and their tries retried elsewhere).
    const tries = Object.fromEntries([...stdout.matchAll(/(ratings-[\w-]+) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
    expect(tries['ratings-ok']).toBe(6);
    expect(tries['ratings-503']).toBeGreaterThan(0);
    expect(tries['ratings-hangs']).toBeGreaterThan(0);

    expect(stdout).toMatch(/^ {2}RouteTimeoutError PROXYLESS_ERR_TIMEOUT statusCode=504: .*route timeout of 500 ms/m);
    expect(stdout).toMatch(/^ {2}DeadlineExceededError PROXYLESS_ERR_DEADLINE_EXCEEDED: /m);
    // The time left travels with each call: the route's 500 ms, then at most withDeadline's 200 ms.
    const budgets = [...stdout.matchAll(/reports-slow got a request with x-envoy-expected-rq-timeout-ms: (\d+)/g)].map((m) => Number(m[1]));
    expect(budgets).toHaveLength(2);
    expect(budgets[0]).toBeLessThanOrEqual(500);
    expect(budgets[0]).toBeGreaterThan(200);
    expect(budgets[1]).toBeGreaterThan(0);
    expect(budgets[1]).toBeLessThanOrEqual(200);
  }, 90_000);
});
