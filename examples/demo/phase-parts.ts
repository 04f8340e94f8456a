// What the demo's traffic phases share: what main gives each (PhaseContext), how a part
// of a multi-part phase ends, waiting that Ctrl-C cuts short, and reporting a part that
// could not run.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Mesh } from 'proxyless';
import type { Screen } from './screen.js';
import type { Style } from './table.js';

/** What main gives every traffic phase after the balancers: the callers, the screen, Ctrl-C. */
export interface PhaseContext {
  readonly concurrency: number;
  readonly distinctUsers: number;
  /** How often the live table is redrawn, in ms. */
  readonly tickMs: number;
  readonly screen: Screen;
  readonly style: Style;
  /** Aborted on Ctrl-C. */
  readonly interrupted: AbortSignal;
  /** The fewest answered requests each measured window waits for, past its seconds (DEMO_MIN_ANSWERS). */
  readonly minAnswers: number;
}

/** Answered requests, counted by whoever sends them (see `runLoad`'s `answers`). */
export interface AnswerCount {
  answered: number;
}

/** How one part went. */
export type PartOutcome<T> =
  | { readonly outcome: 'ran'; readonly report: T }
  /** Its server is not installed. */
  | { readonly outcome: 'skipped'; readonly reason: string }
  /** Ctrl-C before its traffic started. */
  | { readonly outcome: 'interrupted' }
  | { readonly outcome: 'failed'; readonly error: string };

/** Resolves after `seconds` with true, or at once with false on Ctrl-C. */
export function waitSeconds(seconds: number, interrupted: AbortSignal): Promise<boolean> {
  return sleep(Math.max(0, seconds * 1000), undefined, { signal: interrupted }).then(
    () => true,
    () => false,
  );
}

/**
 * Waits out one measured window: `seconds`, and then, on a machine too slow or busy to
 * answer `minAnswers` requests in that time, until it has (DEMO_MIN_ANSWERS: a table
 * whose shares rest on a handful of requests shows noise). Resolves true, or false at
 * once on Ctrl-C.
 */
export async function waitWindow(seconds: number, interrupted: AbortSignal, answers: AnswerCount, minAnswers: number): Promise<boolean> {
  const enough = answers.answered + minAnswers;
  if (!(await waitSeconds(seconds, interrupted))) return false;
  while (answers.answered < enough) {
    if (!(await waitSeconds(0.02, interrupted))) return false;
  }
  return true;
}

/** A part that could not run: Ctrl-C before its traffic, or something failed. */
export function partFailed(error: unknown, part: string, phase: { readonly interrupted: AbortSignal; readonly screen: Screen }): PartOutcome<never> {
  if (phase.interrupted.aborted) {
    phase.screen.print([`  ${part}: interrupted (Ctrl-C) before its traffic started`, '']);
    return { outcome: 'interrupted' };
  }
  const message = error instanceof Error ? error.message : String(error);
  phase.screen.print([`  ${part} part failed: ${message}`, '']);
  return { outcome: 'failed', error: message };
}

/**
 * One line of the summary for a part of a phase: its result when it ran (marked when
 * Ctrl-C cut it short), or why it did not.
 */
export function partSummaryLine<T extends { readonly counts: { readonly state: string } }>(
  phase: string,
  name: string,
  part: PartOutcome<T>,
  result: (report: T) => string,
): string {
  switch (part.outcome) {
    case 'skipped':
      return `  ${phase}, ${name}: skipped (${part.reason})`;
    case 'interrupted':
      return `  ${phase}, ${name}: interrupted before its traffic started`;
    case 'failed':
      return `  ${phase}, ${name}: failed (${part.error})`;
    case 'ran':
      return `  ${phase}, ${name}${part.report.counts.state === 'interrupted' ? ' (interrupted)' : ''}: ${result(part.report)}`;
  }
}

/** Resolves with the time (performance.now()) `mesh.services()` no longer shows `address` as available, checked every millisecond. */
export function whenUnavailable(mesh: Mesh, address: string): { at: Promise<number>; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const at = new Promise<number>((resolve) => {
    timer = setInterval(() => {
      const endpoints = mesh.services().flatMap((s) => s.endpoints);
      if (!endpoints.some((e) => e.key === address && e.available)) {
        clearInterval(timer);
        resolve(performance.now());
      }
    }, 1);
  });
  return { at, stop: () => clearInterval(timer) };
}
