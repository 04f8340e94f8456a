// After the phases, on a terminal (or with `--keep`): the replicas stay up behind one
// mesh with the default balancer, its admin server on the demo's port, and a few callers
// sending light, steady traffic, so the dashboard printed at the start has something to
// show for as long as the reader wants. Ctrl-C (or SIGTERM) stops the callers, lets the
// requests in flight finish, closes the mesh (and with it the admin server) and reports
// what was sent and how many failed. Off a terminal without `--keep` (CI, the tests) the
// demo ends after its phases as before.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Mesh } from 'proxyless';
import type { DemoAdmin } from './admin.js';
import { SERVICE } from './balancers.js';
import { runLoad } from './load.js';
import { count } from './table.js';
import type { Screen } from './screen.js';

/** Callers of the kept mesh: few, each pausing between requests (light traffic). */
const KEEP_CALLERS = 2;
/** Each caller's pause after an answer, in ms: about 2 × 1000 / (KEEP_PAUSE_MS + latency) requests a second. */
const KEEP_PAUSE_MS = 100;
/** How often the live line is redrawn on a terminal, in ms. */
const KEEP_TICK_MS = 500;

/** Whether the demo keeps running after its phases: on a terminal, or when asked with `--keep`. */
export function keepRequested(argv: readonly string[], stdoutIsTty: boolean): boolean {
  return stdoutIsTty || argv.includes('--keep');
}

/** What the kept part did, for the last lines. */
export interface KeepReport {
  readonly seconds: number;
  readonly requests: number;
  readonly failed: number;
}

/** What {@link keepRunning} needs. */
export interface KeepOptions {
  /** A fresh mesh for the replicas (the default balancer); closed here. */
  readonly mesh: Mesh;
  readonly admin: DemoAdmin;
  readonly screen: Screen;
  /** Aborted on Ctrl-C or SIGTERM: the end of this part. */
  readonly interrupted: AbortSignal;
}

/**
 * Serves the dashboard with steady traffic until `interrupted` aborts, then drains: the
 * callers finish their requests in flight, the mesh closes. Resolves with the counts.
 */
export async function keepRunning({ mesh, admin, screen, interrupted }: KeepOptions): Promise<KeepReport> {
  const started = performance.now();
  let requests = 0;
  let failed = 0;
  const stop = new AbortController();
  try {
    await admin.attach(mesh);
    const load = runLoad({
      dispatcher: mesh.dispatcher,
      url: `http://${SERVICE}/api/reviews`,
      concurrency: KEEP_CALLERS,
      distinctUsers: 1,
      pauseMs: KEEP_PAUSE_MS,
      signal: stop.signal,
      stats: {
        record: () => void requests++,
        recordError: () => {
          requests++;
          failed++;
        },
      },
    });
    screen.print([`Dashboard: ${admin.dashboardUrl} — Ctrl-C to stop`]);
    const line = (): string[] => [`  kept running ${((performance.now() - started) / 1000).toFixed(0)} s · ${count(requests)} requests · ${failed} failed`];
    while (!interrupted.aborted) {
      screen.update(line());
      await sleep(KEEP_TICK_MS, undefined, { signal: interrupted }).catch(() => undefined);
    }
    // Drain: no new request; those in flight finish and are counted.
    stop.abort();
    await load;
  } finally {
    stop.abort();
    await mesh.close();
  }
  // The live line goes; the summary line (main.ts) says what it counted.
  screen.commit([]);
  return { seconds: (performance.now() - started) / 1000, requests, failed };
}
