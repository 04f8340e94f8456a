// Text tables for the discovery phase: the DNS part (per replica: SRV weight, the weight
// the mesh gave it, the share it served) and the etcd part (per registered replica: its
// share before its registration was closed and after the mesh dropped it), plus their
// lines in the summary.
import type { DiscoveryReport, DnsReport, EtcdReport } from './discovery-phase.js';
import { partSummaryLine } from './phase-parts.js';
import { bar, count, painter, percent, PERIOD_CELL_WIDTH, periodCell, periodShare, periodTotal, stateOf, type Style } from './table.js';

const BAR = 8;

/** The lines of the DNS part's table. */
export function renderDns(report: DnsReport, style: Style): string[] {
  const paint = painter(style.color);
  const { counts } = report;
  const total = report.rows.reduce((sum, r) => sum + r.srvWeight, 0);
  const lines = [
    `${paint.bold('discovery: DNS SRV')}  →  ${paint.bold(report.service)} (${report.balancer})  ${paint.dim(`[${stateOf(counts)}]`)}`,
    header(counts, paint),
    paint.dim(
      `  ${'replica'.padEnd(9)}${'port'.padEnd(7)}${'SRV weight'.padStart(10)}${'in mesh'.padStart(9)}${'expected'.padStart(10)}` +
        `  ${'share'.padEnd(BAR + 7)}${'requests'.padStart(9)}`,
    ),
  ];
  const served = counts.periods[0]!;
  for (const row of report.rows) {
    const requests = served[row.replica.id] ?? 0;
    const share = counts.requests > 0 ? requests / counts.requests : 0;
    lines.push(
      `  ${row.replica.id.padEnd(9)}${String(row.replica.port).padEnd(7)}${String(row.srvWeight).padStart(10)}` +
        `${String(row.meshWeight ?? '-').padStart(9)}${percent(row.srvWeight / total).padStart(10)}` +
        `  ${bar(share, BAR).padEnd(BAR + 1)}${percent(share).padStart(6)}${count(requests).padStart(9)}`,
    );
  }
  if (report.source) {
    const s = report.source;
    lines.push(
      paint.dim(`  mesh.sources(): ${s.name} · ready: ${s.ready} · ${s.queries} queries, ${s.failures} failed · ${s.endpoints} endpoints`),
    );
  }
  if (counts.firstError !== undefined) lines.push(paint.red(`  first error: ${counts.firstError}`.slice(0, 78)));
  return lines;
}

/** The lines of the etcd part's table. */
export function renderEtcd(report: EtcdReport, style: Style): string[] {
  const paint = painter(style.color);
  const { counts, leaving } = report;
  const [before = {}, between, after] = counts.periods;
  const cell = periodCell;
  const width = PERIOD_CELL_WIDTH;
  const lines = [
    `${paint.bold('discovery: etcd')}  →  ${paint.bold(report.service)} (${report.balancer})  ${paint.dim(`[${stateOf(counts)}]`)}`,
    header(counts, paint),
    paint.dim(`  ${'replica'.padEnd(9)}${'labels'.padEnd(12)}${'before close()'.padEnd(width)}  ${'after the drop'}`),
  ];
  for (const row of report.rows) {
    const labels = Object.entries(row.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const line = `  ${row.replica.id.padEnd(9)}${labels.padEnd(12)}${cell(before, row.replica.id).padEnd(width)}  ${cell(after, row.replica.id)}`;
    if (row.replica.id !== leaving.id) lines.push(line.trimEnd());
    else lines.push(`${line.padEnd(2 + 9 + 12 + width + 2 + width)}  ◀ ${leaving.closedAt === undefined ? 'deregisters halfway' : 'deregistered'}`);
  }
  if (between !== undefined && leaving.id !== undefined) {
    const window = leaving.closedAt !== undefined && leaving.droppedAt !== undefined ? ` (${Math.round((leaving.droppedAt - leaving.closedAt) * 1000)} ms)` : '';
    lines.push(
      paint.dim(`  sent between close() and the drop${window}: ${count(periodTotal(between))} requests, ${count(between[leaving.id] ?? 0)} to ${leaving.id}`),
    );
  }
  if (report.source) {
    const s = report.source;
    lines.push(paint.dim(`  mesh.sources(): ${s.name} · ready: ${s.ready} · ${s.services} service · ${s.endpoints} endpoints`));
  }
  if (counts.firstError !== undefined) lines.push(paint.red(`  first error: ${counts.firstError}`.slice(0, 78)));
  return lines;
}

function header(counts: DnsReport['counts'], paint: ReturnType<typeof painter>): string {
  const failed = `${counts.failed} failed`;
  return `  ${count(counts.requests)} requests · ${count(counts.requestsPerSecond)} req/s · ${counts.failed > 0 ? paint.red(failed) : failed}`;
}

/** A part's result followed by its request counts. */
function withCounts<T extends DnsReport | EtcdReport>(result: (report: T) => string): (report: T) => string {
  return (report) => `${result(report)}, ${report.counts.failed} failed of ${count(report.counts.requests + report.counts.failed)} requests`;
}

/** The phase's lines in the summary: one per part that was reached. */
export function discoverySummary(report: DiscoveryReport): string[] {
  const lines = [partSummaryLine('discovery', 'DNS SRV', report.dns, withCounts(dnsResult))];
  if (report.etcd) lines.push(partSummaryLine('discovery', 'etcd', report.etcd, withCounts(etcdResult)));
  return lines;
}


/** `weights 1:2:3 → 16.7% · 33.3% · 50.0%` */
function dnsResult(report: DnsReport): string {
  const served = report.counts.periods[0]!;
  const total = report.counts.requests;
  const shares = report.rows.map((r) => percent(total > 0 ? (served[r.replica.id] ?? 0) / total : 0));
  return `weights ${report.rows.map((r) => r.srvWeight).join(':')} → ${shares.join(' · ')}`;
}

/** `fast-3 33.3% → 0.0% after deregistering` */
function etcdResult(report: EtcdReport): string {
  const { id } = report.leaving;
  if (id === undefined) return 'no replica deregistered (only one)';
  const share = (period: Readonly<Record<string, number>> | undefined): string => (period === undefined ? '-' : percent(periodShare(period, id)));
  if (report.leaving.droppedAt === undefined) return `${id} ${share(report.counts.periods[0])}, not yet deregistered`;
  return `${id} ${share(report.counts.periods[0])} → ${share(report.counts.periods[2])} after deregistering`;
}
