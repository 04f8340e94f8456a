import { randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, type Socket as TcpSocket } from 'node:net';
import * as packet from 'dns-packet';
import type { DnsAttemptFailure } from './dns-error.js';
import type { DnsServer } from './internal-options.js';
import { normaliseName, rcodeOf } from './internal-message.js';
import type { DnsFailureReason, DnsRecordType } from './types.js';

/** A query's outcome: a NOERROR/NXDOMAIN reply from one server, or every attempt's failure. */
export type QueryResult =
  | { readonly ok: true; readonly packet: packet.DecodedPacket; readonly server: DnsServer }
  | { readonly ok: false; readonly attempts: readonly DnsAttemptFailure[] };

/** Sends DNS queries. Never rejects: failures are results. */
export interface DnsTransport {
  /** Asks for `type` records of `name`. */
  query(name: string, type: DnsRecordType): Promise<QueryResult>;
  /** Closes every socket; queries in flight end as failures. */
  close(): Promise<void>;
}

/** Settings of {@link DnsClient}. */
export interface DnsClientOptions {
  readonly servers: readonly DnsServer[];
  /** Per attempt, ms. */
  readonly timeout: number;
  /** Rounds over the servers. */
  readonly attempts: number;
  /** Most queries in flight at once (the rest wait their turn). Default 64. */
  readonly maxInFlight?: number;
}

/** The UDP payload size we advertise with EDNS(0): the DNS Flag Day 2020 value, safe from fragmentation. */
const EDNS_UDP_SIZE = 1232;

type AttemptOutcome =
  | { readonly kind: 'reply'; readonly packet: packet.DecodedPacket }
  | { readonly kind: 'truncated' }
  | { readonly kind: 'failed'; readonly reason: DnsFailureReason; readonly detail: string };

/** Replies that arrived for an attempt and were not taken, by why. */
interface Ignored {
  wrongId: number;
  wrongSource: number;
  malformed: number;
  otherQuestion: number;
}

interface PendingUdp {
  readonly server: DnsServer;
  readonly name: string;
  readonly type: DnsRecordType;
  readonly ignored: Ignored;
  readonly finish: (outcome: AttemptOutcome) => void;
}

/**
 * DNS over UDP with TCP fallback, on the wire with dns-packet.
 *
 * - One UDP socket per address family (created on first use, unreferenced so it does not
 *   keep the process alive), queries told apart by random 16-bit ids; each query also
 *   gets its own question checked on the reply.
 * - A reply is taken only if its id matches a query in flight, it comes from that
 *   query's server address and port, it decodes, it is a response, and it answers the
 *   question asked. Anything else is ignored and the query keeps waiting until its
 *   timeout (a spoofed or stray packet cannot end a query early, nor fail it); the
 *   failure then says what was ignored.
 * - A reply with the TC bit is asked again over TCP (length-prefixed, one connection per
 *   query, same checks).
 * - A query tries each server in turn, `attempts` rounds, starting with the server that
 *   answered last; NOERROR and NXDOMAIN are answers, SERVFAIL, REFUSED, other codes,
 *   timeouts and socket errors move on to the next server.
 */
export class DnsClient implements DnsTransport {
  readonly #servers: readonly DnsServer[];
  readonly #timeout: number;
  readonly #attempts: number;
  readonly #maxInFlight: number;
  readonly #udp = new Map<4 | 6, { socket: UdpSocket; pending: Map<number, PendingUdp> }>();
  readonly #tcp = new Set<TcpSocket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #finishers = new Set<(outcome: AttemptOutcome) => void>();
  #queue: Array<() => void> = [];
  #inFlight = 0;
  #preferred = 0;
  #closed = false;

  /** @param options servers, timeout and attempts (validated by the caller) */
  constructor(options: DnsClientOptions) {
    this.#servers = options.servers;
    this.#timeout = options.timeout;
    this.#attempts = options.attempts;
    this.#maxInFlight = options.maxInFlight ?? 64;
  }

