// Spans through the mesh's policies with the real SDK registered: hedges, per-try and
// route timeouts, circuit breaker refusals, fault injection, no route, mirrors and
// passthrough hosts. Real servers on 127.0.0.1; spans read after a forceFlush.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { trace, SpanKind, type Tracer } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { staticEndpoints, type Mesh } from 'proxyless';
import { testRig } from '../../helpers/rig.js';
import { registerTestSdk, type TestSdk } from '../../helpers/otel-sdk.js';

let sdk: TestSdk;
let tracer: Tracer;
beforeAll(() => {
  sdk = registerTestSdk();
  tracer = trace.getTracer('test');
});
afterAll(() => sdk.shutdown());

const rig = testRig();

const vs = (http: object[], annotations?: Record<string, string>) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'api', ...(annotations ? { annotations } : {}) },
  spec: { hosts: ['api'], http },
});

/** Runs `fn` under a caller span; returns the spans of its trace once `done(spans)` holds. */
async function traceOf(fn: () => Promise<unknown>, done: (spans: ReadableSpan[]) => boolean = () => true): Promise<{ spans: ReadableSpan[]; root: ReadableSpan }> {
  let traceId = '';
  let rootId = '';
  await tracer.startActiveSpan('caller', async (span) => {
    traceId = span.spanContext().traceId;
    rootId = span.spanContext().spanId;
    try {
      await fn();
    } catch {
      // the call's outcome is read from its spans
    } finally {
      span.end();
    }
  });
  let spans: ReadableSpan[] = [];
  await vi.waitFor(async () => {
    spans = (await sdk.spans()).filter((s) => s.spanContext().traceId === traceId);
    expect(done(spans)).toBe(true);
  }, { timeout: 10_000, interval: 20 });
  return { spans, root: spans.find((s) => s.spanContext().spanId === rootId)! };
}

const children = (spans: ReadableSpan[], parent: ReadableSpan) => spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
const callOf = (spans: ReadableSpan[], root: ReadableSpan) => {
  const calls = children(spans, root).filter((s) => s.name.startsWith('mesh '));
  expect(calls).toHaveLength(1);
  return calls[0]!;
};

async function get(mesh: Mesh, url: string): Promise<number> {
  const res = await mesh.fetch(url);
  await res.arrayBuffer();
  return res.status;
}

