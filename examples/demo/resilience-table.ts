// Text tables for the resilience phase: the kill part (per replica: its share before the
// kill and after the ejection) and the breaker part (per period between breaker events:
// what the callers got), plus their lines in the summary.
import { partSummaryLine } from './phase-parts.js';
import type { BreakerReport, KillReport, ResilienceReport } from './resilience-phase.js';
import type { BreakerCause } from './resilience-stats.js';
import { bar, count, painter, percent, PERIOD_CELL_WIDTH, periodCell, periodShare, periodTotal, stateOf, type Style } from './table.js';


/** The lines of the kill part's table. */
export function renderKill(report: KillReport, style: Style): string[] {
  const paint = painter(style.color);
  const { counts, victim } = report;
  const [before = {}, between, after] = counts.periods;
  const cell = periodCell;
  const width = PERIOD_CELL_WIDTH;
  const failed = `${counts.failed} failed`;
  const lines = [
    `${paint.bold('resilience: replica killed')}  →  ${paint.bold(report.service)} (${report.balancer})  ${paint.dim(`[${stateOf(counts)}]`)}`,
    `  ${count(counts.requests)} requests · ${count(counts.requestsPerSecond)} req/s · ${counts.failed > 0 ? paint.red(failed) : failed}`,
    paint.dim(`  ${'replica'.padEnd(11)}${'before the kill'.padEnd(width)}  after the ejection`),
  ];
  for (const replica of report.replicas) {
    const line = `  ${replica.id.padEnd(11)}${cell(before, replica.id).padEnd(width)}  ${cell(after, replica.id)}`;
    if (replica.id !== victim.id) {
      lines.push(line.trimEnd());
      continue;
    }
    const marker = victim.killedAt === undefined ? 'to be killed halfway' : victim.ejectedAt === undefined ? 'killed' : 'killed, ejected';
    lines.push(paint.yellow(`${line.padEnd(2 + 11 + width + 2 + width)}  ◀ ${marker}`));
  }
  if (between !== undefined) {
    const window = victim.killedAt !== undefined && victim.ejectedAt !== undefined ? ` (${Math.round((victim.ejectedAt - victim.killedAt) * 1000)} ms)` : '';
    const sent = periodTotal(between);
    lines.push(paint.dim(`  sent between the kill and the ejection${window}: ${count(sent)} ${sent === 1 ? 'request' : 'requests'}`));
  }
  if (victim.killedAt !== undefined) {
    const tries = `${count(victim.failedTries)} ${victim.failedTries === 1 ? 'try' : 'tries'} failed on ${victim.id}`;
    lines.push(
      counts.failed === 0
        ? `  ${tries}, each retried on another replica: no request failed`
        : paint.red(`  ${tries}; ${count(counts.failed)} ${counts.failed === 1 ? 'request' : 'requests'} failed all the same`),
    );
  }
  if (counts.firstError !== undefined) lines.push(paint.red(`  first error: ${counts.firstError}`.slice(0, 78)));
  return lines;
}

const CAUSES: Record<BreakerCause, string> = {
  start: 'traffic starts',
  fails: 'replica fails',
  recovers: 'replica recovers',
  circuitOpen: 'circuitOpen',
  circuitHalfOpen: 'circuitHalfOpen',
  circuitClose: 'circuitClose',
};

/** The lines of the breaker part's table: one row per period between events. */
export function renderBreaker(report: BreakerReport, style: Style): string[] {
  const paint = painter(style.color);
  const { counts } = report;
  const sent = counts.ok + counts.failed5xx;
  const errors = `${count(counts.errors)} other errors`;
  const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '-');
  const lines = [
    `${paint.bold('resilience: circuit breaker')}  →  ${paint.bold(report.service)}  ${paint.dim(`[${stateOf(counts)}]`)}`,
    `  ${count(sent)} sent (${count(counts.failed5xx)} answered 500) · ${count(counts.refused)} refused at once · ` +
      (counts.errors > 0 ? paint.red(errors) : errors),
    paint.dim(`  p50 ${ms(counts.sentP50)} ms when sent, ${ms(counts.refusedP50)} ms when refused (CircuitOpenError, never sent)`),
    paint.dim(
      `  ${'from'.padEnd(9)}${'event'.padEnd(18)}${'breaker'.padEnd(11)}${'replica'.padEnd(9)}` +
        `${'200'.padStart(7)}${'500'.padStart(7)}${'refused'.padStart(9)}`,
    ),
  ];
  for (const p of counts.periods) {
    const row =
      `  ${`+${p.atSeconds.toFixed(2)} s`.padEnd(9)}${CAUSES[p.cause].padEnd(18)}${p.breaker.padEnd(11)}${(p.failing ? '500' : '200').padEnd(9)}` +
      `${count(p.ok).padStart(7)}${count(p.failed5xx).padStart(7)}${count(p.refused).padStart(9)}`;
    lines.push(p.breaker === 'closed' ? row : paint.yellow(row));
  }
  if (counts.firstError !== undefined) lines.push(paint.red(`  first error: ${counts.firstError}`.slice(0, 78)));
  return lines;
}

/** The phase's lines in the summary: one per part that was reached. */
export function resilienceSummary(report: ResilienceReport): string[] {
  const lines = [partSummaryLine('resilience', 'kill', report.kill, killResult)];
  if (report.breaker) lines.push(partSummaryLine('resilience', 'breaker', report.breaker, breakerResult));
  return lines;
}


/** `ratings-3 25.0% → 0.0%, ejected 3 ms after the kill, 0 failed of 12,345 requests` */
function killResult(report: KillReport): string {
  const { counts, victim } = report;
  const share = (period: Readonly<Record<string, number>> | undefined): string => (period === undefined ? '-' : percent(periodShare(period, victim.id)));
  const of = `${counts.failed} failed of ${count(counts.requests + counts.failed)} requests`;
  if (victim.killedAt === undefined) return `${victim.id} ${share(counts.periods[0])}, not killed yet, ${of}`;
  if (victim.ejectedAt === undefined) return `${victim.id} ${share(counts.periods[0])}, killed, not ejected, ${of}`;
  const after = `${Math.round((victim.ejectedAt - victim.killedAt) * 1000)} ms after the kill`;
  return `${victim.id} ${share(counts.periods[0])} → ${share(counts.periods[2])}, ejected ${after}, ${of}`;
}

/** `open → half-open → close, 1,234 refused at once, 5,678 sent (2,000 answered 500)` */
function breakerResult(report: BreakerReport): string {
  const { counts } = report;
  const events = report.events.length > 0 ? report.events.join(' → ') : 'never opened';
  return `${events}, ${count(counts.refused)} refused at once, ${count(counts.ok + counts.failed5xx)} sent (${count(counts.failed5xx)} answered 500)`;
}
