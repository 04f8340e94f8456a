// The quick-start example (examples/quick-start): every request is answered by one of the
// two real replicas with the service name as Host, and mesh.services() lists both.
import { afterEach, describe, expect, it } from 'vitest';
import { startExample, type RunningExample } from './run-example.js';

describe('examples/quick-start', () => {
  let run: RunningExample | undefined;
  afterEach(() => run?.kill());

  it('answers six requests from the two replicas and lists them as the service endpoints', async () => {
    run = startExample('examples/quick-start/main.ts');
    const exit = await run.exit(60_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');

    const answers = [...stdout.matchAll(/^(\d{3}) (\S+) answered by (reviews-[12]) \(Host: (\S+)\)$/gm)];
    expect(answers.map((m) => m[2])).toEqual([1, 2, 3, 4, 5, 6].map((i) => `/api/reviews/${i}`));
    for (const [, status, , , host] of answers) {
      expect(status).toBe('200');
      expect(host).toBe('reviews');
    }
    expect(stdout).toContain('reviews.default.svc.cluster.local:80 balancer=p2c-peak-ewma\n');
    const endpoints = [...stdout.matchAll(/^ {2}127\.0\.0\.1:\d+ weight=(\d) available=true failures=0$/gm)].map((m) => m[1]);
    expect(endpoints.sort()).toEqual(['1', '2']);
  }, 90_000);
});
