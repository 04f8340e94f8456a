/**
 * How long this process's event loop has been stalled, in total: time when no callback
 * could run because another one (or a garbage collection, or the machine giving the CPU
 * to other processes) held the thread.
 *
 * Why the balancers care: a latency sample runs from writing the request to handling the
 * response headers, so a client-side stall of 20 ms lands in the sample of every request
 * in flight, and for a moment every endpoint looks 20 ms slow. Peak EWMA takes such a
 * sample as the new estimate, and the balancer then sends traffic to an endpoint that is
 * really slow but had nothing in flight during the stall. Subtracting the stall time
 * that kept the response waiting ({@link StallClock.heldUp}) leaves what the endpoint
 * (and the network) took.
 *
 * Measured by a repeating timer every {@link StallClock.TICK_MS} ms: a tick that fires
 * later than due by more than {@link StallClock.SLACK_MS} adds the lateness. Reading
 * ({@link StallClock.read}) also counts a tick that is overdue right now, because after a
 * stall Node handles the I/O that waited (the responses) before it runs the timers: the
 * stall must be visible to the response callbacks that come first. The timer is unref'd
 * (it never keeps the process alive) and runs only while requests are in flight
 * ({@link StallClock.enter}, called by the load layer per request) or something holds
 * the clock ({@link StallClock.acquire}); once neither has been the case for
 * {@link StallClock.IDLE_STOP_MS}, the timer stops itself, so a process whose meshes
 * have no traffic pays no 5 ms wake-ups. The grace keeps a steady trickle of requests
 * from starting and stopping an interval for each one.
 */
export class StallClock {
  /** Interval of the measuring timer, in ms. */
  static readonly TICK_MS = 5;
  /** Lateness of a tick that is timer jitter, not a stall, in ms. */
  static readonly SLACK_MS = 1;
  /** How long the clock keeps ticking after the last request in flight ended, in ms. */
  static readonly IDLE_STOP_MS = 1000;

  #stalledMs = 0;
  /**
   * The stall going on as the ticks saw it: the lateness of the ticks in a row that came
   * more than a whole tick late (0 once one came within a tick of its time).
   */
  #episodeMs = 0;
  #holders = 0;
  /** Requests in flight ({@link StallClock.enter} minus {@link StallClock.leave}). */
  #active = 0;
  /** When the last request in flight ended (`performance.now()`). */
  #idleSince = 0;
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

  /**
   * How long a callback that runs at `now` (an answer being handled) can have been kept
   * waiting by a stall, counting only stall time after `since` (an earlier
   * {@link StallClock.read}): the stall going on, that is the ticks in a row that came more
   * than a whole tick late since the loop last ran within a tick of time, plus a tick
   * overdue now. What waited during an earlier stall, which the loop has since recovered
   * from, was handled as it recovered, so that stall kept nothing waiting that is handled
   * only now.
   *
   * Not the sum of every stall since `since`: on a machine short of CPU every wake-up of
   * this process comes a few ms late, and the sum over a 20 ms wait came to most of it,
   * though the answer itself waited for one wake-up; the samples of a slow replica were
   * then cut to nothing or dropped, and it looked as fast as the others. Nor a stall that
   * ended before the answer came (a 30 ms garbage collection early in a 100 ms wait).
   */
  heldUp(now: number, since: number): number {
    if (this.#timer === undefined) return 0;
    const overdue = now - this.#due;
    const held = this.#episodeMs + (overdue > StallClock.SLACK_MS ? overdue : 0);
    const inWindow = this.read(now) - since;
    return held < inWindow ? held : inWindow > 0 ? inWindow : 0;
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
      if (--this.#holders === 0 && this.#active === 0) this.#stop();
    };
  }

  /** A request starts: the clock runs (from now) until requests have been idle a while. */
  enter(): void {
    if (this.#active++ === 0 && this.#timer === undefined) this.#start();
  }

  /** A request ended (call once per {@link StallClock.enter}). */
  leave(): void {
    if (this.#active > 0 && --this.#active === 0) this.#idleSince = performance.now();
  }

  #start(): void {
    this.#due = performance.now() + StallClock.TICK_MS;
    this.#timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.#due;
      if (late > StallClock.SLACK_MS) this.#stalledMs += late;
      this.#episodeMs = late > StallClock.TICK_MS ? this.#episodeMs + late : 0;
      this.#due = now + StallClock.TICK_MS;
      if (this.#active === 0 && this.#holders === 0 && now - this.#idleSince >= StallClock.IDLE_STOP_MS) this.#stop();
    }, StallClock.TICK_MS);
    this.#timer.unref();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#episodeMs = 0;
  }
}

/** The process's stall clock, shared by every mesh. */
export const stallClock = new StallClock();
