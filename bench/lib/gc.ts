import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/**
 * Runs a full, synchronous garbage collection. Uses `global.gc` when Node runs with
 * `--expose-gc` (as `bench/run.ts` starts the scale benchmark); otherwise enables the
 * flag at run time and takes `gc` from a fresh context, so a standalone run works too.
 */
export function fullGc(): void {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') {
      collect = exposed;
    } else {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
  }
  // Twice: the first pass may leave objects whose finalisation frees more.
  collect();
  collect();
}

/** Bytes held by JavaScript after a full GC: V8 heap plus ArrayBuffer backing stores (typed arrays). */
export function retainedBytes(): number {
  fullGc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}
