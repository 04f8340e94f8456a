/**
 * How long this process's event loop has been stalled, in total: time when no callback
 * could run because another one (or a garbage collection) held the thread.
 *
 * Why the balancers care: a latency sample runs from writing the request to handling the
 * response headers, so a client-side stall of 20 ms lands in the sample of every request
 * in flight, and for a moment every endpoint looks 20 ms slow. Peak EWMA takes such a
 * sample as the new estimate, and the balancer then sends traffic to an endpoint that is
 * really slow but had nothing in flight during the stall. Subtracting the stall time
 * that fell inside a sample leaves what the endpoint (and the network) took.
 *
 * Measured by a repeating timer every {@link StallClock.TICK_MS} ms: a tick that fires
 * later than due by more than {@link StallClock.SLACK_MS} adds the lateness. Reading
 * ({@link StallClock.read}) also counts a tick that is overdue right now, because after a
 * stall Node handles the I/O that waited (the responses) before it runs the timers: the
 * stall must be visible to the response callbacks that come first. The timer is unref'd
 * (it never keeps the process alive) and runs only while something holds the clock
 * ({@link StallClock.acquire}).
 */
export class StallClock {
  /** Interval of the measuring timer, in ms. */
  static readonly TICK_MS = 5;
  /** Lateness of a tick that is timer jitter, not a stall, in ms. */
  static readonly SLACK_MS = 1;

  #stalledMs = 0;
  #holders = 0;
  #timer: NodeJS.Timeout | undefined;
  #due = 0;

  /**
   * Total stalled time in ms at `now` (a `performance.now()` reading), the stall going on
   * included; only grows while the clock runs, and stands still while it does not.
   */
  read(now: number): number {
    if (this.#timer === undefined) return this.#stalledMs;
    const late = now - this.#due;
    return late > StallClock.SLACK_MS ? this.#stalledMs + late : this.#stalledMs;
  }

  /** True while some holder keeps the clock running. */
  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts the clock for one more holder; call the returned function to let go. */
  acquire(): () => void {
    if (this.#holders++ === 0) this.#start();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#holders === 0) this.#stop();
    };
  }

  #start(): void {
    this.#due = performance.now() + StallClock.TICK_MS;
    this.#timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.#due;
      if (late > StallClock.SLACK_MS) this.#stalledMs += late;
      this.#due = now + StallClock.TICK_MS;
    }, StallClock.TICK_MS);
    this.#timer.unref();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** The process's stall clock, shared by every mesh. */
export const stallClock = new StallClock();
