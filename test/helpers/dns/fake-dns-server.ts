import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import * as packet from 'dns-packet';

/**
 * A small DNS server of ours (dns-packet over UDP and TCP on one 127.0.0.1 port) for
 * what a real server will not do on demand: truncate, SERVFAIL, stay silent, send
 * malformed packets, reply with a wrong id or from another port. For ordinary answers
 * the tests use dnsmasq and BIND (see `dnsmasq.ts`, `bind.ts`).
 */

/** What the server does with a query for a name (and type, when given). */
export type Behaviour =
  /** Answer from the zone (the default). */
  | 'answer'
  | 'servfail'
  | 'refused'
  /** No reply at all. */
  | 'drop'
  /** Over UDP, a reply with the TC bit and no records (over TCP, the answer). */
  | 'truncate'
  /** Garbage bytes carrying the query's id, from the right address; nothing else. */
  | 'malformed'
  /** Garbage first, then the real answer. */
  | 'malformed-then-answer'
  /** A well-formed answer with a wrong id; nothing else. */
  | 'wrong-id'
  /** A wrong-id answer first, then the real one. */
  | 'wrong-id-then-answer'
  /** The answer sent from another UDP port; nothing from the right one. */
  | 'wrong-source'
  /** An answer from another port first, then the real one. */
  | 'wrong-source-then-answer';

/** A record as dns-packet writes it (name, type, ttl, data). */
export type FakeRecord = Exclude<packet.Answer, packet.OptAnswer>;

/** One query the server received. */
export interface SeenQuery {
  readonly name: string;
  readonly type: string;
  readonly transport: 'udp' | 'tcp';
  /** `Date.now()` on arrival. */
  readonly at: number;
}

interface Rule {
  readonly name: string;
  readonly type: string | undefined;
  readonly behaviour: Behaviour;
  /** Applies this many more times (Infinity: until changed). */
  remaining: number;
  readonly delayMs: number;
}

/** Options of {@link FakeDnsServer.start}. */
export interface FakeDnsServerOptions {
  /**
   * SOA sent with negative answers (NXDOMAIN, NODATA) in the authority section, with
   * its TTL and MINIMUM in seconds; `null` for none. Default `{ ttl: 1, minimum: 1 }`.
   */
  soa?: { ttl: number; minimum: number } | null;
  /** Put the A/AAAA records of SRV targets known to the zone in the additional section. Default true. */
  additional?: boolean;
}

/** The fake server; see the file comment. */
export class FakeDnsServer {
  /** UDP and TCP port on 127.0.0.1. */
  readonly port: number;
  /** Every query received, oldest first. */
  readonly queries: SeenQuery[] = [];
  /** SOA for negative answers (see {@link FakeDnsServerOptions.soa}); changeable. */
  soa: { ttl: number; minimum: number } | null;
  /** Whether SRV answers carry target addresses; changeable. */
  additional: boolean;
  readonly #udp: UdpSocket;
  readonly #spoofer: UdpSocket;
  readonly #tcp: Server;
  readonly #tcpSockets = new Set<Socket>();
  readonly #zone = new Map<string, FakeRecord[]>();
  #rules: Rule[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #queryWaiters = new Set<() => void>();

