import { mkdir, writeFile } from 'node:fs/promises';

/**
 * What a result's target is checked on: the ratio mesh/baseline, the difference
 * mesh − baseline, or the mesh value itself.
 */
export interface Target {
  readonly on: 'ratio' | 'difference' | 'mesh';
  readonly op: '<=' | '>=';
  readonly value: number;
  /** Unit of `value` when it is not a ratio, e.g. `µs`. */
  readonly unit?: string;
}

/** One row of the results table. */
export interface BenchResult {
  /** Benchmark name, e.g. `overhead`. */
  readonly benchmark: string;
  /** What was measured, including the unit and what the baseline is. */
  readonly metric: string;
  readonly unit: string;
  /** The mesh's value. */
  readonly mesh: number;
  /** The baseline's value, measured in the same run. */
  readonly baseline: number;
  /** mesh / baseline (unless the benchmark documents another estimator). */
  readonly ratio: number;
  /** The goal; rows without one are informational. */
  readonly target?: Target;
  /** Whether the target is met; undefined for informational rows. */
  readonly pass?: boolean;
}

/** What one benchmark returns: its rows and notes for the report. */
export interface BenchmarkOutput {
  readonly results: BenchResult[];
  readonly notes: string[];
}

/**
 * Builds a result row, computing the ratio (unless given) and whether the target is met.
 */
export function result(fields: Omit<BenchResult, 'ratio' | 'pass'> & { ratio?: number }): BenchResult {
  const ratio = fields.ratio ?? fields.mesh / fields.baseline;
  const target = fields.target;
  if (target === undefined) return { ...fields, ratio };
  const value = target.on === 'ratio' ? ratio : target.on === 'difference' ? fields.mesh - fields.baseline : fields.mesh;
  const pass = target.op === '<=' ? value <= target.value : value >= target.value;
  return { ...fields, ratio, pass };
}

/** Formats a number with about three significant digits. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

function describeTarget(row: BenchResult): string {
  const t = row.target;
  if (t === undefined) return '—';
  const op = t.op === '<=' ? '≤' : '≥';
  const unit = t.unit ? ` ${t.unit}` : '';
  if (t.on === 'ratio') return `ratio ${op} ${t.value}`;
  if (t.on === 'difference') return `mesh − baseline ${op} ${t.value}${unit}`;
  return `mesh ${op} ${t.value}${unit}`;
}

function describeOutcome(row: BenchResult): string {
  if (row.pass === undefined) return 'info';
  const verdict = row.pass ? 'pass' : '**FAIL**';
  if (row.target?.on === 'difference') {
    const diff = row.mesh - row.baseline;
    return `${verdict} (${diff >= 0 ? '+' : ''}${formatNumber(diff)} ${row.target.unit ?? row.unit})`;
  }
  return verdict;
}

/** The results as a Markdown table: benchmark, metric, mesh, baseline, ratio, target, result. */
export function markdownTable(rows: readonly BenchResult[]): string {
  const lines = [
    '| benchmark | metric | mesh | baseline | ratio | target | result |',
    '|---|---|---:|---:|---:|---|---|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.benchmark} | ${row.metric} | ${formatNumber(row.mesh)} | ${formatNumber(row.baseline)} | ` +
        `${formatNumber(row.ratio)} | ${describeTarget(row)} | ${describeOutcome(row)} |`,
    );
  }
  return lines.join('\n');
}

/** Everything `bench/run.ts` writes. */
export interface BenchReport {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly node: string;
  readonly platform: string;
  readonly cpus: number;
  readonly results: readonly BenchResult[];
  readonly notes: readonly string[];
  /** Benchmarks that crashed, with their error. */
  readonly failures: readonly string[];
}

/** The Markdown document: a heading, the table, notes and crashed benchmarks. */
export function markdownReport(report: BenchReport): string {
  const passed = report.results.filter((r) => r.pass === true).length;
  const failed = report.results.filter((r) => r.pass === false).length;
  const parts = [
    '# proxyless benchmarks',
    '',
    `Run ${report.startedAt}, ${(report.durationMs / 1000).toFixed(0)} s, Node ${report.node}, ` +
      `${report.platform}, ${report.cpus} CPUs. Targets: ${passed} met, ${failed} missed.`,
    '',
    markdownTable(report.results),
  ];
  if (report.failures.length > 0) parts.push('', '## Crashed', '', ...report.failures.map((f) => `- ${f}`));
  if (report.notes.length > 0) parts.push('', '## Notes', '', ...report.notes.map((n) => `- ${n}`));
  return parts.join('\n') + '\n';
}

/** Writes `latest.json` and `latest.md` into `directory` (created if needed). */
export async function writeReport(directory: URL, report: BenchReport): Promise<void> {
  await mkdir(directory, { recursive: true });
  await writeFile(new URL('latest.json', directory), JSON.stringify(report, null, 2) + '\n');
  await writeFile(new URL('latest.md', directory), markdownReport(report));
}
