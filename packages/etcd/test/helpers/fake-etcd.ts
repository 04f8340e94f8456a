import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue } from 'etcd3';

/**
 * An in-memory stand-in for the parts of the etcd3 client this package uses (range
 * reads, watches, leases), so the decision logic (resync, backoff, skipping bad values,
 * re-registering) can be tested step by step with fake timers. The real behaviour against
 * etcd is covered by etcd-cluster.test.ts.
 */
export class FakeEtcd {
  readonly store = new Map<string, IKeyValue>();
  revision = 1;
  /** Reads to fail before answering again. */
  failReads = 0;
  reads = 0;
  readonly watchers: FakeWatcher[] = [];
  readonly leases: FakeLease[] = [];
  /** Lease grants (puts under a new lease) to fail before succeeding again. */
  failGrants = 0;
  /** When true, new watches never report 'connected' (a wedged watch stream). */
  holdWatches = false;
  closed = false;

  /** The object to pass as `client`. */
  get client(): Etcd3 {
    return this as unknown as Etcd3;
  }

  getAll() {
    return { prefix: (prefix: string) => ({ exec: () => this.#read((key) => key.startsWith(prefix)) }) };
  }

  get(key: string) {
    return { exec: () => this.#read((k) => k === key) };
  }

  watch() {
    let match: (key: string) => boolean = () => false;
    let from = 0n;
    const builder = {
      prefix: (p: string) => ((match = (key) => key.startsWith(p)), builder),
      key: (k: string) => ((match = (key) => key === k), builder),
      startRevision: (r: string) => ((from = BigInt(r)), builder),
      watcher: () => {
        const watcher = new FakeWatcher(match, from, this);
        this.watchers.push(watcher);
        if (!this.holdWatches) queueMicrotask(() => watcher.emit('connected', { header: { revision: String(this.revision) } }));
        return watcher;
      },
    };
    return builder;
  }

  /** Writes a key (as another client would) and tells the live watchers. */
  put(key: string, value: string, lease = '0'): IKeyValue {
    this.revision++;
    const kv = { key: Buffer.from(key), value: Buffer.from(value), mod_revision: String(this.revision), create_revision: String(this.revision), version: '1', lease } as IKeyValue;
    this.store.set(key, kv);
    for (const w of this.live()) if (w.match(key)) w.emit('put', kv);
    return kv;
  }

  /** Deletes a key and tells the live watchers. */
  delete(key: string): void {
    if (!this.store.delete(key)) return;
    this.revision++;
    const kv = { key: Buffer.from(key), value: Buffer.alloc(0), mod_revision: String(this.revision) } as IKeyValue;
    for (const w of this.live()) if (w.match(key)) w.emit('delete', kv);
  }

  /** Watchers not cancelled. */
  live(): FakeWatcher[] {
    return this.watchers.filter((w) => !w.cancelled);
  }

  lease(ttl: number): FakeLease {
    const lease = new FakeLease(this, ttl, this.failGrants > 0);
    if (this.failGrants > 0) this.failGrants--;
    this.leases.push(lease);
    return lease;
  }

  close(): void {
    this.closed = true;
  }

  async #read(match: (key: string) => boolean) {
    this.reads++;
    await Promise.resolve();
    if (this.failReads > 0) {
      this.failReads--;
      throw new Error('14 UNAVAILABLE: No connection established');
    }
    return {
      header: { revision: String(this.revision) },
      kvs: [...this.store.values()].filter((kv) => match(kv.key.toString())),
    };
  }
}

/** A watch as the etcd3 client's Watcher emits it: put, delete, disconnected, error. */
export class FakeWatcher extends EventEmitter {
  cancelled = false;
  constructor(
    readonly match: (key: string) => boolean,
    readonly from: bigint,
    readonly owner: FakeEtcd,
  ) {
    super();
  }

  cancel(): Promise<void> {
    this.cancelled = true;
    return Promise.resolve();
  }
}

/** A lease: grants (or fails), holds keys, can be lost or revoked. */
export class FakeLease extends EventEmitter {
  revoked = false;
  readonly keys = new Set<string>();
  readonly id: string;

  constructor(
    readonly owner: FakeEtcd,
    readonly ttl: number,
    readonly fails: boolean,
  ) {
    super();
    this.id = String(owner.leases.length + 1);
    if (fails) queueMicrotask(() => this.emit('lost', new Error('14 UNAVAILABLE: No connection established')));
  }

  put(key: string) {
    return {
      value: (value: string) => ({
        exec: async () => {
          await Promise.resolve();
          if (this.fails) throw new Error('14 UNAVAILABLE: No connection established');
          if (this.revoked) throw new Error('etcdserver: requested lease not found');
          this.keys.add(key);
          return this.owner.put(key, value, this.id);
        },
      }),
    };
  }

  /** What etcd does when the lease expires: its keys go, and the client hears "lost". */
  expire(): void {
    for (const key of this.keys) if (this.owner.store.get(key)?.lease === this.id) this.owner.delete(key);
    this.emit('lost', new Error('etcdserver: requested lease not found'));
  }

  async revoke(): Promise<void> {
    this.revoked = true;
    for (const key of this.keys) if (this.owner.store.get(key)?.lease === this.id) this.owner.delete(key);
  }
}