  private constructor(udp: UdpSocket, spoofer: UdpSocket, tcp: Server, port: number, options: FakeDnsServerOptions) {
    this.#udp = udp;
    this.#spoofer = spoofer;
    this.#tcp = tcp;
    this.port = port;
    this.soa = options.soa === undefined ? { ttl: 1, minimum: 1 } : options.soa;
    this.additional = options.additional ?? true;
    udp.on('message', (message, rinfo) => this.#onUdp(message, rinfo));
    tcp.on('connection', (socket) => this.#onTcp(socket));
  }

  /** Starts a server on a free port of 127.0.0.1 (UDP and TCP on the same number). */
  static async start(options: FakeDnsServerOptions = {}): Promise<FakeDnsServer> {
    for (let tries = 0; ; tries++) {
      const udp = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(0, '127.0.0.1', () => resolve());
      });
      const port = udp.address().port;
      const tcp = createServer();
      const ok = await new Promise<boolean>((resolve) => {
        tcp.once('error', () => resolve(false));
        tcp.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (!ok) {
        udp.close();
        if (tries > 20) throw new Error('FakeDnsServer: no free port for both UDP and TCP');
        continue;
      }
      const spoofer = createSocket('udp4');
      await new Promise<void>((resolve) => spoofer.bind(0, '127.0.0.1', () => resolve()));
      return new FakeDnsServer(udp, spoofer, tcp, port, options);
    }
  }

  /** `127.0.0.1:<port>`, as the `servers` option takes it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Replaces the records of `name` of the types present in `records` (others stay). */
  set(name: string, records: readonly Omit<FakeRecord, 'name'>[]): void {
    const key = name.toLowerCase();
    const types = new Set(records.map((r) => r.type));
    const kept = (this.#zone.get(key) ?? []).filter((r) => !types.has(r.type));
    this.#zone.set(key, [...kept, ...records.map((r) => ({ ...r, name: key }) as FakeRecord)]);
  }

  /** Removes `name` (every type): it is NXDOMAIN from now on. */
  delete(name: string): void {
    this.#zone.delete(name.toLowerCase());
  }

  /**
   * Makes queries for `name` (and `type`, if given) behave differently: `times` queries
   * (default: until changed), each after `delayMs`. Later rules win over earlier ones.
   */
  behave(name: string, behaviour: Behaviour, options: { type?: string; times?: number; delayMs?: number } = {}): void {
    this.#rules = this.#rules.filter((r) => !(r.name === name.toLowerCase() && r.type === options.type));
    this.#rules.push({ name: name.toLowerCase(), type: options.type, behaviour, remaining: options.times ?? Infinity, delayMs: options.delayMs ?? 0 });
  }

  /** Forgets every behaviour rule: plain answers again. */
  reset(): void {
    this.#rules = [];
  }

  /**
   * Resolves once `count(name, type, transport)` reaches `n` (at once if it has): tests
   * wait for a query to arrive instead of sleeping until it "must" have.
   */
  whenCount(n: number, name: string, type?: string, transport?: 'udp' | 'tcp'): Promise<void> {
    if (this.count(name, type, transport) >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = (): void => {
        if (this.count(name, type, transport) < n) return;
        this.#queryWaiters.delete(waiter);
        resolve();
      };
      this.#queryWaiters.add(waiter);
    });
  }

  #received(query: SeenQuery): void {
    this.queries.push(query);
    for (const waiter of [...this.#queryWaiters]) waiter();
  }

  /** Queries received for `name` (optionally of `type`, over `transport`). */
  count(name: string, type?: string, transport?: 'udp' | 'tcp'): number {
    const n = name.toLowerCase();
    return this.queries.filter((q) => q.name === n && (type === undefined || q.type === type) && (transport === undefined || q.transport === transport)).length;
  }

  /** Stops both listeners and every timer. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const socket of this.#tcpSockets) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.#udp.close(() => resolve())),
      new Promise<void>((resolve) => this.#spoofer.close(() => resolve())),
      new Promise<void>((resolve) => this.#tcp.close(() => resolve())),
    ]);
  }

  #rule(name: string, type: string): Rule | undefined {
    for (let i = this.#rules.length - 1; i >= 0; i--) {
      const rule = this.#rules[i]!;
      if ((rule.name === name || rule.name === '*') && (rule.type === undefined || rule.type === type) && rule.remaining > 0) {
        rule.remaining--;
        return rule;
      }
    }
    return undefined;
  }

  #later(delayMs: number, run: () => void): void {
    if (delayMs <= 0) return run();
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, delayMs);
    this.#timers.add(timer);
  }

  #onUdp(message: Buffer, rinfo: RemoteInfo): void {
    let query: packet.DecodedPacket;
    try {
      query = packet.decode(message);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    this.#received({ name, type: question.type, transport: 'udp', at: Date.now() });
    const rule = this.#rule(name, question.type);
    const behaviour = rule?.behaviour ?? 'answer';
    const send = (socket: UdpSocket, buffer: Buffer): void => {
      try {
        socket.send(buffer, rinfo.port, rinfo.address);
      } catch {
        // closed meanwhile
      }
    };
    this.#later(rule?.delayMs ?? 0, () => {
      const reply = this.#reply(query, behaviour);
      if (reply === undefined) return;
      let bytes = packet.encode(reply);
      const opt = query.additionals?.find((a) => a.type === 'OPT') as packet.OptAnswer | undefined;
      const limit = opt ? Math.max(512, opt.udpPayloadSize) : 512;
      if (behaviour === 'truncate' || bytes.length > limit) {
        bytes = packet.encode({ ...reply, flags: (reply.flags ?? 0) | packet.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: [] });
      }
      const garbage = (): Buffer => Buffer.concat([bytes.subarray(0, 2), Buffer.from([0x81, 0x80, 0xff, 0xff, 0x00, 0x01, 0xde, 0xad])]);
      const wrongId = (): Buffer => {
        const copy = Buffer.from(bytes);
        copy.writeUInt16BE((copy.readUInt16BE(0) + 1) & 0xffff, 0);
        return copy;
      };
      switch (behaviour) {
        case 'malformed':
          return send(this.#udp, garbage());
        case 'malformed-then-answer':
          send(this.#udp, garbage());
          return this.#later(20, () => send(this.#udp, bytes));
        case 'wrong-id':
          return send(this.#udp, wrongId());
        case 'wrong-id-then-answer':
          send(this.#udp, wrongId());
          return this.#later(20, () => send(this.#udp, bytes));
        case 'wrong-source':
          return send(this.#spoofer, bytes);
        case 'wrong-source-then-answer':
          send(this.#spoofer, bytes);
          return this.#later(20, () => send(this.#udp, bytes));
        default:
          return send(this.#udp, bytes);
      }
    });
  }

  #onTcp(socket: Socket): void {
    this.#tcpSockets.add(socket);
    socket.on('close', () => this.#tcpSockets.delete(socket));
    socket.on('error', () => {});
    let buffer: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2) {
        const length = buffer.readUInt16BE(0);
        if (buffer.length < 2 + length) return;
        const frame = buffer.subarray(2, 2 + length);
        buffer = buffer.subarray(2 + length);
        let query: packet.DecodedPacket;
        try {
          query = packet.decode(frame);
        } catch {
          socket.destroy();
          return;
        }
        const question = query.questions?.[0];
        if (!question) continue;
        const name = question.name.toLowerCase();
        this.#received({ name, type: question.type, transport: 'tcp', at: Date.now() });
        const rule = this.#rule(name, question.type);
        const behaviour = rule?.behaviour ?? 'answer';
        this.#later(rule?.delayMs ?? 0, () => {
          const reply = this.#reply(query, behaviour === 'truncate' ? 'answer' : behaviour);
          if (reply === undefined || socket.destroyed) return;
          if (behaviour === 'malformed' || behaviour === 'malformed-then-answer') {
            socket.write(Buffer.from([0x00, 0x04, 0xde, 0xad, 0xbe, 0xef]));
            if (behaviour === 'malformed') return;
          }
          socket.write(packet.streamEncode(reply));
        });
      }
    });
  }

  /** The reply to `query` under `behaviour`, or undefined for none. */
  #reply(query: packet.DecodedPacket, behaviour: Behaviour): packet.Packet | undefined {
    const question = query.questions![0]!;
    const base: packet.Packet = {
      type: 'response',
      id: query.id ?? 0,
      flags: packet.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & packet.RECURSION_DESIRED),
      questions: [question],
      answers: [],
      authorities: [],
      additionals: [],
    };
    if (behaviour === 'drop') return undefined;
    if (behaviour === 'servfail') return { ...base, flags: (base.flags ?? 0) | 2 };
    if (behaviour === 'refused') return { ...base, flags: (base.flags ?? 0) | 5 };
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const records = this.#zone.get(name);
    const soa = (): FakeRecord[] =>
      this.soa === null
        ? []
        : [
            {
              type: 'SOA',
              name: 'test',
              ttl: this.soa.ttl,
              data: { mname: 'ns.test', rname: 'admin.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: this.soa.minimum },
            },
          ];
    if (!records) return { ...base, flags: (base.flags ?? 0) | 3, authorities: soa() };
    const answers = records.filter((r) => r.type === question.type);
    if (answers.length === 0) return { ...base, authorities: soa() };
    const additionals: FakeRecord[] = [];
    if (question.type === 'SRV' && this.additional) {
      const targets = new Set(answers.map((a) => (a.type === 'SRV' ? a.data.target.toLowerCase() : '')));
      for (const target of targets) {
        for (const record of this.#zone.get(target) ?? []) {
          if (record.type === 'A' || record.type === 'AAAA') additionals.push(record);
        }
      }
    }
    return { ...base, answers, additionals };
  }
}
