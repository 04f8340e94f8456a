// The access log of outbound calls (per call and per try, sampling, the errors filter,
// a pino logger) and the proxyless:* diagnostics channels, with no OpenTelemetry SDK
// registered: both work without one. Real servers on 127.0.0.1.
import { describe, expect, it } from 'vitest';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Writable } from 'node:stream';
import pino from 'pino';
import { CHANNEL_NAMES, type AccessLogEntry, type Mesh } from 'proxyless';
import type { Backend } from '../../helpers/backends.js';
import { testRig } from '../../helpers/rig.js';

const rig = testRig();

const retrying = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'api' },
  spec: { hosts: ['api'], http: [{ name: 'main', route: [{ destination: { host: 'api' } }], retries: { attempts: 2, retryOn: '5xx' } }] },
};

async function flaky(): Promise<Backend> {
  let n = 0;
  const api = await rig.backend({ id: 'api', handle: (_req, res) => { res.statusCode = n++ % 2 === 0 ? 503 : 200; res.end('hello'); } });
  return api;
}

async function get(mesh: Mesh, url: string, headers?: Record<string, string>): Promise<number> {
  const res = await mesh.fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

describe('access log', () => {
  it('one entry per call through a pino logger: Envoy\'s fields, the retried call\'s two tries', async () => {
    const api = await flaky();
    const lines: string[] = [];
    const logger = pino(new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }));
    const mesh = rig.meshOver({ api: [api] }, { config: [retrying], telemetry: { accessLog: { logger } } });
    expect(await get(mesh, 'http://api/items?x=1', { 'user-agent': 'test-agent', 'x-request-id': 'r-1' })).toBe(200);
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as AccessLogEntry & { msg: string };
    expect(entry).toMatchObject({
      msg: 'access',
      method: 'GET',
      path: '/items?x=1',
      protocol: 'HTTP/1.1',
      response_code: 200,
      response_flags: '-',
      bytes_sent: 5,
      upstream_host: api.address,
      upstream_cluster: 'outbound|80||api.default.svc.cluster.local',
      route_name: 'api.main',
      user_agent: 'test-agent',
      request_id: 'r-1',
      attempts: 2,
      trace_id: null,
      direction: 'outbound',
    });
    expect(Date.parse(entry.start_time)).not.toBeNaN();
  });

  it('bytes_received is the request body\'s length', async () => {
    const api = await rig.backend({ id: 'api' });
    const entries: AccessLogEntry[] = [];
    const mesh = rig.meshOver({ api: [api] }, { telemetry: { accessLog: { logger: { info: (e: object) => void entries.push(e as AccessLogEntry) } } } });
    const res = await mesh.fetch('http://api/', { method: 'POST', body: 'héllo world' });
    await res.arrayBuffer();
    expect(entries.map((e) => [e.method, e.bytes_received, e.bytes_sent])).toEqual([['POST', 12, 3]]);
  });

  it('per try, the errors filter, and sampling 0', async () => {
    const api = await flaky();
    const perTry: AccessLogEntry[] = [];
    const errors: AccessLogEntry[] = [];
    const none: AccessLogEntry[] = [];
    const logTo = (into: AccessLogEntry[]) => ({ info: (entry: object) => void into.push(entry as AccessLogEntry) });
    const make = (accessLog: object) => {
      const mesh = rig.meshOver({ api: [api] }, { config: [retrying], telemetry: { accessLog } });
      return mesh;
    };
    const a = make({ logger: logTo(perTry), per: 'attempt' });
    const b = make({ logger: logTo(errors), filter: 'errors', per: 'attempt' });
    const c = make({ logger: logTo(none), sampling: 0 });
    await get(a, 'http://api/');
    await get(b, 'http://api/');
    await get(c, 'http://api/');
    expect(perTry.map((e) => [e.attempts, e.response_code])).toEqual([[1, 503], [2, 200]]);
    expect(errors.map((e) => e.response_code)).toEqual([503]);
    expect(none).toEqual([]);
  });
});

