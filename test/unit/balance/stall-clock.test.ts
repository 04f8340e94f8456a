// The stall clock measures this process's event-loop stalls with a real timer and a real
// busy-wait (fake timers cannot stall a thread); the bounds are generous for a shared machine.
import { describe, expect, it } from 'vitest';
import { StallClock } from '../../../src/balance/stall-clock.js';

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the thread is held: no timer can fire
  }
}
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('StallClock', () => {
  it('counts a stall, already while it is overdue (before its timer runs), and after', async () => {
    const clock = new StallClock();
    const release = clock.acquire();
    try {
      await tick(20);
      const before = clock.read(performance.now());
      busyWait(120);
      // No timer has run since the stall: the overdue tick is counted on reading.
      const during = clock.read(performance.now());
      expect(during - before).toBeGreaterThanOrEqual(100);
      await tick(20);
      const after = clock.read(performance.now());
      expect(after - before).toBeGreaterThanOrEqual(100);
      expect(after - before).toBeLessThan(1_000);
      expect(after).toBeGreaterThanOrEqual(during - 1);
    } finally {
      release();
    }
  });

  it('runs only while held, and stands still once every holder let go', async () => {
    const clock = new StallClock();
    expect(clock.running).toBe(false);
    const first = clock.acquire();
    const second = clock.acquire();
    expect(clock.running).toBe(true);
    first();
    first(); // letting go twice counts once
    expect(clock.running).toBe(true);
    second();
    expect(clock.running).toBe(false);
    const stopped = clock.read(performance.now());
    busyWait(50);
    await tick(10);
    expect(clock.read(performance.now())).toBe(stopped);
  });
});
