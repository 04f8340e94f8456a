// Text tables for the demo: one per balancer (per replica: share, latency, the mesh's
// view of its load), the canary's (per config version: share per app version) and the
// final comparison. Lines fit about 80 columns; colour is optional so the same text
// works in a terminal, a pipe or a log file.
import type { CanaryReport, CanaryStep } from './canary-stats.js';
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
  const lines = [
    `${paint.bold(report.label)}  →  balancer ${paint.bold(report.balancer)}  ${paint.dim(`[${stateOf(report)}]`)}`,
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

/** `running 2.5 / 7 s`, `interrupted after 2.5 s` or `7.0 s`. */
export function stateOf(report: Pick<PhaseReport, 'state' | 'elapsedSeconds' | 'plannedSeconds'>): string {
  const elapsed = report.elapsedSeconds.toFixed(1);
  if (report.state === 'running') return `running ${elapsed} / ${report.plannedSeconds} s`;
  return report.state === 'interrupted' ? `interrupted after ${elapsed} s` : `${elapsed} s`;
}

/**
 * The lines of the canary's table: one row per config version the mesh had in force
 * (the one it was created with, then one per `configApplied`), with the split the
 * VirtualService asks for and the share each app version actually served.
 */
export function renderCanary(report: CanaryReport, service: string, style: Style): string[] {
  const paint = painter(style.color);
  const failed = `${report.failed} failed`;
  const lines = [
    `${paint.bold('canary from YAML')}  →  VirtualService ${paint.bold(service)}  ${paint.dim(`[${stateOf(report)}]`)}`,
    `  ${count(report.requests)} requests · ${count(report.requestsPerSecond)} req/s · ` +
      (report.failed > 0 ? paint.red(failed) : failed),
    paint.dim(
      (
        `  ${'config in force'.padEnd(18)}${'split'.padStart(7)}${'requests'.padStart(10)}${'failed'.padStart(8)}` +
        report.versions.map((v) => `  ${`${v} share`.padEnd(BAR_WIDTH + 7)}`).join('')
      ).trimEnd(),
    ),
  ];
  for (const step of report.steps) lines.push(canaryLine(step, report.versions));
  if (report.firstError !== undefined) lines.push(paint.red(`  first error: ${report.firstError}`.slice(0, 78)));
  return lines;
}

function canaryLine(step: CanaryStep, versions: readonly string[]): string {
  const split = step.split === undefined ? '…' : Object.keys(step.split).length === 0 ? '-' : versions.map((v) => round(step.split![v] ?? 0)).join('/');
  const shares = versions.map((v) => {
    const share = step.requests > 0 ? step.byVersion[v]! / step.requests : 0;
    return `  ${bar(share).padEnd(BAR_WIDTH + 1)}${percent(share).padStart(6)}`;
  });
  return `  ${`${step.number} ${step.cause}`.padEnd(18)}${split.padStart(7)}${count(step.requests).padStart(10)}${String(step.failed).padStart(8)}${shares.join('')}`;
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
export function renderSummary(reports: readonly PhaseReport[], headline: string, style: Style, canary?: CanaryReport): string[] {
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
  if (canary) lines.push(canarySummary(canary));
  return lines;
}

/** `canary from YAML: v2 share 9.8% → 50.1% → 100.0%, 0 failed of 12,345 requests` */
function canarySummary(report: CanaryReport): string {
  const newest = report.versions.at(-1)!;
  const shares = report.steps.map((s) => percent(s.requests > 0 ? s.byVersion[newest]! / s.requests : 0)).join(' → ');
  const interrupted = report.state === 'interrupted' ? ' (interrupted)' : '';
  return `  canary from YAML${interrupted}: ${newest} share ${shares}, ${report.failed} failed of ${count(report.requests + report.failed)} requests`;
}

/** A share as a bar of `width` cells, in eighths of a cell. */
export function bar(share: number, width = BAR_WIDTH): string {
  const eighths = Math.round(Math.max(0, Math.min(1, share)) * width * 8);
  return '█'.repeat(Math.floor(eighths / 8)) + BLOCKS[eighths % 8];
}

export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** One decimal (milliseconds, mean counts); `-` when there is no value yet. */
function ms(n: number): string {
  return Number.isFinite(n) ? n.toFixed(1) : '-';
}

/** A percentage as written in config: `90`, `33.3`. */
function round(n: number): string {
  return String(Math.round(n * 10) / 10);
}

export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

export function painter(color: boolean) {
  const wrap = (code: string) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { bold: wrap('1'), dim: wrap('2'), yellow: wrap('33'), red: wrap('31') };
}

/** Bar width of a before/after period cell in the kill and etcd tables. */
export const PERIOD_BAR = 4;
/** Width of a {@link periodCell}. */
export const PERIOD_CELL_WIDTH = PERIOD_BAR + 15;

/**
 * One replica's share of one period of a before/after table (bar, percent, requests),
 * or '' for a period that did not happen.
 */
export function periodCell(period: Readonly<Record<string, number>> | undefined, id: string): string {
  if (period === undefined) return '';
  const share = periodShare(period, id);
  return `${bar(share, PERIOD_BAR).padEnd(PERIOD_BAR + 1)}${percent(share).padStart(6)}${count(period[id] ?? 0).padStart(8)}`;
}

/** Requests in one period of a before/after table, all replicas together. */
export function periodTotal(period: Readonly<Record<string, number>> | undefined): number {
  let total = 0;
  for (const n of Object.values(period ?? {})) total += n;
  return total;
}

/** One replica's share (0..1) of a period's requests; 0 for an empty period. */
export function periodShare(period: Readonly<Record<string, number>>, id: string): number {
  const total = periodTotal(period);
  return total > 0 ? (period[id] ?? 0) / total : 0;
}
