// Text tables for the demo: one per balancer (per replica: share, latency, the mesh's
// view of its load) and the final comparison. Lines fit about 80 columns; colour is
// optional so the same text works in a terminal, a pipe or a log file.
import type { PhaseReport, ReplicaRow } from './stats.js';

/** How to draw. */
export interface Style {
  /** Use ANSI colours (only when writing to a terminal). */
  readonly color: boolean;
}

const BAR_WIDTH = 8;
const BLOCKS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** The lines of one balancer's table. */
export function renderPhase(report: PhaseReport, style: Style): string[] {
  const paint = painter(style.color);
  const state =
    report.state === 'running'
      ? `running ${report.elapsedSeconds.toFixed(1)} / ${report.plannedSeconds} s`
      : report.state === 'interrupted'
        ? `interrupted after ${report.elapsedSeconds.toFixed(1)} s`
        : `${report.elapsedSeconds.toFixed(1)} s`;
  const lines = [
    `${paint.bold(report.label)}  →  balancer ${paint.bold(report.balancer)}  ${paint.dim(`[${state}]`)}`,
    `  ${count(report.requests)} requests · ${count(report.requestsPerSecond)} req/s · ` +
      `p50 ${ms(report.p50)} ms · p99 ${ms(report.p99)} ms · ${report.errors} errors`,
    paint.dim(
      `  ${'replica'.padEnd(9)}${'share'.padEnd(BAR_WIDTH + 1)}${''.padStart(6)}${'requests'.padStart(9)}` +
        `${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'in flight'.padStart(11)}${'cost ms'.padStart(9)}`,
    ),
  ];
  for (const row of report.rows) {
    const line = replicaLine(row);
    lines.push(row.replica.slow ? paint.yellow(`${line}  ◀ slow`) : line);
  }
  if (report.firstError !== undefined) lines.push(paint.red(`  first error: ${report.firstError}`.slice(0, 78)));
  return lines;
}

function replicaLine(row: ReplicaRow): string {
  return (
    `  ${row.replica.id.padEnd(9)}${bar(row.share).padEnd(BAR_WIDTH + 1)}${percent(row.share).padStart(6)}` +
    `${count(row.requests).padStart(9)}${ms(row.p50).padStart(8)}${ms(row.p99).padStart(8)}` +
    `${ms(row.inFlight).padStart(11)}${ms(row.cost).padStart(9)}`
  );
}

/** A note explaining the columns that come from the mesh rather than from the caller. */
export function columnNotes(style: Style): string[] {
  const paint = painter(style.color);
  return [
    paint.dim('  share, p50, p99: measured by the caller, until the response body ended.'),
    paint.dim("  in flight (mean) and cost (Peak EWMA): the mesh's view, from mesh.services()."),
  ];
}

/** The lines of the final comparison, one row per balancer that ran. */
export function renderSummary(reports: readonly PhaseReport[], headline: string, style: Style): string[] {
  const paint = painter(style.color);
  const lines = [
    paint.bold('Summary'),
    paint.dim(`  ${headline}; p50 and p99 in ms`),
    paint.dim(
      `  ${'DestinationRule'.padEnd(24)}${'balancer'.padEnd(14)}${'requests'.padStart(9)}${'req/s'.padStart(7)}` +
        `${'p50'.padStart(7)}${'p99'.padStart(7)}${'slow share'.padStart(12)}`,
    ),
  ];
  for (const r of reports) {
    const name = r.state === 'interrupted' ? `${r.balancer}*` : r.balancer;
    lines.push(
      `  ${r.label.padEnd(24)}${name.padEnd(14)}${count(r.requests).padStart(9)}${count(r.requestsPerSecond).padStart(7)}` +
        `${ms(r.p50).padStart(7)}${ms(r.p99).padStart(7)}${percent(r.slowShare).padStart(12)}`,
    );
  }
  if (reports.some((r) => r.state === 'interrupted')) lines.push(paint.dim('  * interrupted (Ctrl-C) before its planned time'));
  if (reports.length === 0) lines.push('  (no balancer ran)');
  return lines;
}

/** A share as a bar of BAR_WIDTH cells, in eighths of a cell. */
function bar(share: number): string {
  const eighths = Math.round(Math.max(0, Math.min(1, share)) * BAR_WIDTH * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + BLOCKS[eighths % 8];
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** One decimal (milliseconds, mean counts); `-` when there is no value yet. */
function ms(n: number): string {
  return Number.isFinite(n) ? n.toFixed(1) : '-';
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function painter(color: boolean) {
  const wrap = (code: string) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { bold: wrap('1'), dim: wrap('2'), yellow: wrap('33'), red: wrap('31') };
}