  /** See {@link DnsTransport.query}. */
  async query(name: string, type: DnsRecordType): Promise<QueryResult> {
    await this.#acquire();
    try {
      const failures: DnsAttemptFailure[] = [];
      const count = this.#servers.length;
      const first = this.#preferred;
      for (let round = 0; round < this.#attempts; round++) {
        for (let i = 0; i < count; i++) {
          if (this.#closed) return { ok: false, attempts: [...failures, closedFailure(this.#servers[0]!)] };
          const index = (first + i) % count;
          const server = this.#servers[index]!;
          let outcome = await this.#udpAttempt(server, name, type);
          if (outcome.kind === 'truncated') outcome = await this.#tcpAttempt(server, name, type);
          if (outcome.kind === 'reply') {
            this.#preferred = index;
            return { ok: true, packet: outcome.packet, server };
          }
          if (outcome.kind === 'failed') failures.push({ server: server.label, reason: outcome.reason, detail: outcome.detail });
        }
      }
      return { ok: false, attempts: failures };
    } finally {
      this.#release();
    }
  }

  /** See {@link DnsTransport.close}. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const finish of [...this.#finishers]) finish({ kind: 'failed', reason: 'network', detail: 'the source was closed' });
    for (const socket of this.#tcp) socket.destroy();
    this.#tcp.clear();
    const closing = [...this.#udp.values()].map(
      ({ socket }) => new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve();
        }
      }),
    );
    this.#udp.clear();
    const queue = this.#queue;
    this.#queue = [];
    for (const wake of queue) wake();
    await Promise.all(closing);
  }

  #acquire(): Promise<void> {
    if (this.#inFlight < this.#maxInFlight || this.#closed) {
      this.#inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#queue.push(() => {
        this.#inFlight++;
        resolve();
      }),
    );
  }

  #release(): void {
    this.#inFlight--;
    this.#queue.shift()?.();
  }

  /** Runs one attempt with a timeout; `finish` may be called once, later calls are ignored. */
  #attempt(start: (finish: (outcome: AttemptOutcome) => void, ignored: Ignored) => () => void): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      const ignored: Ignored = { wrongId: 0, wrongSource: 0, malformed: 0, otherQuestion: 0 };
      let done = false;
      let cleanup: () => void = () => {};
      const finish = (outcome: AttemptOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#timers.delete(timer);
        this.#finishers.delete(finish);
        cleanup();
        resolve(outcome);
      };
      const timer = setTimeout(
        () => finish({ kind: 'failed', reason: 'timeout', detail: `no reply within ${this.#timeout} ms${describeIgnored(ignored)}` }),
        this.#timeout,
      );
      this.#timers.add(timer);
      this.#finishers.add(finish);
      try {
        cleanup = start(finish, ignored);
      } catch (error) {
        finish({ kind: 'failed', reason: 'network', detail: `could not send: ${(error as Error).message}` });
      }
    });
  }

  #udpAttempt(server: DnsServer, name: string, type: DnsRecordType): Promise<AttemptOutcome> {
    return this.#attempt((finish, ignored) => {
      const udp = this.#udpSocket(server.family);
      let id = randomInt(0, 65536);
      while (udp.pending.has(id)) id = (id + 1) & 0xffff;
      udp.pending.set(id, { server, name, type, ignored, finish });
      const cleanup = (): void => void udp.pending.delete(id);
      try {
        udp.socket.send(encodeQuery(id, name, type, true), server.port, server.address, (error) => {
          if (error) finish({ kind: 'failed', reason: 'network', detail: `could not send: ${error.message}` });
        });
      } catch (error) {
        cleanup();
        throw error;
      }
      return cleanup;
    });
  }

  #tcpAttempt(server: DnsServer, name: string, type: DnsRecordType): Promise<AttemptOutcome> {
    return this.#attempt((finish, ignored) => {
      const id = randomInt(0, 65536);
      const socket = createConnection({ host: server.address, port: server.port, family: server.family });
      this.#tcp.add(socket);
      socket.setNoDelay(true);
      let buffer: Buffer = Buffer.alloc(0);
      socket.on('connect', () => {
        socket.write(packet.streamEncode(encodeQueryPacket(id, name, type, false)));
      });
      socket.on('data', (chunk: Buffer) => {
        buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
        while (buffer.length >= 2) {
          const length = buffer.readUInt16BE(0);
          if (buffer.length < 2 + length) break;
          const frame = buffer.subarray(2, 2 + length);
          buffer = buffer.subarray(2 + length);
          const outcome = checkReply(frame, id, name, type, ignored, true);
          if (outcome) return finish(outcome);
        }
      });
      socket.on('error', (error: NodeJS.ErrnoException) =>
        finish({ kind: 'failed', reason: 'network', detail: `TCP: ${error.code ?? error.message}` }),
      );
      socket.on('close', () =>
        finish({ kind: 'failed', reason: 'network', detail: `TCP: connection closed before a reply${describeIgnored(ignored)}` }),
      );
      return () => {
        this.#tcp.delete(socket);
        socket.destroy();
      };
    });
  }

  #udpSocket(family: 4 | 6): { socket: UdpSocket; pending: Map<number, PendingUdp> } {
    const existing = this.#udp.get(family);
    if (existing) return existing;
    const socket = createSocket(family === 4 ? 'udp4' : 'udp6');
    const pending = new Map<number, PendingUdp>();
    const entry = { socket, pending };
    socket.on('message', (message, rinfo) => this.#onUdpMessage(pending, message, rinfo));
    socket.on('error', (error) => {
      // A socket-level error (rare with unconnected UDP): fail what is in flight, start afresh.
      if (this.#udp.get(family) === entry) this.#udp.delete(family);
      for (const p of [...pending.values()]) p.finish({ kind: 'failed', reason: 'network', detail: `UDP: ${error.message}` });
      try {
        socket.close();
      } catch {
        // already closed
      }
    });
    socket.unref();
    this.#udp.set(family, entry);
    return entry;
  }

  #onUdpMessage(pending: Map<number, PendingUdp>, message: Buffer, rinfo: RemoteInfo): void {
    if (message.length < 2) return;
    const query = pending.get(message.readUInt16BE(0));
    if (!query) {
      // Not ours (a late reply to a timed-out query, or a guess): note it on the queries
      // waiting for that server, so their timeout says why nothing was taken.
      for (const p of pending.values()) {
        if (p.server.address === rinfo.address && p.server.port === rinfo.port) p.ignored.wrongId++;
      }
      return;
    }
    if (rinfo.address !== query.server.address || rinfo.port !== query.server.port) {
      query.ignored.wrongSource++;
      return;
    }
    const outcome = checkReply(message, message.readUInt16BE(0), query.name, query.type, query.ignored, false);
    if (outcome) query.finish(outcome);
  }
}

