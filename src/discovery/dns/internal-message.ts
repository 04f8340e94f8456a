import { isIP } from 'node:net';
import type { Answer, DecodedPacket, OptAnswer } from 'dns-packet';
import type { DnsRecordType } from './types.js';

/** One SRV record, its target's addresses attached when the reply's additional section had them. */
export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** Lower case, no trailing dot; `.` means "no service here" (RFC 2782). */
  readonly target: string;
  /** Addresses of the target from the additional section, or undefined when it had none. */
  readonly addresses: readonly string[] | undefined;
}

/** The SOA fields RFC 2308 negative caching needs, in seconds. */
export interface SoaTimes {
  readonly ttl: number;
  readonly minimum: number;
}

/** What a NOERROR or NXDOMAIN reply says about one name and type. */
export type Interpretation =
  | { readonly kind: 'addresses'; readonly addresses: readonly string[]; readonly ttl: number }
  | { readonly kind: 'srv'; readonly records: readonly SrvRecord[]; readonly ttl: number }
  | { readonly kind: 'nxdomain' | 'nodata'; readonly soa: SoaTimes | undefined }
  /** The name is an alias whose target the reply did not resolve: ask for `target`. */
  | { readonly kind: 'cname'; readonly target: string; readonly ttl: number };

/** Lower case, no trailing dot: how names are compared (DNS names are case-insensitive). */
export function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

const MAX_CHAIN = 8;

/** A resource record (every answer type but EDNS's OPT pseudo-record). */
type DnsRecord = Exclude<Answer, OptAnswer>;

function records(section: readonly Answer[] | undefined): DnsRecord[] {
  return (section ?? []).filter((a): a is DnsRecord => a.type !== 'OPT');
}

/** The DNS response code of a decoded reply (dns-packet decodes it, its types omit it). */
export function rcodeOf(packet: DecodedPacket): string {
  return (packet as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR';
}

/**
 * Reads a NOERROR/NXDOMAIN reply to `qtype qname`: follows CNAMEs inside the answer,
 * keeps the records of the type owned by the end of the chain (A/AAAA that are valid
 * addresses of their family; SRV with a port), takes the smallest TTL along the way, and
 * for SRV attaches target addresses found in the additional section (for the address
 * families in `family`; their TTLs count too). A negative reply carries the SOA times
 * of its authority section, for RFC 2308 caching.
 */
export function interpretReply(packet: DecodedPacket, qname: string, qtype: DnsRecordType, family: 0 | 4 | 6): Interpretation {
  const answers = records(packet.answers);
  let owner = normaliseName(qname);
  let ttl = Infinity;
  let aliased = false;
  for (let hop = 0; hop < MAX_CHAIN; hop++) {
    const cname = answers.find((a) => a.type === 'CNAME' && normaliseName(a.name) === owner);
    if (!cname || typeof cname.data !== 'string') break;
    ttl = Math.min(ttl, cname.ttl ?? 0);
    owner = normaliseName(cname.data);
    aliased = true;
  }
  const soa = soaOf(packet);
  if (rcodeOf(packet) === 'NXDOMAIN') return { kind: 'nxdomain', soa };
  const own = answers.filter((a) => a.type === qtype && normaliseName(a.name) === owner);
  if (qtype === 'SRV') {
    const additional = additionalAddresses(packet, family);
    const records: SrvRecord[] = [];
    for (const answer of own) {
      if (answer.type !== 'SRV') continue;
      const { port, priority = 0, weight = 0, target } = answer.data;
      if (!Number.isInteger(port) || port < 1 || port > 65535 || typeof target !== 'string') continue;
      const name = normaliseName(target);
      const extra = additional.get(name);
      ttl = Math.min(ttl, answer.ttl ?? 0, extra?.ttl ?? Infinity);
      records.push({ priority, weight, port, target: name || '.', addresses: extra?.addresses });
    }
    if (records.length > 0) return { kind: 'srv', records, ttl };
  } else {
    const version = qtype === 'A' ? 4 : 6;
    const addresses: string[] = [];
    for (const answer of own) {
      if (typeof answer.data !== 'string' || isIP(answer.data) !== version) continue;
      ttl = Math.min(ttl, answer.ttl ?? 0);
      if (!addresses.includes(answer.data)) addresses.push(answer.data);
    }
    if (addresses.length > 0) return { kind: 'addresses', addresses, ttl };
  }
  if (aliased && soa === undefined) return { kind: 'cname', target: owner, ttl };
  return { kind: 'nodata', soa };
}

function soaOf(packet: DecodedPacket): SoaTimes | undefined {
  for (const record of records(packet.authorities)) {
    if (record.type === 'SOA' && typeof record.data === 'object' && record.data !== null) {
      const minimum = (record.data as { minimum?: number }).minimum;
      if (typeof minimum === 'number') return { ttl: record.ttl ?? 0, minimum };
    }
  }
  return undefined;
}

function additionalAddresses(packet: DecodedPacket, family: 0 | 4 | 6): Map<string, { addresses: string[]; ttl: number }> {
  const out = new Map<string, { addresses: string[]; ttl: number }>();
  const add = (record: DnsRecord, version: 4 | 6): void => {
    if (typeof record.data !== 'string' || isIP(record.data) !== version) return;
    const name = normaliseName(record.name);
    const entry = out.get(name) ?? { addresses: [], ttl: Infinity };
    if (!entry.addresses.includes(record.data)) entry.addresses.push(record.data);
    entry.ttl = Math.min(entry.ttl, record.ttl ?? 0);
    out.set(name, entry);
  };
  for (const record of records(packet.additionals)) {
    if (record.type === 'A' && family !== 6) add(record, 4);
    else if (record.type === 'AAAA' && family !== 4) add(record, 6);
  }
  return out;
}
