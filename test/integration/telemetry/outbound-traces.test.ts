// Spans of outbound calls with the real OpenTelemetry SDK (3.x, in-memory exporter,
// SimpleSpanProcessor, flushed before reading) registered globally, against real servers
// on 127.0.0.1 that record the headers they receive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, ROOT_CONTEXT, trace, SpanKind, type Tracer } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { Backend } from '../../helpers/backends.js';
import { testRig } from '../../helpers/rig.js';
import { registerTestSdk, type TestSdk } from '../../helpers/otel-sdk.js';
import { ManualSource } from '../../helpers/manual-source.js';

let sdk: TestSdk;
let tracer: Tracer;
beforeAll(() => {
  sdk = registerTestSdk();
  tracer = trace.getTracer('test');
});
afterAll(() => sdk.shutdown());

const rig = testRig();

/** A backend that records the trace headers of each request, and answers `statuses` in turn (then 200). */
async function recording(id: string, statuses: number[] = []): Promise<Backend & { seen: Array<{ traceparent: string[]; tracestate: string[]; baggage: string[] }> }> {
  const seen: Array<{ traceparent: string[]; tracestate: string[]; baggage: string[] }> = [];
  const backend = await rig.backend({
    id,
    handle: (req, res) => {
      const all = (name: string): string[] => {
        const out: string[] = [];
        for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === name) out.push(req.rawHeaders[i + 1]!);
        return out;
      };
      seen.push({ traceparent: all('traceparent'), tracestate: all('tracestate'), baggage: all('baggage') });
      res.statusCode = statuses.shift() ?? 200;
      res.end(id);
    },
  });
  return Object.assign(backend, { seen });
}

/** The spans of one trace, by parent. */
function childrenOf(spans: ReadableSpan[], parent: ReadableSpan): ReadableSpan[] {
  return spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
}

async function traced<T>(name: string, fn: () => Promise<T>): Promise<{ result: T; traceId: string; spanId: string }> {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      const result = await fn();
      return { result, traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
    } finally {
      span.end();
    }
  });
}

describe('outbound spans', () => {
  it('one INTERNAL call span under the caller, one CLIENT span per try; each try sends its own traceparent, once', async () => {
    const api = await recording('api', [503, 503]);
    const mesh = rig.meshOver({ api: [api] }, {
      config: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'api' },
          spec: { hosts: ['api'], http: [{ name: 'main', route: [{ destination: { host: 'api' } }], retries: { attempts: 3, retryOn: '5xx', perTryTimeout: '5s' } }] },
        },
      ],
    });
    const { result, traceId, spanId } = await traced('caller', async () => {
      const res = await mesh.fetch('http://api/items?id=1');
      await res.text();
      return res.status;
    });
    expect(result).toBe(200);
    const spans = (await sdk.spans()).filter((s) => s.spanContext().traceId === traceId);
    const caller = spans.find((s) => s.spanContext().spanId === spanId)!;
    const calls = childrenOf(spans, caller);
    expect(calls.map((s) => [s.name, s.kind])).toEqual([['mesh GET', SpanKind.INTERNAL]]);
    const call = calls[0]!;
    expect(call.attributes).toMatchObject({
      'proxyless.service': 'api.default.svc.cluster.local',
      'proxyless.virtual_service': 'api',
      'proxyless.route': 'main',
      'proxyless.attempts': 3,
      'proxyless.hedged': false,
      'http.response.status_code': 200,
    });
    expect(call.events.filter((e) => e.name === 'proxyless.retry.backoff').map((e) => e.attributes?.['proxyless.retry.attempt'])).toEqual([2, 3]);
    const tries = childrenOf(spans, call).sort((a, b) => Number(a.attributes['http.request.resend_count'] ?? 0) - Number(b.attributes['http.request.resend_count'] ?? 0));
    expect(tries.map((s) => [s.name, s.kind, s.attributes['http.response.status_code'], s.attributes['http.request.resend_count'], s.attributes['error.type']])).toEqual([
      ['GET', SpanKind.CLIENT, 503, undefined, '503'],
      ['GET', SpanKind.CLIENT, 503, 1, '503'],
      ['GET', SpanKind.CLIENT, 200, 2, undefined],
    ]);
    for (const t of tries) {
      expect(t.attributes).toMatchObject({
        'http.request.method': 'GET',
        'url.full': 'http://api/items?id=1',
        'server.address': 'api',
        'server.port': 80,
        'network.peer.address': '127.0.0.1',
        'network.peer.port': api.port,
      });
    }
    // On the wire: each request carried exactly one traceparent, naming its own try's span.
    expect(api.seen).toHaveLength(3);
    expect(api.seen.map((s) => s.traceparent.length)).toEqual([1, 1, 1]);
    const sent = api.seen.map((s) => s.traceparent[0]!.split('-')[2]);
    expect(new Set(sent)).toEqual(new Set(tries.map((t) => t.spanContext().spanId)));
    expect(api.seen.every((s) => s.traceparent[0]!.split('-')[1] === traceId)).toBe(true);
  });

  it("a call that waited for discovery: the caller's span is still the parent, the try the call span's child", async () => {
    const api = await recording('late');
    const source = new ManualSource('late-registry');
    const mesh = rig.mesh({ discovery: [source] });
    const { result, traceId, spanId } = await traced('caller', async () => {
      const pending = mesh.fetch('http://late/');
      // Answered only once the call waits (its service watches the source), from another async context.
      await new Promise<void>((resolve) => {
        const poll = (): void => (source.watches.size > 0 ? resolve() : void setImmediate(poll));
        poll();
      });
      await context.with(ROOT_CONTEXT, async () => {
        setTimeout(() => source.send('late.default.svc.cluster.local', { type: 'reset', endpoints: [{ address: '127.0.0.1', port: api.port, weight: 1, labels: {} }] }), 0);
      });
      const res = await pending;
      await res.text();
      return res.status;
    });
    expect(result).toBe(200);
    const spans = (await sdk.spans()).filter((s) => s.spanContext().traceId === traceId);
    const caller = spans.find((s) => s.spanContext().spanId === spanId)!;
    const [call] = childrenOf(spans, caller);
    expect(call!.name).toBe('mesh GET');
    expect(childrenOf(spans, call!).map((s) => [s.kind, s.attributes['network.peer.port']])).toEqual([[SpanKind.CLIENT, api.port]]);
  });
});