describe('diagnostics channels', () => {
  it('call, attempt and retry messages; the end message is the start object, completed', async () => {
    const api = await flaky();
    const got: Array<[string, Record<string, unknown>]> = [];
    const names = [CHANNEL_NAMES.callStart, CHANNEL_NAMES.callEnd, CHANNEL_NAMES.attemptStart, CHANNEL_NAMES.attemptEnd, CHANNEL_NAMES.retry];
    const listeners = names.map((name) => [name, (message: unknown) => got.push([name, { ...(message as object) }])] as const);
    const starts: unknown[] = [];
    const ends: unknown[] = [];
    const keepStart = (m: unknown) => starts.push(m);
    const keepEnd = (m: unknown) => ends.push(m);
    for (const [name, fn] of listeners) subscribe(name, fn);
    subscribe(CHANNEL_NAMES.callStart, keepStart);
    subscribe(CHANNEL_NAMES.callEnd, keepEnd);
    try {
      const mesh = rig.meshOver({ api: [api] }, { config: [retrying] });
      expect(await get(mesh, 'http://api/x')).toBe(200);
    } finally {
      for (const [name, fn] of listeners) unsubscribe(name, fn);
      unsubscribe(CHANNEL_NAMES.callStart, keepStart);
      unsubscribe(CHANNEL_NAMES.callEnd, keepEnd);
    }
    expect(got.map(([name, m]) => [name, m.attempt ?? m.method])).toEqual([
      [CHANNEL_NAMES.callStart, 'GET'],
      [CHANNEL_NAMES.attemptStart, 1],
      [CHANNEL_NAMES.retry, 2],
      [CHANNEL_NAMES.attemptEnd, 1],
      [CHANNEL_NAMES.attemptStart, 2],
      [CHANNEL_NAMES.attemptEnd, 2],
      [CHANNEL_NAMES.callEnd, 'GET'],
    ]);
    const end = got.at(-1)![1];
    expect(end).toMatchObject({ direction: 'outbound', path: '/x', service: 'api.default.svc.cluster.local', route: 'api.main', statusCode: 200, attempts: 2, hedged: false, responseFlags: '-' });
    expect(ends[0]).toBe(starts[0]);
    const retry = got.find(([name]) => name === CHANNEL_NAMES.retry)![1];
    expect(retry).toMatchObject({ reason: '503' });
    expect(retry.call).toBe(starts[0]);
  });

  it('circuit breaker transitions and config reloads are published', async () => {
    const api = await rig.backend({ id: 'api', handle: (_req, res) => { res.statusCode = 500; res.end(); } });
    const breakers: unknown[] = [];
    const configs: unknown[] = [];
    const onBreaker = (m: unknown) => breakers.push(m);
    const onConfig = (m: unknown) => configs.push(m);
    subscribe(CHANNEL_NAMES.breaker, onBreaker);
    subscribe(CHANNEL_NAMES.configApplied, onConfig);
    try {
      const mesh = rig.meshOver({ api: [api] }, {
        config: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api', annotations: { 'proxyless.dev/circuit-breaker': JSON.stringify({ volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: '1h' }) } }, spec: { host: 'api' } }],
      });
      const opened = new Promise((resolve) => mesh.once('circuitOpen', resolve));
      for (let i = 0; i < 2; i++) await get(mesh, 'http://api/');
      await opened;
      mesh.applyConfig([retrying]);
    } finally {
      unsubscribe(CHANNEL_NAMES.breaker, onBreaker);
      unsubscribe(CHANNEL_NAMES.configApplied, onConfig);
    }
    expect(breakers).toEqual([{ service: 'api.default.svc.cluster.local:80', state: 'open', previous: 'closed' }]);
    expect(configs).toEqual([expect.objectContaining({ source: 'applyConfig' })]);
  });
});