/**
 * Checks a reply against the query (`id`, question) and turns it into an outcome, or
 * returns undefined (counted in `ignored`) when it is not a valid reply to this query.
 */
function checkReply(
  message: Buffer,
  id: number,
  name: string,
  type: DnsRecordType,
  ignored: Ignored,
  overTcp: boolean,
): AttemptOutcome | undefined {
  let reply: packet.DecodedPacket;
  try {
    reply = packet.decode(message);
  } catch {
    ignored.malformed++;
    return undefined;
  }
  if (reply.id !== id) {
    ignored.wrongId++;
    return undefined;
  }
  const question = reply.questions?.[0];
  if (
    reply.type !== 'response' ||
    reply.questions?.length !== 1 ||
    !question ||
    question.type !== type ||
    normaliseName(question.name) !== normaliseName(name)
  ) {
    ignored.otherQuestion++;
    return undefined;
  }
  if (reply.flag_tc && !overTcp) return { kind: 'truncated' };
  const rcode = rcodeOf(reply);
  if (rcode === 'NOERROR' || rcode === 'NXDOMAIN') return { kind: 'reply', packet: reply };
  const known: readonly string[] = ['SERVFAIL', 'REFUSED', 'NOTIMP', 'FORMERR'];
  return {
    kind: 'failed',
    reason: known.includes(rcode) ? (rcode as DnsFailureReason) : 'rcode',
    detail: `${rcode}${overTcp ? ' over TCP' : ''}`,
  };
}

function describeIgnored(ignored: Ignored): string {
  const parts: string[] = [];
  const say = (n: number, what: string): void => {
    if (n > 0) parts.push(`${n} ${what}`);
  };
  say(ignored.wrongId, `repl${ignored.wrongId === 1 ? 'y' : 'ies'} with a wrong id`);
  say(ignored.wrongSource, `repl${ignored.wrongSource === 1 ? 'y' : 'ies'} from another address or port`);
  say(ignored.malformed, `malformed repl${ignored.malformed === 1 ? 'y' : 'ies'}`);
  say(ignored.otherQuestion, `repl${ignored.otherQuestion === 1 ? 'y' : 'ies'} to another question`);
  return parts.length > 0 ? ` (ignored ${parts.join(', ')})` : '';
}

function closedFailure(server: DnsServer): DnsAttemptFailure {
  return { server: server.label, reason: 'network', detail: 'the source was closed' };
}

function encodeQueryPacket(id: number, name: string, type: DnsRecordType, edns: boolean): packet.Packet {
  return {
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: edns
      ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [],
  };
}

function encodeQuery(id: number, name: string, type: DnsRecordType, edns: boolean): Buffer {
  return packet.encode(encodeQueryPacket(id, name, type, edns));
}
