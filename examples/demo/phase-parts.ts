// What the demo's multi-part phases (resilience, discovery) share: how a part ends,
// waiting that Ctrl-C cuts short, and reporting a part that could not run.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Screen } from './screen.js';

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
