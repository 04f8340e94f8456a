// examples/trace-context-service as the W3C suite's harness drives it: the service runs as
// a child process; this test is the harness (POST /test, callbacks to its own server).
import { createServer, type IncomingMessage } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listen } from '../helpers/listen.js';
import { root, startExample, type RunningExample } from './run-example.js';

const TRACE = '12345678901234567890123456789012';
const PARENT = '1234567890123456';

describe('examples/trace-context-service', () => {
  let service: RunningExample;
  let endpoint: string;
  const callbacks: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> = [];
  const harness = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      callbacks.push({ path: req.url!, headers: req.headers, body });
      res.end();
    });
  });
  let harnessUrl: string;

  beforeAll(async () => {
    harnessUrl = await listen(harness);
    service = startExample(`${root}examples/trace-context-service/main.ts`, { PORT: '0' });
    await service.waitForOutput(/trace-context service on (\S+)/, 60_000);
    endpoint = /trace-context service on (\S+)/.exec(service.stdout())![1]!;
  }, 90_000);
  afterAll(async () => {
    service?.signalGroup('SIGTERM');
    await service?.exit(20_000).catch(() => service.kill());
    await closeServer(harness);
  });

  async function run(headers: Record<string, string>, count: number): Promise<typeof callbacks> {
    callbacks.length = 0;
    const steps = Array.from({ length: count }, (_, i) => ({ url: `${harnessUrl}/${i}`, arguments: [] }));
    const r = await request(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(steps) });
    expect(r.statusCode).toBe(200);
    await r.body.text();
    return [...callbacks];
  }

  const parse = (value: unknown) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(String(value));

  it('keeps the trace id, makes a new parent id for each callback (each its own CLIENT span), passes tracestate on, in order', async () => {
    const got = await run({ traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'foo=1,bar=2' }, 3);
    expect(got.map((c) => c.path)).toEqual(['/0', '/1', '/2']);
    for (const c of got) {
      const tp = parse(c.headers.traceparent);
      expect(tp, String(c.headers.traceparent)).not.toBeNull();
      expect(tp![1]).toBe(TRACE);
      expect(tp![2]).not.toBe(PARENT);
      expect(c.headers.tracestate).toBe('foo=1,bar=2');
      expect(c.body).toBe('[]');
    }
    expect(new Set(got.map((c) => parse(c.headers.traceparent)![2])).size).toBe(3);
  });

  it('starts a new trace for a missing or invalid traceparent (version ff, all-zero id)', async () => {
    for (const headers of <Array<Record<string, string>>>[{}, { traceparent: `ff-${TRACE}-${PARENT}-01` }, { traceparent: `00-${'0'.repeat(32)}-${PARENT}-01` }]) {
      const [c] = await run(headers, 1);
      const tp = parse(c!.headers.traceparent);
      expect(tp, JSON.stringify(headers)).not.toBeNull();
      expect(tp![1]).not.toBe(TRACE);
      expect(tp![1]).not.toBe('0'.repeat(32));
    }
  });

  it('refuses instructions that are not a list of http(s) URLs with 400', async () => {
    const r = await request(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ url: 'file:///etc/passwd' }]) });
    expect(r.statusCode).toBe(400);
    await r.body.text();
  });
});
