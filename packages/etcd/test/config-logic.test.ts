import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidConfigError, SourceClosedError } from 'proxyless';
import { etcdConfig, EtcdUnavailableError, type EtcdConfigSource } from '../src/index.js';
import { FakeEtcd } from './helpers/fake-etcd.js';

const rule = (name: string) => `kind: DestinationRule\nmetadata: { name: ${name} }\nspec: { host: ${name} }\n`;

describe('etcdConfig (decision logic, fake etcd)', () => {
  let etcd: FakeEtcd;
  let config: EtcdConfigSource;
  let errors: Error[];
  let deliveries: (readonly unknown[])[];
  beforeEach(() => {
    vi.useFakeTimers();
    etcd = new FakeEtcd();
    errors = [];
    deliveries = [];
  });
  afterEach(async () => {
    await config?.close();
    vi.useRealTimers();
  });
  const start = async () => {
    config = etcdConfig({ client: etcd.client, key: '/mesh/config' });
    config.on('error', (e) => errors.push(e));
    config.watch((r) => deliveries.push(r));
    await vi.advanceTimersByTimeAsync(0);
  };

  it('an absent key is an empty config, and ready', async () => {
    await start();
    await config.ready();
    expect(deliveries).toEqual([[]]);
  });

  it('unparsable text at start: ready() stays pending, the error names etcd:<key>:line:column; a good value then delivers', async () => {
    etcd.put('/mesh/config', 'a: b\n  c: [d\n');
    await start();
    let ready = false;
    void config.ready().then(() => (ready = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(ready).toBe(false);
    expect(deliveries).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(InvalidConfigError);
    expect((errors[0] as InvalidConfigError).problems[0]).toMatch(/^etcd:\/mesh\/config:\d+:\d+: document 1: /);
    expect(config.lastError).toBe(errors[0]);
    etcd.put('/mesh/config', rule('reviews'));
    await vi.advanceTimersByTimeAsync(0);
    expect(ready).toBe(true);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject([{ kind: 'DestinationRule', spec: { host: 'reviews' } }]);
  });

  it('a resync that finds the same revision delivers nothing and reports no parse error again', async () => {
    etcd.put('/mesh/config', rule('reviews'));
    await start();
    etcd.live()[0]!.emit('disconnected', new Error('gone'));
    await vi.advanceTimersByTimeAsync(0);
    expect(deliveries).toHaveLength(1);
    expect(errors.map((e) => e.constructor)).toEqual([EtcdUnavailableError]);
    expect(errors[0]!.message).toBe(
      'etcd(/mesh/config): lost the watch on /mesh/config from etcd (the given etcd3 client): gone; keeping the last good config; reading again in 0 ms',
    );
    etcd.put('/mesh/config', '[');
    etcd.live()[0]!.emit('disconnected', new Error('gone'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(errors.filter((e) => e instanceof InvalidConfigError)).toHaveLength(1);
    expect(deliveries).toHaveLength(1);
  });

  it('a listener that throws does not stop the others; its error is reported', async () => {
    etcd.put('/mesh/config', rule('reviews'));
    config = etcdConfig({ client: etcd.client, key: '/mesh/config' });
    config.on('error', (e) => errors.push(e));
    config.watch(() => {
      throw new Error('listener bug');
    });
    const other: unknown[] = [];
    config.watch((r) => other.push(r));
    await vi.advanceTimersByTimeAsync(0);
    expect(other).toHaveLength(1);
    expect(errors.map((e) => e.message)).toEqual(['listener bug']);
  });

  it('an emptied value keeps the last good config; the empty list or a deleted key removes it', async () => {
    etcd.put('/mesh/config', rule('reviews'));
    await start();
    for (const emptied of ['', '# rendered nothing\n', '---\n']) {
      etcd.put('/mesh/config', emptied);
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(deliveries).toHaveLength(1);
    expect(errors.map((e) => e.message)).toEqual(
      Array(3).fill(
        'invalid mesh config:\n  etcd:/mesh/config: the value has no resources, where the config in force has 1; keeping it. ' +
          "To remove every resource on purpose, write Kubernetes' empty list (apiVersion: v1, kind: List, items: []) or delete the key",
      ),
    );
    etcd.put('/mesh/config', 'apiVersion: v1\nkind: List\nitems: []\n');
    await vi.advanceTimersByTimeAsync(0);
    expect(deliveries.at(-1)).toEqual([]);
    etcd.put('/mesh/config', rule('reviews'));
    await vi.advanceTimersByTimeAsync(0);
    etcd.delete('/mesh/config');
    await vi.advanceTimersByTimeAsync(0);
    expect(deliveries.map((d) => d.length)).toEqual([1, 0, 1, 0]);
  });

  it('a closed source says so: watch() throws and a pending ready() rejects with SourceClosedError', async () => {
    etcd.put('/mesh/config', '[');
    await start();
    const pending = config.ready();
    await config.close();
    await expect(pending).rejects.toBeInstanceOf(SourceClosedError);
    await expect(config.ready()).rejects.toThrow('source etcd(/mesh/config) is closed, so it cannot become ready');
    expect(() => config.watch(() => {})).toThrow(SourceClosedError);
  });

  it('watch().close() stops deliveries to that listener; close() stops the source', async () => {
    await start();
    const mine: unknown[] = [];
    const w = config.watch((r) => mine.push(r));
    expect(mine).toEqual([[]]); // loaded already: delivered at once
    w.close();
    etcd.put('/mesh/config', rule('a'));
    expect(mine).toHaveLength(1);
    expect(deliveries).toHaveLength(2);
    await config.close();
    etcd.put('/mesh/config', rule('b'));
    expect(deliveries).toHaveLength(2);
  });
});
