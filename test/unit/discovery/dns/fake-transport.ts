import * as packet from 'dns-packet';
import type { DnsTransport, QueryResult } from '../../../../src/discovery/dns/internal-client.js';
import type { DnsServer } from '../../../../src/discovery/dns/internal-options.js';
import type { DnsFailureReason, DnsRecordType } from '../../../../src/discovery/dns/types.js';

/** A record as dns-packet writes it. */
export type Rec = Exclude<packet.Answer, packet.OptAnswer>;

/** What the fake transport answers for one name and type. */
export type FakeAnswer =
  | { records: Rec[]; additionals?: Rec[] }
  | { rcode: 'NXDOMAIN' | 'NOERROR'; soa?: { ttl: number; minimum: number } }
  | { fail: DnsFailureReason };

const SERVER: DnsServer = { address: '127.0.0.1', port: 53, family: 4, label: '127.0.0.1:53' };

/** Round-trips a reply through dns-packet, so the source reads what the wire would carry. */
export function reply(name: string, type: DnsRecordType, answer: Exclude<FakeAnswer, { fail: DnsFailureReason }>): packet.DecodedPacket {
  const rcode = 'rcode' in answer && answer.rcode === 'NXDOMAIN' ? 3 : 0;
  const authorities: Rec[] =
    'soa' in answer && answer.soa
      ? [{ type: 'SOA', name: 'test', ttl: answer.soa.ttl, data: { mname: 'ns.test', rname: 'a.test', minimum: answer.soa.minimum } }]
      : [];
  return packet.decode(
    packet.encode({
      type: 'response',
      id: 1,
      flags: rcode,
      questions: [{ type, name }],
      answers: 'records' in answer ? answer.records : [],
      authorities,
      additionals: 'records' in answer ? (answer.additionals ?? []) : [],
    }),
  );
}

/**
 * A transport the test scripts: `zone` maps `TYPE name` to an answer (or a function of
 * the query count), unknown keys are NXDOMAIN without SOA. Every query is logged.
 */
export class FakeTransport implements DnsTransport {
  readonly zone = new Map<string, FakeAnswer>();
  readonly log: string[] = [];
  closed = false;
  /** Answers are held until `release()` when set: all (`true`) or those of some `TYPE name` keys. */
  hold: boolean | Set<string> = false;
  #held: Array<() => void> = [];

  set(type: DnsRecordType, name: string, answer: FakeAnswer): void {
    this.zone.set(`${type} ${name}`, answer);
  }

  count(type: DnsRecordType, name: string): number {
    return this.log.filter((l) => l === `${type} ${name}`).length;
  }

  release(): void {
    const held = this.#held;
    this.#held = [];
    for (const go of held) go();
  }

  query(name: string, type: DnsRecordType): Promise<QueryResult> {
    this.log.push(`${type} ${name}`);
    const answer = this.zone.get(`${type} ${name}`) ?? { rcode: 'NXDOMAIN' };
    const result: QueryResult =
      'fail' in answer
        ? { ok: false, attempts: [{ server: SERVER.label, reason: answer.fail, detail: answer.fail === 'timeout' ? 'no reply within 1000 ms' : answer.fail }] }
        : { ok: true, packet: reply(name, type, answer), server: SERVER };
    const held = this.hold === true || (this.hold instanceof Set && this.hold.has(`${type} ${name}`));
    if (!held) return Promise.resolve(result);
    return new Promise((resolve) => this.#held.push(() => resolve(result)));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** `{ type: 'A', name, ttl, data }` */
export const a = (name: string, address: string, ttl = 30): Rec => ({ type: 'A', name, ttl, data: address });
/** `{ type: 'AAAA', name, ttl, data }` */
export const aaaa = (name: string, address: string, ttl = 30): Rec => ({ type: 'AAAA', name, ttl, data: address });
/** An SRV record. */
export const srv = (name: string, target: string, port: number, priority = 10, weight = 1, ttl = 30): Rec => ({
  type: 'SRV',
  name,
  ttl,
  data: { target, port, priority, weight },
});
