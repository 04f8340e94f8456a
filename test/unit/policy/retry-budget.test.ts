import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../../../src/policy/budget/index.js';

/** A clock the test moves by hand. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('RetryBudget', () => {
  it('allows percent of the requests of the last ttl, plus the per-second floor', () => {
    const c = clock();
    const budget = new RetryBudget({ percent: 20, minPerSecond: 0, ttlMs: 10_000 }, c.now);
    for (let i = 0; i < 100; i++) budget.deposit();
    let allowed = 0;
    while (budget.tryWithdraw()) allowed++;
    expect(allowed).toBe(20);
    // Deposits expire after the ttl (10 buckets of 1 s): nothing is left then.
    c.advance(10_000);
    expect(budget.tryWithdraw()).toBe(false);
    const floor = new RetryBudget({ percent: 0, minPerSecond: 10, ttlMs: 10_000 }, c.now);
    let fromFloor = 0;
    while (floor.tryWithdraw()) fromFloor++;
    expect(fromFloor).toBe(100); // 10/s over the 10 s window
  });

  it('forgets deposits bucket by bucket as time passes', () => {
    const c = clock();
    const budget = new RetryBudget({ percent: 100, minPerSecond: 0, ttlMs: 10_000 }, c.now);
    for (let i = 0; i < 5; i++) budget.deposit();
    c.advance(5000);
    for (let i = 0; i < 5; i++) budget.deposit();
    c.advance(5000); // the first five are 10 s old: gone; the last five are 5 s old
    let allowed = 0;
    while (budget.tryWithdraw()) allowed++;
    expect(allowed).toBe(5);
    c.advance(1e12); // a long silence clears every bucket at once, not bucket by bucket
    expect(budget.tryWithdraw()).toBe(false);
  });

  // Regression: the budget kept one bucket per second of ttl, so a ttl of 600h cost two
  // 17 MB arrays per service and a loop of 2 million steps on every retry.
  it('costs the same memory whatever its ttl', () => {
    const before = process.memoryUsage().arrayBuffers;
    const budgets = Array.from({ length: 50 }, () => new RetryBudget({ ttlMs: 2 ** 31 - 1 }));
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(budgets).toHaveLength(50);
    expect(grown).toBeLessThan(1024 * 1024);
  });

  it('refuses a ttl that is not a positive finite number', () => {
    expect(() => new RetryBudget({ ttlMs: 0 })).toThrow(RangeError);
    expect(() => new RetryBudget({ ttlMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});
