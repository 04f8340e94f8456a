import type { IKeyValue } from 'etcd3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RangeWatch, retryDelay, type RangeWatchHandlers } from '../src/internal-range-watch.js';
import { FakeEtcd } from './helpers/fake-etcd.js';

function recorder() {
  const calls: string[] = [];
  const handlers: RangeWatchHandlers = {
    snapshot: (kvs, revision) => calls.push(`snapshot@${revision}:${kvs.map((kv) => kv.key.toString()).join(',')}`),
    put: (kv: IKeyValue) => calls.push(`put:${kv.key.toString()}`),
    delete: (kv: IKeyValue) => calls.push(`delete:${kv.key.toString()}`),
    trouble: (error, retryInMs, what) => calls.push(`trouble:${what}:${retryInMs}`),
  };
  return { calls, handlers };
}

describe('retryDelay', () => {
  it('doubles from the initial delay, caps at the maximum, and jitters between half and all of it', () => {
    const max = (attempt: number) => retryDelay(attempt, 200, 3000, () => 1);
    const min = (attempt: number) => retryDelay(attempt, 200, 3000, () => 0);
    expect([0, 1, 2, 3, 4, 5, 50].map(max)).toEqual([200, 400, 800, 1600, 3000, 3000, 3000]);
    expect([0, 1, 2, 3, 4, 5, 50].map(min)).toEqual([100, 200, 400, 800, 1500, 1500, 1500]);
  });
});

describe('RangeWatch (decision logic, fake etcd, fake timers)', () => {
  let etcd: FakeEtcd;
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(1); // retry delays at their ceiling
    etcd = new FakeEtcd();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('reads the range, then watches from the next revision; changes arrive in order', async () => {
    etcd.put('/s/a/1', 'x');
    etcd.put('/other', 'y');
    const { calls, handlers } = recorder();
    const watch = new RangeWatch({ client: etcd.client, prefix: '/s/', handlers });
    watch.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['snapshot@3:/s/a/1']);
    expect(etcd.live()).toHaveLength(1);
    expect(etcd.live()[0]!.from).toBe(4n);
    etcd.put('/s/a/2', 'z');
    etcd.delete('/s/a/1');
    expect(calls.slice(1)).toEqual(['put:/s/a/2', 'delete:/s/a/1']);
    await watch.close();
    expect(etcd.live()).toHaveLength(0);
  });

  it('a lost watch (disconnected) leads to a fresh read at once and a new watch from its revision', async () => {
    const { calls, handlers } = recorder();
    const watch = new RangeWatch({ client: etcd.client, prefix: '/s/', handlers });
    watch.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = etcd.live()[0]!;
    first.emit('disconnected', new Error('14 UNAVAILABLE: Connection dropped'));
    expect(first.cancelled).toBe(true);
    // Written while the watch was down: the fresh read has it.
    etcd.put('/s/b/1', 'v');
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['snapshot@1:', 'trouble:watch:0', 'snapshot@2:/s/b/1']);
    expect(etcd.live()).toHaveLength(1);
    expect(etcd.live()[0]!.from).toBe(3n);
    // Late events of the abandoned watcher are ignored.
    first.emit('put', { key: Buffer.from('/s/zombie'), value: Buffer.from('1'), mod_revision: '9' });
    expect(calls).not.toContain('put:/s/zombie');
    await watch.close();
  });

  it('a cancelled watch (compacted revision) leads to a full resync', async () => {
    const { calls, handlers } = recorder();
    const watch = new RangeWatch({ client: etcd.client, key: '/cfg', handlers });
    watch.start();
    await vi.advanceTimersByTimeAsync(0);
    etcd.live()[0]!.emit('error', new Error('Watcher canceled: etcdserver: mvcc: required revision has been compacted'));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['snapshot@1:', 'trouble:watch:0', 'snapshot@1:']);
    await watch.close();
  });

  it('failed reads are retried with growing delays, capped; success resets the delay', async () => {
    etcd.failReads = 6;
    const { calls, handlers } = recorder();
    const watch = new RangeWatch({ client: etcd.client, prefix: '/s/', handlers });
    watch.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['trouble:read:200']);
    await vi.advanceTimersByTimeAsync(199);
    expect(etcd.reads).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(etcd.reads).toBe(2);
    await vi.advanceTimersByTimeAsync(400 + 800 + 1600 + 3000 + 3000);
    expect(calls).toEqual([
      'trouble:read:200',
      'trouble:read:400',
      'trouble:read:800',
      'trouble:read:1600',
      'trouble:read:3000',
      'trouble:read:3000',
      'snapshot@1:',
    ]);
    // After a success, the next loss starts over: at once, then 200 ms.
    etcd.live()[0]!.emit('disconnected', new Error('gone'));
    etcd.failReads = 1;
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.slice(7)).toEqual(['trouble:watch:0', 'trouble:read:400']);
    await vi.advanceTimersByTimeAsync(400);
    expect(calls.at(-1)).toBe('snapshot@1:');
    await watch.close();
  });

  it('a watch that is never established is abandoned after 10 s and the view rebuilt', async () => {
    etcd.holdWatches = true;
    const { calls, handlers } = recorder();
    const watch = new RangeWatch({ client: etcd.client, prefix: '/s/', handlers });
    watch.start();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(calls).toEqual(['snapshot@1:']);
    etcd.holdWatches = false;
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['snapshot@1:', 'trouble:watch:0']);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['snapshot@1:', 'trouble:watch:0', 'snapshot@1:']);
    expect(etcd.watchers[0]!.cancelled).toBe(true);
    // An established watch is left alone.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(3);
    await watch.close();
  });

  it('close() stops retries and ignores a read that answers afterwards', async () => {
    etcd.failReads = 1;
    const { calls, handlers } = recorder();
    const watch = new RangeWatch({ client: etcd.client, prefix: '/s/', handlers });
    watch.start();
    await vi.advanceTimersByTimeAsync(0);
    await watch.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual(['trouble:read:200']);
    expect(etcd.reads).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a handler that throws becomes a process warning, not a crash, and the watch goes on', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const seen: string[] = [];
      const watch = new RangeWatch({
        client: etcd.client,
        prefix: '/s/',
        handlers: {
          snapshot: () => undefined,
          put: (kv) => {
            if (kv.value.toString() === 'boom') throw new Error('handler bug');
            seen.push(kv.key.toString());
          },
          delete: () => undefined,
          trouble: () => undefined,
        },
      });
      watch.start();
      await vi.advanceTimersByTimeAsync(0);
      etcd.put('/s/a/1', 'boom');
      etcd.put('/s/a/2', 'ok');
      await vi.advanceTimersByTimeAsync(0);
      await new Promise((resolve) => process.nextTick(resolve));
      expect(seen).toEqual(['/s/a/2']);
      expect(warnings.map((w) => w.message).join('\n')).toContain('a watch handler threw (the watch goes on): Error: handler bug');
      await watch.close();
    } finally {
      process.off('warning', onWarning);
    }
  });
});
