import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import type { AccessLogEntry } from 'proxyless';
import { AccessLog, clusterName, isErrorEntry } from 'proxyless/telemetry';

const entry = (over: Partial<AccessLogEntry> = {}): AccessLogEntry => ({
  start_time: '2026-12-02T10:00:00.000Z',
  method: 'GET',
  path: '/api/reviews/1',
  protocol: 'HTTP/1.1',
  response_code: 200,
  response_flags: '-',
  bytes_received: 0,
  bytes_sent: 42,
  duration: 12,
  upstream_host: '10.0.0.5:9080',
  upstream_cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local',
  authority: 'reviews:9080',
  route_name: 'reviews.0',
  user_agent: 'undici',
  request_id: null,
  attempts: 1,
  trace_id: '0af7651916cd43dd8448eb211c80319c',
  direction: 'outbound',
  ...over,
});

/** A logger that keeps what it is given. */
function memoryLogger() {
  const lines: Array<{ obj: AccessLogEntry; msg: string | undefined }> = [];
  return { lines, info: (obj: object, msg?: string) => void lines.push({ obj: obj as AccessLogEntry, msg }) };
}

afterEach(() => vi.restoreAllMocks());

describe('AccessLog', () => {
  it('writes through a real pino logger: one JSON object per entry with the Envoy field names', async () => {
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString());
        done();
      },
    });
    const log = new AccessLog({ logger: pino({ base: undefined, timestamp: false }, destination) });
    log.write(entry());
    await new Promise((resolve) => setImmediate(resolve));
    expect(chunks).toHaveLength(1);
    const line = JSON.parse(chunks[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: 'access', method: 'GET', path: '/api/reviews/1', response_code: 200, response_flags: '-', upstream_host: '10.0.0.5:9080', direction: 'outbound' });
    expect(line.request_id).toBeNull();
  });

  it('writes one JSON line on stdout when no logger is given', () => {
    const writes: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    new AccessLog().write(entry({ path: '/x' }));
    vi.restoreAllMocks();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(writes[0]!)).toMatchObject({ path: '/x', method: 'GET' });
  });

  it("filter 'errors' keeps entries with no response, a status of 400 or more, or a flag", () => {
    const logger = memoryLogger();
    const log = new AccessLog({ logger, filter: 'errors' });
    for (const e of [entry(), entry({ response_code: 399 }), entry({ response_code: 404 }), entry({ response_code: 0, response_flags: 'DC' }), entry({ response_flags: 'DI' })]) log.write(e);
    expect(logger.lines.map((l) => [l.obj.response_code, l.obj.response_flags])).toEqual([
      [404, '-'],
      [0, 'DC'],
      [200, 'DI'],
    ]);
    expect(isErrorEntry({ response_code: 503, response_flags: '-' })).toBe(true);
  });

  it('a filter function chooses entries; only `true` writes', () => {
    const logger = memoryLogger();
    const log = new AccessLog({ logger, filter: (e) => (e.path === '/keep' ? true : (1 as unknown as boolean)) });
    log.write(entry({ path: '/keep' }));
    log.write(entry({ path: '/drop' }));
    expect(logger.lines.map((l) => l.obj.path)).toEqual(['/keep']);
  });

  it('samples with the given fraction (decided before an entry is built)', () => {
    const values = [0.05, 0.5, 0.09, 0.99];
    const log = new AccessLog({ sampling: 0.1 }, () => values.shift()!);
    expect([log.sample(), log.sample(), log.sample(), log.sample()]).toEqual([true, false, true, false]);
    expect(new AccessLog({ sampling: 0 }, () => 0).sample()).toBe(false);
    expect(new AccessLog({ sampling: 1 }, () => 0.999).sample()).toBe(true);
  });

  it('bounds every text field: a hostile path or header cannot make a line of any size', () => {
    const logger = memoryLogger();
    const huge = 'a'.repeat(1_000_000);
    new AccessLog({ logger, maxPathLength: 64 }).write(
      entry({ path: `/${huge}`, method: huge, authority: huge, user_agent: huge, request_id: huge, route_name: huge, upstream_cluster: huge, upstream_host: huge, trace_id: huge }),
    );
    const written = logger.lines[0]!.obj;
    expect(written.path).toHaveLength(64);
    expect(written.path.endsWith('...')).toBe(true);
    expect(JSON.stringify(written).length).toBeLessThan(64 + 32 + 6 * 256 + 600);
  });

  it('a throwing logger never reaches the request: the entry is dropped and one warning says why', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const log = new AccessLog({ logger: { info: () => { throw new Error('disk full'); } } });
    expect(() => {
      log.write(entry());
      log.write(entry());
    }).not.toThrow();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/disk full/);
    expect(warn.mock.calls[0]![1]).toMatchObject({ code: 'PROXYLESS_W_ACCESS_LOG' });
  });

  it('a throwing filter and an unprintable error are handled the same way', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const unprintable = { toString: () => { throw new Error('nope'); } };
    const log = new AccessLog({ logger: memoryLogger(), filter: () => { throw unprintable; } });
    expect(() => log.write(entry())).not.toThrow();
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('an async logger that rejects is reported, not left as an unhandled rejection', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const log = new AccessLog({ logger: { info: () => Promise.reject(new Error('remote sink down')) } });
    log.write(entry());
    await new Promise((resolve) => setImmediate(resolve));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/remote sink down/);
  });

  it('inbound entries carry the caller address; outbound ones do not', () => {
    const logger = memoryLogger();
    const log = new AccessLog({ logger });
    log.write(entry({ direction: 'inbound', downstream_remote_address: '10.0.0.9:51234' }));
    log.write(entry({ downstream_remote_address: '10.0.0.9:51234' }));
    expect(logger.lines[0]!.obj.downstream_remote_address).toBe('10.0.0.9:51234');
    expect('downstream_remote_address' in logger.lines[1]!.obj).toBe(false);
  });
});

describe('clusterName', () => {
  it("spells Istio's cluster names", () => {
    expect(clusterName('outbound', 9080, 'v1', 'reviews.default.svc.cluster.local')).toBe('outbound|9080|v1|reviews.default.svc.cluster.local');
    expect(clusterName('outbound', 80, undefined, 'reviews.default.svc.cluster.local')).toBe('outbound|80||reviews.default.svc.cluster.local');
    expect(clusterName('outbound', 443, undefined, undefined)).toBe('PassthroughCluster');
    expect(clusterName('inbound', 8080, undefined, undefined)).toBe('inbound|8080||');
  });
});
