import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * The longest the event loop was blocked while `work` ran, in ms. For hostile inputs
 * whose cost used to be exponential or quadratic: such a block lasts seconds to minutes,
 * the fixed code's milliseconds, so a test can check a generous bound (a second) that a
 * slow shared machine cannot fail.
 */
export async function longestBlock(work: () => Promise<void>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    // The histogram's timer must have ticked once: a block that begins before its first
    // tick is not recorded (a synchronous dispatch right after enable() went unseen).
    await new Promise((resolve) => setTimeout(resolve, 25));
    await work();
    // One more timer turn: a block that just ended is recorded then.
    await new Promise((resolve) => setTimeout(resolve, 25));
  } finally {
    histogram.disable();
  }
  return histogram.max / 1e6;
}
