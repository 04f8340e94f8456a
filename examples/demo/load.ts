// The load generator: a fixed number of workers, each sending one request at a time
// through the mesh (a closed loop, like a pool of busy callers). A slow answer holds a
// worker up, so a balancer that sends traffic to the slow replica also gets less done.
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';
import { HASH_HEADER } from './balancers.js';
import type { AnswerCount } from './phase-parts.js';

/** Where the workers report results (the balancer phases' and the canary's stats). */
export interface LoadRecorder {
  /** A request answered by `replicaId` (its `x-replica` header) after `ms`. */
  record(replicaId: string | undefined, ms: number): void;
  /** A request that failed. */
  recordError(error: unknown): void;
}

/** What {@link runLoad} needs. */
export interface LoadOptions {
  /** The mesh's dispatcher: requests name the logical service, the mesh picks a replica. */
  dispatcher: Dispatcher;
  /** e.g. `http://reviews/api/reviews` */
  url: string;
  /** How many requests are in flight at once. */
  concurrency: number;
  /** How many distinct values the hash header takes (users, for the ring hash). */
  distinctUsers: number;
  /** Where results go. */
  stats: LoadRecorder;
  /** Stops the workers: each finishes the request it has in flight, then returns. */
  signal: AbortSignal;
  /** Counts the answers as they come, for a phase that waits for enough of them (see `waitWindow`). */
  answers?: AnswerCount;
  /** A pause after each answer, in ms (light traffic); default none. */
  pauseMs?: number;
}

/**
 * With DEMO_PROGRESS set and stdout not a terminal, each run of the workers prints one
 * line once this many requests were answered: a test waits for it before sending Ctrl-C,
 * so the phase it interrupts has measured something (on a terminal the live table shows it).
 */
const PROGRESS_AFTER = 100;

/** Runs the workers until `signal` aborts; resolves when every worker has returned. */
export async function runLoad(options: LoadOptions): Promise<void> {
  let answered = 0;
  const progress = process.env.DEMO_PROGRESS && !process.stdout.isTTY;
  const stats: LoadRecorder = {
    record(replicaId, ms) {
      options.stats.record(replicaId, ms);
      if (options.answers) options.answers.answered++;
      if (++answered === PROGRESS_AFTER && progress) process.stdout.write(`  … ${PROGRESS_AFTER} requests answered\n`);
    },
    recordError: (error) => options.stats.recordError(error),
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => worker({ ...options, stats })));
}

async function worker({ dispatcher, url, distinctUsers, stats, signal, pauseMs }: LoadOptions): Promise<void> {
  while (!signal.aborted) {
    // Every request carries a user id; only the ring hash balancer looks at it.
    const headers = { [HASH_HEADER]: `user-${Math.floor(Math.random() * distinctUsers)}` };
    const started = performance.now();
    try {
      const res = await request(url, { dispatcher, headers });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      const replica = res.headers['x-replica'];
      stats.record(typeof replica === 'string' ? replica : undefined, performance.now() - started);
      if (pauseMs) await sleep(pauseMs, undefined, { signal }).catch(() => undefined);
    } catch (error) {
      stats.recordError(error);
      // Do not spin when every request fails at once (e.g. the replicas are gone).
      await sleep(50);
    }
  }
}