describe('spans through the policies', () => {
  it('a hedge: its own CLIENT span marked hedge, the call marked hedged with a hedge.fired event; the lost try ends cancelled', async () => {
    const slow = await rig.backend({ id: 'slow', handle: () => {} });
    const fast = await rig.backend({ id: 'fast' });
    const mesh = rig.meshOver({ api: [slow, fast] }, {
      config: [
        vs([{ route: [{ destination: { host: 'api' } }] }], { 'proxyless.dev/hedging': JSON.stringify({ delay: '200ms', maxExtraPercent: 100 }) }),
        { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api' }, spec: { host: 'api', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } },
      ],
    });
    // Round robin: of two calls, one has its first try on the silent endpoint and is hedged.
    // On a loaded machine the fast endpoint can take longer than the delay too, and that
    // call is hedged to the silent one: such a call is passed over (at most 6 calls).
    let hedgedCall: ReadableSpan | undefined;
    let spans: ReadableSpan[] = [];
    for (let i = 0; i < 6 && hedgedCall === undefined; i++) {
      const got = await traceOf(() => get(mesh, 'http://api/'), (s) => {
        const call = s.find((x) => x.name === 'mesh GET');
        return call !== undefined && children(s, call).length === Number(call.attributes['proxyless.attempts']);
      });
      const call = callOf(got.spans, got.root);
      const firstTry = children(got.spans, call).find((t) => t.attributes['proxyless.hedge'] !== true);
      if (call.attributes['proxyless.hedged'] === true && firstTry?.attributes['network.peer.port'] === slow.port) {
        hedgedCall = call;
        spans = got.spans;
      }
    }
    expect(hedgedCall).toBeDefined();
    expect(hedgedCall!.attributes['proxyless.attempts']).toBe(2);
    expect(hedgedCall!.events.map((e) => e.name)).toContain('proxyless.hedge.fired');
    const tries = children(spans, hedgedCall!);
    const hedge = tries.find((t) => t.attributes['proxyless.hedge'] === true)!;
    const first = tries.find((t) => t !== hedge)!;
    expect(hedge.attributes).toMatchObject({ 'http.request.resend_count': 1, 'network.peer.port': fast.port, 'http.response.status_code': 200 });
    expect(first.attributes).toMatchObject({ 'network.peer.port': slow.port, 'error.type': 'cancelled' });
    expect(hedge.kind).toBe(SpanKind.CLIENT);
  });

  it('a per-try timeout ends its try with error.type naming it; the retry succeeds', async () => {
    let n = 0;
    const api = await rig.backend({ id: 'api', handle: (_req, res) => (n++ === 0 ? undefined : res.end('ok')) });
    const mesh = rig.meshOver({ api: [api] }, {
      config: [vs([{ route: [{ destination: { host: 'api' } }], retries: { attempts: 2, perTryTimeout: '300ms', retryOn: 'reset,5xx' } }])],
    });
    const { spans, root } = await traceOf(() => get(mesh, 'http://api/'), (s) => s.filter((x) => x.kind === SpanKind.CLIENT).length === 2);
    const call = callOf(spans, root);
    const tries = children(spans, call).sort((a, b) => Number(a.attributes['http.request.resend_count'] ?? 0) - Number(b.attributes['http.request.resend_count'] ?? 0));
    expect(tries.map((t) => t.attributes['error.type'])).toEqual(['PROXYLESS_ERR_PER_TRY_TIMEOUT', undefined]);
    expect(call.attributes['http.response.status_code']).toBe(200);
    expect(call.attributes['proxyless.response_flags']).toBeUndefined();
  });

  it('a route timeout: the call ends with UT and an error status', async () => {
    const api = await rig.backend({ id: 'api', handle: () => {} });
    const mesh = rig.meshOver({ api: [api] }, { config: [vs([{ route: [{ destination: { host: 'api' } }], timeout: '200ms' }])] });
    const { spans, root } = await traceOf(() => get(mesh, 'http://api/'));
    const call = callOf(spans, root);
    expect(call.attributes['proxyless.response_flags']).toBe('UT');
    expect(call.status.code).toBe(2);
  });

  it('fault abort: FI and the fault status, no CLIENT span; no route: NR and 404', async () => {
    const api = await rig.backend({ id: 'api' });
    const mesh = rig.meshOver({ api: [api] }, {
      config: [vs([{ match: [{ uri: { prefix: '/faulty' } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }, route: [{ destination: { host: 'api' } }] }])],
    });
    const faulty = await traceOf(() => get(mesh, 'http://api/faulty'));
    const call = callOf(faulty.spans, faulty.root);
    expect(call.attributes).toMatchObject({ 'proxyless.response_flags': 'FI', 'http.response.status_code': 418, 'proxyless.attempts': 0 });
    expect(children(faulty.spans, call)).toEqual([]);
    const none = await traceOf(() => get(mesh, 'http://api/other'));
    expect(callOf(none.spans, none.root).attributes).toMatchObject({ 'proxyless.response_flags': 'NR', 'http.response.status_code': 404 });
    expect(api.requests).toBe(0);
  });

  it('an open circuit breaker: the call fails with UO and its circuit state, no try reaches the wire', async () => {
    const api = await rig.backend({ id: 'api', handle: (_req, res) => { res.statusCode = 500; res.end(); } });
    const mesh = rig.meshOver({ api: [api] }, {
      config: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'api', annotations: { 'proxyless.dev/circuit-breaker': JSON.stringify({ volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeout: '1h' }) } },
          spec: { host: 'api' },
        },
      ],
    });
    const opened = new Promise((resolve) => mesh.once('circuitOpen', resolve));
    for (let i = 0; i < 3; i++) await get(mesh, 'http://api/');
    await opened;
    const before = api.requests;
    const { spans, root } = await traceOf(() => get(mesh, 'http://api/'));
    const call = callOf(spans, root);
    expect(call.attributes['proxyless.circuit_breaker.state']).toBe('open');
    expect(String(call.attributes['proxyless.response_flags'])).toContain('UO');
    expect(call.attributes['error.type']).toBe('PROXYLESS_ERR_CIRCUIT_OPEN');
    expect(children(spans, call)).toEqual([]);
    expect(api.requests).toBe(before);
  });

  it('a mirror: its own call span marked mirror under the call, its own CLIENT span and traceparent', async () => {
    const api = await rig.backend({ id: 'api' });
    const shadowHeaders: string[][] = [];
    const shadow = await rig.backend({ id: 'shadow', handle: (req, res) => { shadowHeaders.push(req.rawHeaders); res.end('shadow'); } });
    const mesh = rig.meshOver({ api: [api], shadow: [shadow] }, {
      config: [vs([{ route: [{ destination: { host: 'api' } }], mirror: { host: 'shadow' }, mirrorPercentage: { value: 100 } }])],
    });
    const { spans, root } = await traceOf(() => get(mesh, 'http://api/'), (s) => s.filter((x) => x.name === 'mesh GET').length === 2 && s.filter((x) => x.kind === SpanKind.CLIENT).length === 2);
    const call = callOf(spans, root);
    const mirrors = children(spans, call).filter((s) => s.name === 'mesh GET');
    expect(mirrors).toHaveLength(1);
    expect(mirrors[0]!.attributes).toMatchObject({ 'proxyless.mirror': true, 'proxyless.service': 'shadow.default.svc.cluster.local' });
    const mirrorTry = children(spans, mirrors[0]!);
    expect(mirrorTry.map((s) => [s.kind, s.attributes['proxyless.mirror'], s.attributes['network.peer.port']])).toEqual([[SpanKind.CLIENT, true, shadow.port]]);
    const tp = shadowHeaders[0]!.filter((_, i, a) => i % 2 === 1 && a[i - 1]!.toLowerCase() === 'traceparent');
    expect(tp).toEqual([expect.stringContaining(mirrorTry[0]!.spanContext().spanId)]);
  });

  it('a passthrough host (ALLOW_ANY): traced with proxyless.passthrough and its context propagated', async () => {
    const seen: string[][] = [];
    const outside = await rig.backend({ id: 'outside', handle: (req, res) => { seen.push(req.rawHeaders); res.end('x'); } });
    const mesh = rig.mesh({ discovery: [staticEndpoints({})] });
    const { spans, root } = await traceOf(() => get(mesh, `http://127.0.0.1:${outside.port}/x`));
    const call = callOf(spans, root);
    expect(call.attributes).toMatchObject({ 'proxyless.passthrough': true, 'proxyless.balancer': 'passthrough' });
    const tries = children(spans, call);
    expect(tries.map((s) => [s.kind, s.attributes['network.peer.address'], s.attributes['network.peer.port'], s.attributes['http.response.status_code']])).toEqual([[SpanKind.CLIENT, '127.0.0.1', outside.port, 200]]);
    const tp = seen[0]!.filter((_, i, a) => i % 2 === 1 && a[i - 1]!.toLowerCase() === 'traceparent');
    expect(tp).toEqual([`00-${call.spanContext().traceId}-${tries[0]!.spanContext().spanId}-01`]);
  });
});
