import { parseArgs } from 'node:util';
import type { DashboardFrame } from '../admin/frame.js';
import { AdminClientError, adminTarget, readFrame } from './admin-client.js';
import type { CliOutput } from './check.js';

/** A number for a table cell: `-` when unknown. */
function num(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '-';
  return value.toFixed(digits).replace(/\.0+$/, '');
}

/** Pads columns to their widest cell. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** The endpoint's state in a word: `ejected (reason, 12s left)`, `unhealthy`, `draining`, `ok`. */
function endpointState(e: DashboardFrame['services'][number]['endpoints'][number]): string {
  if (e.outlier?.ejected) return `ejected (${e.outlier.reason ?? '?'}, ${Math.ceil(e.outlier.timeLeftMs / 1000)}s left)`;
  if (e.activeHealth && !e.activeHealth.healthy) return 'unhealthy';
  return e.available ? 'ok' : 'unavailable';
}

/**
 * A frame as text: totals, one line per service (rate, errors, latency, in flight,
 * endpoints, ejections, circuit) and, with `endpoints`, the endpoints each frame carries
 * (the unavailable and busiest first).
 */
export function formatFrame(frame: DashboardFrame, options: { endpoints: boolean; width?: number }): string[] {
  const t = frame.totals;
  const lines = [`${t.services} services, ${t.endpoints} endpoints (${t.available} available, ${t.ejected} ejected), ${t.inFlight} in flight, ${num(t.rate)} req/s`, ''];
  const rows: string[][] = [['SERVICE', 'STATUS', 'RPS', 'ERR/S', 'P50 MS', 'P99 MS', 'IN FLIGHT', 'ENDPOINTS', 'EJECTED', 'CIRCUIT']];
  for (const s of frame.services) {
    rows.push([s.key, s.status, num(s.rate), num(s.errorRate), num(s.p50Ms, 2), num(s.p99Ms, 2), String(s.inFlight), `${s.counts.available}/${s.counts.endpoints}`, String(s.counts.ejected), s.circuit?.state ?? '-']);
  }
  lines.push(...table(rows));
  if (frame.moreServices > 0) lines.push(`... and ${frame.moreServices} more services (see /clusters)`);
  if (options.endpoints) {
    const eps: string[][] = [['SERVICE', 'ENDPOINT', 'STATE', 'SHARE', 'RPS', 'PENDING', 'EWMA MS', 'REQUESTS', 'FAILURES']];
    for (const s of frame.services) {
      for (const e of s.endpoints) eps.push([s.key, e.key, endpointState(e), `${Math.round(e.shareLastMinute * 100)}%`, num(e.rate), String(e.pending), num(e.peakEwmaMs, 2), String(e.requests), String(e.failures)]);
      if (s.counts.endpoints > s.endpoints.length) eps.push([s.key, `... ${s.counts.endpoints - s.endpoints.length} more`, '', '', '', '', '', '', '']);
    }
    lines.push('', ...table(eps));
  }
  const recent = frame.events.slice(-5);
  if (recent.length > 0) lines.push('', 'RECENT EVENTS', ...recent.map((e) => `${new Date(e.at).toISOString().slice(11, 19)}  ${e.message}`));
  if (options.width !== undefined) return lines.map((l) => (l.length > options.width! ? l.slice(0, options.width! - 1) + '…' : l));
  return lines;
}

/** `proxyless status --admin URL [--json] [--token T]`: one snapshot of a running mesh. */
export async function status(args: readonly string[], io: CliOutput, usage: string): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { admin: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' } } });
  } catch (error) {
    io.err(`status: ${(error as Error).message}\n${usage}`);
    return 2;
  }
  const target = adminTarget(parsed.values.admin, parsed.values.token);
  if (typeof target === 'string') {
    io.err(`status: ${target}`);
    return 2;
  }
  try {
    const frame = await readFrame(target);
    if (parsed.values.json) io.out(JSON.stringify(frame, null, 2));
    else io.out(formatFrame(frame, { endpoints: true }).join('\n'));
    return 0;
  } catch (error) {
    if (error instanceof AdminClientError) {
      io.err(`status: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
