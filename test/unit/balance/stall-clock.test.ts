// The stall clock measures this process's event-loop stalls with a real timer and a real
// busy-wait (fake timers cannot stall a thread). No bound depends on the machine's speed:
// a stall counts at least what the busy-wait held and at most the time that passed.
import { describe, expect, it, vi } from 'vitest';
import { StallClock } from '../../../src/balance/stall-clock.js';

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the thread is held: no timer can fire
  }
}
/**
 * Lets the timers phase run once: a timer due now or overdue (the clock's tick) runs before
 * this one, which is due a tick later. Not a guess at how long anything takes.
 */
const nextTimers = () => new Promise((resolve) => setTimeout(resolve, StallClock.TICK_MS));

describe('StallClock', () => {
  it('counts a stall, already while it is overdue (before its timer runs), and after', async () => {
    const clock = new StallClock();
    const release = clock.acquire();
    try {
      await nextTimers();
      const startedAt = performance.now();
      const before = clock.read(startedAt);
      busyWait(120);
      // No timer has run since the stall: the overdue tick is counted on reading.
      const during = clock.read(performance.now());
      expect(during - before).toBeGreaterThanOrEqual(100);
      await nextTimers(); // the overdue tick has run and added the stall
      const endedAt = performance.now();
      const after = clock.read(endedAt);
      expect(after - before).toBeGreaterThanOrEqual(100);
      // Counted once, not again by the tick: never more than the time that passed (plus the
      // slack a tick may have been late by, uncounted, when `before` was read).
      expect(after - before).toBeLessThanOrEqual(endedAt - startedAt + StallClock.SLACK_MS);
      expect(after).toBeGreaterThanOrEqual(during - 1);
    } finally {
      release();
    }
  });

  it('heldUp: a stall going on holds up what is handled now; one the loop has since recovered from does not', async () => {
    const clock = new StallClock();
    const release = clock.acquire();
    try {
      await nextTimers();
      const before = clock.read(performance.now());
      busyWait(120);
      // An answer handled now waited behind the whole stall.
      expect(clock.heldUp(performance.now(), before)).toBeGreaterThanOrEqual(100);
      await nextTimers(); // the late tick has run: the loop is running again
      // An answer handled before the loop has run a tick on time still waited behind it.
      expect(clock.heldUp(performance.now(), before)).toBeGreaterThanOrEqual(100);
      // Once a tick comes within a tick of its time (at once, unless this machine stalls
      // this process for more than 5 ms at every tick), the stall is over: what waited
      // during it was handled then, and an answer handled now was not held up by it.
      await vi.waitFor(() => expect(clock.heldUp(performance.now(), before)).toBeLessThan(100), { timeout: 10_000, interval: 1 });
      expect(clock.read(performance.now()) - before).toBeGreaterThanOrEqual(100); // still in the total
      // Never more than the stall since `since`.
      const now = performance.now();
      expect(clock.heldUp(now, clock.read(now))).toBe(0);
    } finally {
      release();
    }
    expect(clock.heldUp(performance.now(), 0)).toBe(0); // stopped: nothing holds anything up
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
    await nextTimers();
    expect(clock.read(performance.now())).toBe(stopped);
  });

  describe('runs only while there is traffic (fake timers: only the schedule is checked here)', () => {
    it('is stopped with nothing in flight, starts with the first request, stops itself after IDLE_STOP_MS without any', () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'] });
      try {
        const clock = new StallClock();
        expect(clock.running).toBe(false);
        clock.enter();
        clock.enter();
        expect(clock.running).toBe(true);
        clock.leave();
        vi.advanceTimersByTime(StallClock.IDLE_STOP_MS * 2);
        expect(clock.running, 'one request is still in flight').toBe(true);
        clock.leave();
        vi.advanceTimersByTime(StallClock.IDLE_STOP_MS - StallClock.TICK_MS * 2);
        expect(clock.running, 'within the idle grace').toBe(true);
        vi.advanceTimersByTime(StallClock.TICK_MS * 3);
        expect(clock.running, 'idle for IDLE_STOP_MS').toBe(false);
        clock.enter();
        expect(clock.running, 'the next request starts it again').toBe(true);
        clock.leave();
        clock.leave(); // an extra leave never drives the count below zero
        clock.enter();
        vi.advanceTimersByTime(StallClock.IDLE_STOP_MS * 2);
        expect(clock.running, 'the request after the extra leave still counts').toBe(true);
        clock.leave();
        vi.advanceTimersByTime(StallClock.IDLE_STOP_MS + StallClock.TICK_MS);
        expect(clock.running).toBe(false);
      } finally {
        vi.useRealTimers();
      }
    });

    it('an acquired clock keeps running with no request in flight, until released', () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'] });
      try {
        const clock = new StallClock();
        const release = clock.acquire();
        clock.enter();
        clock.leave();
        vi.advanceTimersByTime(StallClock.IDLE_STOP_MS * 3);
        expect(clock.running).toBe(true);
        release();
        expect(clock.running, 'released with nothing in flight').toBe(false);
      } finally {
        vi.useRealTimers();
      }
    });
  });
});
