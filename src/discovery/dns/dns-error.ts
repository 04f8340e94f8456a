import { ProxylessError } from '../../core/errors/index.js';
import type { DnsFailureReason, DnsRecordType } from './types.js';

/** One server's part in a failed query: which server and what went wrong there. */
export interface DnsAttemptFailure {
  /** The server, `address:port` (IPv6 in brackets). */
  readonly server: string;
  /** What went wrong. */
  readonly reason: DnsFailureReason;
  /** Details in words, e.g. `no reply within 1000 ms (ignored 1 reply with a wrong id)`. */
  readonly detail: string;
}

/**
 * A DNS query of the {@link dns} source failed on every server and attempt, or a name
 * could not be queried. It reaches `error` listeners of the source (and the mesh's
 * `discoveryError` event) and `state().lastError`; it is never thrown into a request. The
 * source keeps serving the last answer for the name while it may (see
 * {@link DnsOptions.maxStale}).
 */
export class DnsError extends ProxylessError {
  /** The name queried, e.g. `_http._tcp.reviews.bookinfo.svc.cluster.local`. */
  readonly query: string;
  /** The record type queried. */
  readonly recordType: DnsRecordType;
  /** Why the last attempt failed (see {@link DnsError.attempts} for each). */
  readonly reason: DnsFailureReason;
  /** Each failed attempt, in order. Empty when no server was asked (`invalid-name`). */
  readonly attempts: readonly DnsAttemptFailure[];

  /**
   * @param source the source's name, e.g. `dns(127.0.0.1:5353)`
   * @param query the name queried
   * @param recordType the type queried
   * @param attempts each failed attempt (at least one, unless `reason` says why none was made)
   * @param reason why it failed, when not the last attempt's reason (`invalid-name`, `cname-loop`)
   * @param detail what happened, in words, when there is no attempt to describe it
   */
  constructor(
    source: string,
    query: string,
    recordType: DnsRecordType,
    attempts: readonly DnsAttemptFailure[],
    reason?: DnsFailureReason,
    detail?: string,
  ) {
    const last = attempts[attempts.length - 1];
    const finalReason: DnsFailureReason = reason ?? last?.reason ?? 'timeout';
    const what = detail ?? summarise(attempts);
    const server = last?.server;
    const hint =
      server === undefined
        ? ''
        : ` Check that the server runs and serves this name ` +
          `(dig @${hostOf(server)} -p ${portOf(server)} ${recordType} ${query}), or raise the ` +
          `dns() options timeout/attempts.`;
    super('PROXYLESS_ERR_DNS', `${source}: ${recordType} ${query}: ${what}.${hint}`);
    this.query = query;
    this.recordType = recordType;
    this.reason = finalReason;
    this.attempts = attempts;
  }
}

/** `SERVFAIL from a; no reply from b within 1000 ms` with repeats folded: `(2 times)`. */
function summarise(attempts: readonly DnsAttemptFailure[]): string {
  const parts: string[] = [];
  const counts = new Map<string, number>();
  for (const attempt of attempts) {
    const text = `${attempt.detail} (${attempt.server})`;
    if (!counts.has(text)) parts.push(text);
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  return parts.map((p) => (counts.get(p)! > 1 ? `${p} ×${counts.get(p)}` : p)).join('; ') || 'failed';
}

function hostOf(server: string): string {
  return server.startsWith('[') ? server.slice(1, server.indexOf(']')) : server.slice(0, server.lastIndexOf(':'));
}

function portOf(server: string): string {
  return server.slice(server.lastIndexOf(':') + 1);
}
